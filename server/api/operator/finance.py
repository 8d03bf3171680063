"""Settlement and finance reports: closed days, statements (JSON, CSV, PDF), reports with CSV export."""

from __future__ import annotations

from flask import request
from flask.views import MethodView

from server.api.auth import STAFF_SECURITY, Actor, require_staff, staff_only
from server.api.blueprint import Blueprint
from server.api.finance_schemas import (
    CloseDaySchema,
    DayReportSchema,
    LevelReportSchema,
    MerchantReportSchema,
    PaymentSchema,
    PointsLotSchema,
    PointsReportSchema,
    ReportQuerySchema,
    SettlementDaySchema,
    SettlementSchema,
    StatementQuerySchema,
    StatementSchema,
)
from server.api.idempotent import IDEMPOTENCY_PARAMETER, idempotent
from server.exports import MIMETYPES, download, schema_download
from server.replica import reading_replica
from server.services import finance, points, settlement
from server.services.catalog import get_merchant
from server.services.members import get_member

blp = Blueprint("operator_finance", __name__, url_prefix="/api/v1", description="Settlement and finance reports")
blp.before_request(staff_only)


def alternative_content(*mimetypes: str) -> dict:
    """OpenAPI doc of the other media types a 200 response comes in (a new dict each time: smorest merges in place)."""
    schemas = {
        "text/csv": {"type": "string"},
        MIMETYPES["xlsx"]: {"type": "string", "format": "binary"},
        "application/pdf": {"type": "string", "format": "binary"},
    }
    return {200: {"content": {mimetype: {"schema": dict(schemas[mimetype])} for mimetype in mimetypes}}}


def _scoped(actor: Actor, filters: dict) -> dict:
    """Merchant staff see their own merchant only, whatever they asked for."""
    return actor.confine(filters)


def _wanted_format(asked: str, offered: tuple[str, ...]) -> str:
    if asked != "json":
        return asked
    mimetypes = {"json": "application/json", "csv": "text/csv", "xlsx": MIMETYPES["xlsx"], "pdf": "application/pdf"}
    best = request.accept_mimetypes.best_match([mimetypes[name] for name in offered], default="application/json")
    return next(name for name in offered if mimetypes[name] == best)


def _report(rows: list[dict], schema, filters: dict, name: str, skip: tuple[str, ...] = ()):
    fmt = _wanted_format(filters["format"], ("json", "csv", "xlsx"))
    if fmt != "json":
        return schema_download(rows, schema, fmt, name, skip)
    return rows


_SETTLEMENT_COLUMNS = tuple(SettlementSchema().fields)  # built once, not per listed row


def _settlement_row(found, merchant_name: str) -> dict:
    return {
        **{column: getattr(found, column) for column in _SETTLEMENT_COLUMNS if hasattr(found, column)},
        "merchant_name": merchant_name,
        "paid": found.paid_at is not None,
    }


@blp.route("/settlements")
class Settlements(MethodView):
    @blp.doc(security=STAFF_SECURITY, responses=alternative_content("text/csv", MIMETYPES["xlsx"]))
    @blp.arguments(ReportQuerySchema, location="query")
    @blp.response(200, SettlementSchema(many=True))
    def get(self, filters):
        """Closed settlements by day range (default: the last closed day; at most 92 days) and merchant; CSV too.

        Give both day_from and day_to, or neither.

        Merchant owners see their own merchant's only.
        """
        actor = require_staff("settlement:read")
        rows = [_settlement_row(found, name) for found, name in settlement.list_settlements(_scoped(actor, filters))]
        return _report(rows, SettlementSchema, filters, "settlements", ("paid_by",))


@blp.route("/settlements/closings")
class SettlementClosings(MethodView):
    @blp.doc(security=STAFF_SECURITY, parameters=[IDEMPOTENCY_PARAMETER])
    @blp.arguments(CloseDaySchema)
    @blp.response(201, SettlementDaySchema)
    def post(self, args):
        """Close a business day for every merchant (finance); closing a closed day changes nothing (idempotent)."""
        actor = require_staff("settlement:close")

        def close():
            result = settlement.close_day(actor.key, args["business_day"])
            return {**vars(result.day), "closed_now": result.closed_now}

        return idempotent(actor, close)


@blp.route("/settlements/<settlement_id>")
class SettlementStatement(MethodView):
    @blp.doc(
        security=STAFF_SECURITY,
        responses=alternative_content("text/csv", MIMETYPES["xlsx"], "application/pdf"),
    )
    @blp.arguments(StatementQuerySchema, location="query")
    @blp.response(200, StatementSchema)
    def get(self, args, settlement_id):
        """A merchant's statement of one closed day down to each sale: JSON, CSV, XLSX or printable PDF.

        The lines (sales, refunds, then the day's service fee on net member sales) add up to the net
        position. The PDF shows the merchant's settlement account, in full only to finance.
        """
        actor = require_staff("settlement:read")
        fmt = _wanted_format(args["format"], ("json", "csv", "xlsx", "pdf"))
        if fmt != "json":
            reveal = actor.merchant_id is None and actor.can("settlement:close")
            content, filename, mimetype = finance.render_statement(settlement_id, actor.merchant_id, fmt, reveal)
            return download(content, mimetype, filename)
        detail = finance.settlement_detail(settlement_id, actor.merchant_id)
        return {"settlement": _settlement_row(detail["settlement"], detail["merchant_name"]), "lines": detail["lines"]}


@blp.route("/settlements/<settlement_id>/payment")
class SettlementPayment(MethodView):
    @blp.doc(security=STAFF_SECURITY, parameters=[IDEMPOTENCY_PARAMETER])
    @blp.arguments(PaymentSchema)
    @blp.response(200, SettlementSchema)
    def post(self, args, settlement_id):
        """Mark a statement paid, with the transfer's reference, or unpaid again (finance; audited).

        Marking paid what is paid already keeps the first payment time.
        """
        actor = require_staff("settlement:close")

        def mark():
            found = settlement.set_payment(actor.key, settlement_id, args["paid"], args["reference"])
            return _settlement_row(found, get_merchant(found.merchant_id).name)

        return idempotent(actor, mark)


@blp.route("/reports/merchants")
class MerchantsReport(MethodView):
    @blp.doc(security=STAFF_SECURITY, responses=alternative_content("text/csv", MIMETYPES["xlsx"]))
    @blp.arguments(ReportQuerySchema, location="query")
    @blp.response(200, MerchantReportSchema(many=True))
    def get(self, filters):
        """Per merchant over the closed days in range: points, fees, net position (owners: their own)."""
        actor = require_staff("settlement:read")
        scoped = _scoped(actor, filters)
        with reading_replica():
            rows = finance.merchants_report(scoped)
        return _report(rows, MerchantReportSchema, filters, "merchants")


@blp.route("/reports/days")
class DaysReport(MethodView):
    @blp.doc(security=STAFF_SECURITY, responses=alternative_content("text/csv", MIMETYPES["xlsx"]))
    @blp.arguments(ReportQuerySchema, location="query")
    @blp.response(200, DayReportSchema(many=True))
    def get(self, filters):
        """Per closed business day: totals over all merchants (owners: their own merchant's)."""
        actor = require_staff("settlement:read")
        scoped = _scoped(actor, filters)
        with reading_replica():
            rows = finance.days_report(scoped)
        return _report(rows, DayReportSchema, filters, "days")


@blp.route("/reports/levels")
class LevelsReport(MethodView):
    @blp.doc(security=STAFF_SECURITY, responses=alternative_content("text/csv", MIMETYPES["xlsx"]))
    @blp.arguments(ReportQuerySchema, location="query")
    @blp.response(200, LevelReportSchema(many=True))
    def get(self, filters):
        """Sales by member level over the business days in range (owners: at their merchant)."""
        actor = require_staff("settlement:read")
        scoped = _scoped(actor, filters)
        with reading_replica():
            rows = finance.levels_report(scoped)
        return _report(rows, LevelReportSchema, filters, "levels")


@blp.route("/reports/points")
class PointsReport(MethodView):
    @blp.doc(security=STAFF_SECURITY, responses=alternative_content("text/csv", MIMETYPES["xlsx"]))
    @blp.arguments(ReportQuerySchema, location="query")
    @blp.response(200, PointsReportSchema)
    def get(self, filters):
        """Points outstanding (liability), breakage and redemption rate, alliance-wide (operators)."""
        require_staff("reports:read")
        with reading_replica():
            report = finance.points_report()
        fmt = _wanted_format(filters["format"], ("json", "csv", "xlsx"))
        if fmt != "json":
            return schema_download([report], PointsReportSchema, fmt, "points")
        return report


@blp.route("/members/<member_id>/points-lots")
class MemberPointsLots(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.response(200, PointsLotSchema(many=True))
    def get(self, member_id):
        """A member's points lots still holding points, closest expiry first (a short list, not paginated)."""
        require_staff("ledger:read")
        return points.member_lots(get_member(member_id).id)
