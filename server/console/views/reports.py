"""Finance reports: by merchant, by day (with a chart of the net position), by level, and points
(liability, breakage, redemption rate); each as a table and as CSV, from the same services as the API."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import Blueprint, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from server.console import charts, navigation
from server.console.access import can, merchant_names, merchant_scope, operators_only, permission_required
from server.console.views.settlement import finance_filters
from server.exports import schema_download
from server.formatting import yuan
from server.replica import reading_replica
from server.report_schemas import DayReportSchema, LevelReportSchema, MerchantReportSchema, PointsReportSchema
from server.services import finance

blp = Blueprint("reports", __name__)
navigation.add(
    navigation.NavItem("console.reports.index", _l("Reports"), "bar-chart-line", "settlement:read", order=58)
)


@dataclass(frozen=True)
class Report:
    """A tabular report: its service, the API schema (the CSV columns) and the columns shown on the page."""

    title: object
    rows: Callable[[dict], list[dict]]
    schema: type
    columns: tuple[tuple[str, object, str], ...]  # (key, label, kind: text/date/int/yuan/net)
    note: object


def _money_columns(*extra: tuple[str, object, str]) -> tuple[tuple[str, object, str], ...]:
    return (
        *extra,
        ("sales_count", _l("Sales"), "int"),
        ("member_sales_fen", _l("Member sales"), "yuan"),
        ("refunds_fen", _l("Refunds"), "yuan"),
        ("points_granted", _l("Points granted"), "int"),
        ("granted_value_fen", _l("Granted value"), "yuan"),
        ("points_accepted", _l("Points accepted"), "int"),
        ("accepted_value_fen", _l("Accepted value"), "yuan"),
        ("service_fee_fen", _l("Service fee"), "yuan"),
        ("net_fen", _l("Net position"), "net"),
    )


SETTLED_NOTE = _l("From the closed business days in the range.")
REPORTS = {
    "merchants": Report(
        _l("By merchant"),
        finance.merchants_report,
        MerchantReportSchema,
        _money_columns(("merchant_name", _l("Merchant"), "text"), ("days", _l("Days"), "count")),
        SETTLED_NOTE,
    ),
    "days": Report(
        _l("By day"),
        finance.days_report,
        DayReportSchema,
        _money_columns(("business_day", _l("Business day"), "date"), ("merchants", _l("Merchants"), "count")),
        SETTLED_NOTE,
    ),
    "levels": Report(
        _l("By level"),
        finance.levels_report,
        LevelReportSchema,
        (
            ("level_name", _l("Level"), "text"),
            ("sales_count", _l("Sales"), "int"),
            ("amount_fen", _l("Amount"), "yuan"),
            ("discount_fen", _l("Discount"), "yuan"),
            ("member_sales_fen", _l("Member sales"), "yuan"),
            ("refunded_fen", _l("Refunded"), "yuan"),
            ("points_earned", _l("Points earned"), "int"),
            ("points_redeemed", _l("Points redeemed"), "int"),
        ),
        _l("From the sales recorded in the business days of the range."),
    ),
}


def _totals(report: Report, rows: list[dict]) -> dict:
    return {
        key: sum(row[key] for row in rows) for key, _label, kind in report.columns if kind in {"int", "yuan", "net"}
    }


def _net_chart(rows: list[dict]):
    labels = [row["business_day"].strftime("%m-%d") for row in rows]
    return charts.daily_bars(
        _("Net position by day (positive: the alliance pays the merchants)"),
        labels,
        {_("Net position"): [row["net_fen"] for row in rows]},
        formatter=lambda value: yuan(round(value)),  # pygal hands axis positions as floats
        no_data=_("No closed days yet"),
        unit=100,
    )


@blp.route("/reports")
@permission_required("settlement:read")
def index():
    """The first report."""
    return redirect(url_for(".table", name="merchants"))


@blp.route("/reports/<any(merchants, days, levels):name>")
@permission_required("settlement:read")
def table(name):
    """A report as a table over a range of business days (merchant staff: their own merchant)."""
    report = REPORTS[name]
    filters = finance_filters()
    with reading_replica():
        rows = report.rows(filters)
    return render_template(
        "console/reports/table.html",
        name=name,
        report=report,
        reports=REPORTS,
        rows=rows,
        totals=_totals(report, rows),
        merchants=merchant_names(),
        chart=_net_chart(rows) if name == "days" and rows else None,
        show_points=can("reports:read") and merchant_scope() is None,
    )


@blp.route("/reports/<any(merchants, days, levels):name>.<any(csv, xlsx):fmt>")
@permission_required("settlement:read")
def export(name, fmt):
    """A report as one table, CSV or XLSX (the API's columns)."""
    report = REPORTS[name]
    filters = finance_filters()
    with reading_replica():
        rows = report.rows(filters)
    return schema_download(rows, report.schema, fmt, name)


@blp.route("/reports/points")
@permission_required("reports:read")
@operators_only
def points():
    """Points outstanding (the alliance's liability), breakage, redemption rate and points expiring soon."""
    with reading_replica():
        report = finance.points_report()
    return render_template(
        "console/reports/points.html", name="points", reports=REPORTS, report=report, show_points=True
    )


@blp.route("/reports/points.<any(csv, xlsx):fmt>")
@permission_required("reports:read")
@operators_only
def points_export(fmt):
    """The points report as one table, CSV or XLSX."""
    with reading_replica():
        report = finance.points_report()
    return schema_download([report], PointsReportSchema, fmt, "points")
