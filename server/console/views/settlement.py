"""Settlement: closed business days by merchant with totals, statements down to each sale (CSV and PDF),
closing a day (finance) and the reconciliation check, all through the same services as the REST API."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from server.console import navigation
from server.console.access import (
    can,
    current_actor,
    merchant_names,
    merchant_scope,
    operators_only,
    permission_required,
)
from server.console.display import domain_message
from server.console.forms import CloseDayForm
from server.console.once import new_key, run_once
from server.console.paging import date_arg, page_from_request
from server.domain.errors import DomainError
from server.exports import download
from server.extensions import db
from server.models import SettlementDay
from server.services import finance, reconciliation, settlement
from server.services.finance import SUMMED

blp = Blueprint("settlement", __name__)
navigation.add(
    navigation.NavItem("console.settlement.index", _l("Settlement"), "cash-coin", "settlement:read", order=57)
)


def day_arg(name: str) -> date | None:
    """A ``YYYY-MM-DD`` query argument (None when missing; a mistyped one is reported)."""
    return date_arg(name, _("From") if name == "from" else _("To"))


def finance_filters() -> dict:
    """Day range and merchant from the query string (``from``, ``to``, ``merchant_id``); merchant staff: their own."""
    return {
        "day_from": day_arg("from"),
        "day_to": day_arg("to"),
        "merchant_id": merchant_scope() or request.args.get("merchant_id") or None,
    }


def _close_form(form: CloseDayForm | None = None) -> CloseDayForm:
    if form is None:
        form = CloseDayForm(formdata=None, once=new_key())
        form.business_day.data = settlement.last_ended_business_day()
    return form


def _last_closed() -> SettlementDay | None:
    return db.session.scalar(select(SettlementDay).order_by(SettlementDay.business_day.desc()).limit(1))


@blp.route("/settlements")
@permission_required("settlement:read")
def index(close_form: CloseDayForm | None = None, status: int = 200):
    """Settlements by business day and merchant (default: the last closed day), with their totals."""
    filters = finance_filters()
    try:
        found = settlement.list_settlements(filters)
    except DomainError as exc:
        flash(domain_message(exc), "danger")
        found = []
    totals = {name: sum(getattr(row, name) for row, _name in found) for name in SUMMED}
    page = page_from_request(100)
    page.item_count = len(found)
    shown = found[(page.page - 1) * page.page_size : page.page * page.page_size]
    return (
        render_template(
            "console/settlement/index.html",
            settlements=shown,
            totals=totals,
            page=page,
            merchants=merchant_names(),
            last_closed=_last_closed(),
            close_form=_close_form(close_form) if can("settlement:close") else None,
        ),
        status,
    )


@blp.route("/settlements/close", methods=["POST"])
@permission_required("settlement:close")
def close():
    """Close a business day for every merchant; closing a closed day changes nothing and says so."""
    form = CloseDayForm()
    if not form.validate_on_submit():
        return index(form, 422)
    day = form.business_day.data
    try:
        done = run_once(
            form.once.data, lambda: {"closed_now": settlement.close_day(current_actor().key, day).closed_now}
        )
    except DomainError as exc:
        flash(domain_message(exc), "danger")
        return index(form, exc.status)
    if done.body["closed_now"] and not done.replayed:
        flash(_("Business day %(day)s closed.", day=day.isoformat()), "success")
    else:
        flash(_("Business day %(day)s was already closed; nothing changed.", day=day.isoformat()), "info")
    return redirect(url_for(".index", **{"from": day.isoformat(), "to": day.isoformat()}))


@blp.route("/settlements/<settlement_id>")
@permission_required("settlement:read")
def detail(settlement_id):
    """A merchant's statement of one closed day, down to each sale and refund."""
    found = finance.settlement_detail(settlement_id, merchant_scope())
    return render_template("console/settlement/detail.html", **found)


@blp.route("/settlements/<settlement_id>/statement.<any(csv, pdf):fmt>")
@permission_required("settlement:read")
def statement(settlement_id, fmt):
    """The statement as CSV or as a printable PDF (the same files as the API gives)."""
    content, filename = finance.render_statement(settlement_id, merchant_scope(), fmt)
    if fmt == "csv":
        return download(content.encode("utf-8-sig"), "text/csv; charset=utf-8", filename)
    return download(content, "application/pdf", filename)


@blp.route("/settlements/reconciliation")
@permission_required("settlement:read")
@operators_only
def reconcile():
    """Check that statements, ledger and sales of a day agree to the fen, and the ledger is balanced."""
    last = _last_closed()
    day = day_arg("day") or (last.business_day if last else None)
    differences = reconciliation.reconcile(day) if day else None
    return render_template("console/settlement/reconcile.html", day=day, differences=differences)
