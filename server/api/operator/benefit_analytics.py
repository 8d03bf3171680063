"""Benefit analytics: codes issued / claimed / redeemed / expired by group, and retention cohorts (JSON, CSV, XLSX)."""

from __future__ import annotations

from datetime import date

from flask.views import MethodView

from server.api.auth import STAFF_SECURITY, require_staff, staff_only
from server.api.benefit_analytics_schemas import (
    BenefitAnalyticsQuerySchema,
    BenefitRetentionQuerySchema,
    BenefitRetentionRowSchema,
    BenefitSummaryRowSchema,
)
from server.api.blueprint import Blueprint
from server.api.operator.finance import _wanted_format, alternative_content
from server.benefit_report_schemas import RETENTION_COLUMNS, SUMMARY_COLUMNS
from server.exports import MIMETYPES, table_download
from server.services import benefit_analytics

blp = Blueprint(
    "operator_benefit_analytics", __name__, url_prefix="/api/v1", description="Benefit analytics and retention"
)
blp.before_request(staff_only)


def _month(text: str | None) -> date | None:
    return date.fromisoformat(f"{text}-01") if text else None


@blp.route("/benefit-analytics")
class BenefitAnalytics(MethodView):
    @blp.doc(security=STAFF_SECURITY, responses=alternative_content("text/csv", MIMETYPES["xlsx"]))
    @blp.arguments(BenefitAnalyticsQuerySchema, location="query")
    @blp.response(200, BenefitSummaryRowSchema(many=True))
    def get(self, args):
        """Codes issued, claimed, redeemed and expired in a range of days, with their cost and redemption rate,
        by SKU, channel, campaign, merchant (where redeemed) or agent (docs/benefits.md, "Analytics")."""
        require_staff("benefits:read")
        rows = benefit_analytics.benefit_summary(
            args.get("day_from"), args.get("day_to"), args.get("sku_id"), args["group_by"]
        )
        fmt = _wanted_format(args["format"], ("json", "csv", "xlsx"))
        if fmt != "json":
            return table_download(SUMMARY_COLUMNS, rows, fmt, f"benefit-analytics-{args['group_by']}")
        return rows


@blp.route("/benefit-retention")
class BenefitRetention(MethodView):
    @blp.doc(security=STAFF_SECURITY, responses=alternative_content("text/csv", MIMETYPES["xlsx"]))
    @blp.arguments(BenefitRetentionQuerySchema, location="query")
    @blp.response(200, BenefitRetentionRowSchema(many=True))
    def get(self, args):
        """Retention: cohorts by the month of the members' first benefit, the share who came back and spent within
        30 / 60 / 90 days against comparable members without a benefit (same level and city, active in the 90
        days before the month), and the uplift; one row per cohort and horizon."""
        require_staff("benefits:read")
        cohorts = benefit_analytics.retention(_month(args.get("month_from")), _month(args.get("month_to")))
        rows = benefit_analytics.retention_rows(cohorts)
        fmt = _wanted_format(args["format"], ("json", "csv", "xlsx"))
        if fmt != "json":
            return table_download(RETENTION_COLUMNS, rows, fmt, "benefit-retention")
        return rows
