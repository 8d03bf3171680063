"""The dashboard: today and the last 30 days at a glance, for the alliance or for one merchant."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from server.console import charts, navigation
from server.console.access import merchant_scope
from server.console.display import level_label, percent
from server.formatting import yuan
from server.services.catalog import get_merchant
from server.services.dashboard import build_dashboard

blp = Blueprint("dashboard", __name__)
navigation.add(navigation.NavItem("console.dashboard.index", _l("Dashboard"), "speedometer2", order=0))


@blp.route("/")
def index():
    """Figures and charts for the user's scope."""
    scope = merchant_scope()
    figures = build_dashboard(scope)
    labels = [day.day.strftime("%m-%d") for day in figures.days]
    no_data = _("No data yet")
    chart = {
        "sales": charts.daily_bars(
            _("Member sales per day (net of refunds)"),
            labels,
            {_("Sales"): [day.sales_fen / 100 for day in figures.days]},
            formatter=lambda value: f"¥{format_decimal(value, format='#,##0.00')}",
            no_data=no_data,
        ),
        "members": charts.daily_bars(
            _("New members per day") if scope is None else _("Members recruited per day"),
            labels,
            {_("New members"): [day.new_members for day in figures.days]},
            no_data=no_data,
            counts=True,
            size=charts.NARROW,
        ),
        "points": charts.daily_lines(
            _("Points granted and redeemed per day"),
            labels,
            {
                _("Granted"): [day.points_earned for day in figures.days],
                _("Redeemed"): [day.points_redeemed for day in figures.days],
            },
            no_data=no_data,
        ),
        "top": charts.ranking(
            _("Top merchants (30 days)") if scope is None else _("Sales by terminal (30 days)"),
            figures.top,
            formatter=lambda value: yuan(int(value)),
            no_data=no_data,
        ),
        "levels": charts.shares(
            _("Members per level") if scope is None else _("Customers per level (30 days)"),
            [(level_label(level), count) for level, count in figures.members_per_level if count],
            no_data=no_data,
        ),
    }
    merchant = get_merchant(scope) if scope else None
    rate = figures.redemption_rate_bp
    return render_template(
        "console/dashboard.html",
        figures=figures,
        chart=chart,
        merchant=merchant,
        redemption_rate=percent(rate) if rate is not None else "–",
    )


@blp.route("/dashboard")
def alias():
    """Old links to /console/dashboard."""
    return redirect(url_for("console.dashboard.index"))
