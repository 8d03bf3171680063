"""The dashboard: the figures an operator starts the day with, and charts over a chosen range of days."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from server.console import charts, navigation
from server.console.access import can, merchant_scope
from server.console.display import level_label, percent
from server.domain.errors import DomainError
from server.formatting import yuan
from server.replica import reading_replica
from server.services.catalog import get_merchant
from server.services.dashboard import PRESET_DAYS, build_dashboard, choose_range
from server.services.points import alliance_today

blp = Blueprint("dashboard", __name__)
navigation.add(navigation.NavItem("console.dashboard.index", _l("Dashboard"), "speedometer2", order=0))


def _charts(figures, scope: str | None) -> dict:
    labels = [day.day.strftime("%m-%d") for day in figures.days]
    no_data = _("No data yet")
    period = _("%(first)s to %(last)s", first=figures.first.isoformat(), last=figures.last.isoformat())
    return {
        "sales": charts.daily_bars(
            _("Member sales per day (net of refunds)"),
            labels,
            {_("Sales"): [day.sales_fen for day in figures.days]},
            formatter=lambda value: yuan(round(value)),  # fen; pygal hands axis positions as floats
            no_data=no_data,
            unit=100,
        ),
        "members": charts.daily_bars(
            _("New members per day") if scope is None else _("Members recruited per day"),
            labels,
            {_("New members"): [day.new_members for day in figures.days]},
            formatter=lambda value: str(round(value)),
            no_data=no_data,
            size=charts.NARROW,
        ),
        "points": charts.daily_lines(
            _("Points granted and redeemed per day"),
            labels,
            {
                _("Granted"): [day.points_earned for day in figures.days],
                _("Redeemed"): [day.points_redeemed for day in figures.days],
            },
            formatter=lambda value: str(round(value)),
            no_data=no_data,
        ),
        "top": charts.ranking(
            (_("Top merchants") if scope is None else _("Sales by terminal")) + f" ({period})",
            figures.top,
            formatter=lambda value: yuan(int(value)),
            no_data=no_data,
        ),
        "levels": charts.shares(
            _("Members per level") if scope is None else _("Customers per level"),
            [(level_label(level), count) for level, count in figures.members_per_level if count],
            no_data=no_data,
        ),
    }


@blp.route("/")
def index():
    """Morning figures and charts for the user's scope over 7, 30 or 90 days or a chosen range."""
    scope = merchant_scope()
    today = alliance_today()
    asked = {name: request.args.get(name, "").strip() for name in ("days", "from", "to")}
    error, status = None, 200
    try:
        first, last = choose_range(today, asked["days"], asked["from"], asked["to"])
    except DomainError as exc:  # reported on the page; the charts show the default 30 days meanwhile
        error, status = _(exc.message), 422
        first, last = choose_range(today)
    with reading_replica():  # lag-tolerant figures; the page says how far behind they are
        figures = build_dashboard(scope, first=first, last=last)
    rate = figures.redemption_rate_bp
    return (
        render_template(
            "console/dashboard.html",
            figures=figures,
            morning=figures.morning,
            chart=_charts(figures, scope),
            merchant=get_merchant(scope) if scope else None,
            redemption_rate=percent(rate) if rate is not None else "–",
            presets=PRESET_DAYS,
            asked=asked,
            range_error=error,
            custom=bool(asked["from"] or asked["to"]),
            may_see_cards=can("cards:read"),
        ),
        status,
    )


@blp.route("/dashboard")
def alias():
    """Old links to /console/dashboard."""
    return redirect(url_for("console.dashboard.index"))
