"""Benefit analytics in the console (权益 group): what was given out and used, by group, and retention
cohorts with charts; each table also as CSV or XLSX (the API's columns, Chinese headers)."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from server.benefit_report_schemas import RETENTION_COLUMNS, SUMMARY_COLUMNS
from server.console import charts, navigation
from server.console.access import operators_only, permission_required
from server.console.paging import report_invalid_filter
from server.console.views.settlement import day_arg
from server.domain.benefit_retention import FIRST_MONTH, HORIZONS, LAST_MONTH, rate_bp
from server.exports import table_download
from server.services import benefit_analytics, benefit_catalog

READ = "benefits:read"
blp = Blueprint("benefit_analytics", __name__)
for endpoint, label, icon in (
    ("console.benefit_analytics.summary", _l("Benefit analytics"), "bar-chart"),
    ("console.benefit_analytics.retention", _l("Benefit retention"), "arrow-repeat"),
):  # right after the benefit distribution pages (registered after them, same order)
    navigation.add(navigation.NavItem(endpoint, label, icon, READ, order=79, operators_only=True, group=_l("Benefits")))

GROUP_LABELS = {
    "sku": _l("By SKU"),
    "channel": _l("By channel"),
    "campaign": _l("By campaign"),
    "merchant": _l("By merchant"),
    "agent": _l("By agent"),
}
TOP_IN_CHART = 8
COUNTS = (
    ("issued", _l("Codes issued")),
    ("claimed", _l("Codes claimed")),
    ("redeemed", _l("Codes redeemed")),
    ("expired", _l("Codes expired")),
)


def _short(name: str, length: int = 10) -> str:
    """A group's name short enough for an axis label (the table has it in full)."""
    return name if len(name) <= length else name[: length - 1] + "…"


def _summary_filters() -> dict:
    group_by = request.args.get("group_by", "sku")
    if group_by not in GROUP_LABELS:
        report_invalid_filter(_("Group by"), group_by)
        group_by = "sku"
    day_from, day_to = day_arg("from"), day_arg("to")
    if day_from and day_to and day_from > day_to:
        report_invalid_filter(_("From"), day_from.isoformat())
        day_from = None
    return {"day_from": day_from, "day_to": day_to, "sku_id": request.args.get("sku_id") or None, "group_by": group_by}


def _month_arg(name: str, label: str) -> date | None:
    value = request.args.get(name, "").strip()
    if not value:
        return None
    try:
        month = date.fromisoformat(f"{value}-01")
    except ValueError:
        month = None
    if month is None or not FIRST_MONTH <= month <= LAST_MONTH:
        report_invalid_filter(label, value)
        return None
    return month


@blp.route("/benefits/analytics")
@permission_required(READ)
@operators_only
def summary():
    """Codes issued, claimed, redeemed and expired with cost and redemption rate, by the chosen group."""
    filters = _summary_filters()
    rows = benefit_analytics.benefit_summary(**filters)
    totals = {
        key: sum(row[key] for row in rows)
        for key in ("issued", "claimed", "redeemed", "expired", "redeemed_of_issued", "cost_fen")
    }
    chart = None
    if rows:
        shown = rows[:TOP_IN_CHART]
        chart = charts.daily_bars(
            _("Codes by %(group)s", group=GROUP_LABELS[filters["group_by"]]),
            [_short(row["name"]) for row in shown],
            {str(label): [row[key] for row in shown] for key, label in COUNTS},
        )
    return render_template(
        "console/benefits/analytics.html",
        rows=rows,
        totals=totals,
        total_rate=rate_bp(totals["redeemed_of_issued"], totals["issued"]),
        filters=filters,
        groups=GROUP_LABELS,
        skus=benefit_catalog.list_skus(),
        chart=chart,
    )


@blp.route("/benefits/analytics.<any(csv, xlsx):fmt>")
@permission_required(READ)
@operators_only
def summary_export(fmt):
    """The summary table as CSV or XLSX."""
    filters = _summary_filters()
    rows = benefit_analytics.benefit_summary(**filters)
    return table_download(SUMMARY_COLUMNS, rows, fmt, f"benefit-analytics-{filters['group_by']}")


def _cohorts():
    month_from, month_to = _month_arg("from", _("From")), _month_arg("to", _("To"))
    if month_from and month_to and month_from > month_to:
        report_invalid_filter(_("From"), month_from.strftime("%Y-%m"))
        month_from = None
    return benefit_analytics.retention(month_from, month_to)


def _retention_charts(cohorts) -> list:
    labels = [cohort.month.strftime("%Y-%m") for cohort in cohorts]
    out = []
    for days in HORIZONS:
        series = {
            _("With a benefit (matched)"): [cohort.horizon(days).matched_rate_bp for cohort in cohorts],
            _("Comparison"): [cohort.horizon(days).comparison_rate_bp for cohort in cohorts],
        }
        out.append(charts.rate_chart(_("Came back within %(days)s days", days=days), labels, series))
    uplift = {
        _("%(days)s days", days=days): [cohort.horizon(days).uplift_bp for cohort in cohorts] for days in HORIZONS
    }
    out.append(charts.rate_chart(_("Uplift (percentage points)"), labels, uplift, lines=True))
    return out


@blp.route("/benefits/retention")
@permission_required(READ)
@operators_only
def retention():
    """Retention cohorts: return rates within 30 / 60 / 90 days against comparable members, and the uplift."""
    cohorts = _cohorts()
    rows = benefit_analytics.retention_rows(cohorts)
    observed = any(row["treated"] for row in rows)
    return render_template(
        "console/benefits/retention.html",
        rows=rows,
        charts=_retention_charts(cohorts) if observed else [],
        month_from=request.args.get("from", ""),
        month_to=request.args.get("to", ""),
    )


@blp.route("/benefits/retention.<any(csv, xlsx):fmt>")
@permission_required(READ)
@operators_only
def retention_export(fmt):
    """The retention table (one row per cohort and horizon) as CSV or XLSX."""
    return table_download(RETENTION_COLUMNS, benefit_analytics.retention_rows(_cohorts()), fmt, "benefit-retention")
