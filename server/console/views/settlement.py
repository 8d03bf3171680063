"""Settlement: closed business days by merchant with totals, statements down to each sale (CSV and PDF),
closing a day (finance) and the reconciliation check, all through the same services as the REST API."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

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
from server.console.forms import CloseDayForm, PaymentForm
from server.console.once import new_key, run_once
from server.console.paging import date_arg, page_from_request
from server.domain.errors import DomainError
from server.exports import Column, download, table_download
from server.models import SettlementDay
from server.services import finance, reconciliation, settlement
from server.services.finance import SUMMED
from server.services.statements import LINE_KINDS, fee_terms

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
    return settlement.last_closed_day()


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


LIST_COLUMNS = (
    Column("business_day", _l("Business day"), "date"),
    Column("merchant_name", _l("Merchant"), "text"),
    Column("id", _l("Statement number"), "text"),
    Column("sales_count", _l("Number of sales"), "int"),
    Column("member_sales_fen", _l("Member sales (¥)"), "yuan"),
    Column("refunds_count", _l("Number of refunds"), "int"),
    Column("refunds_fen", _l("Refunded (¥)"), "yuan"),
    Column("points_granted", _l("Points granted"), "int"),
    Column("granted_value_fen", _l("Granted value (¥)"), "yuan"),
    Column("points_accepted", _l("Points accepted"), "int"),
    Column("accepted_value_fen", _l("Accepted value (¥)"), "yuan"),
    Column("fee_bp", _l("Service fee rate"), "percent"),
    Column("service_fee_fen", _l("Service fee (¥)"), "yuan"),
    Column("commission_fen", _l("Commission (¥)"), "yuan"),
    Column("net_fen", _l("Net position (¥)"), "yuan"),
    Column("payment", _l("Payment"), "text"),
    Column("paid_at", _l("Paid at"), "time"),
    Column("payment_reference", _l("Payment reference"), "text"),
)


@blp.route("/settlements.<any(csv, xlsx):fmt>")
@permission_required("settlement:read")
def export(fmt):
    """The listed settlements as one table (CSV or XLSX), with whether each has been paid."""
    try:
        found = settlement.list_settlements(finance_filters())
    except DomainError as exc:
        flash(_(exc.message), "danger")
        return redirect(url_for(".index"))
    rows = (
        {
            **{column.key: getattr(row, column.key, None) for column in LIST_COLUMNS},
            "merchant_name": name,
            "payment": _("Paid out") if row.paid_at else _("Unpaid"),
        }
        for row, name in found
    )
    return table_download(LIST_COLUMNS, rows, fmt, "settlements")


def _payment_form(found) -> PaymentForm | None:
    if not can("settlement:close") or merchant_scope() is not None:
        return None
    form = PaymentForm(formdata=None, paid="0" if found.paid_at else "1")
    form.reference.data = found.payment_reference
    return form


@blp.route("/settlements/<settlement_id>")
@permission_required("settlement:read")
def detail(settlement_id, payment_form: PaymentForm | None = None, status: int = 200):
    """A merchant's statement of one closed day, down to each sale and refund, and whether it is paid."""
    found = finance.settlement_detail(settlement_id, merchant_scope())
    form = payment_form or _payment_form(found["settlement"])
    return (
        render_template(
            "console/settlement/detail.html",
            payment_form=form,
            line_kinds=LINE_KINDS,
            fee_terms=fee_terms(found["settlement"]),
            **found,
        ),
        status,
    )


@blp.route("/settlements/<settlement_id>/payment", methods=["POST"])
@permission_required("settlement:close")
@operators_only
def payment(settlement_id):
    """Finance marks a statement paid (with the transfer's reference) or unpaid again (audited)."""
    form = PaymentForm()
    if not form.validate_on_submit():
        return detail(settlement_id, form, 422)
    try:
        settlement.set_payment(current_actor().key, settlement_id, form.paid.data == "1", form.reference.data or "")
    except DomainError as exc:
        flash(_(exc.message), "danger")
        return detail(settlement_id, form, exc.status)
    flash(_("Marked paid.") if form.paid.data == "1" else _("Marked unpaid."), "success")
    return redirect(url_for(".detail", settlement_id=settlement_id))


@blp.route("/settlements/<settlement_id>/statement.<any(csv, xlsx, pdf):fmt>")
@permission_required("settlement:read")
def statement(settlement_id, fmt):
    """The statement as CSV, XLSX or a printable PDF (the same files as the API gives)."""
    reveal = can("settlement:close") and merchant_scope() is None  # finance sees the full account number
    content, filename, mimetype = finance.render_statement(settlement_id, merchant_scope(), fmt, reveal)
    return download(content, mimetype, filename)


@blp.route("/settlements/reconciliation")
@permission_required("settlement:read")
@operators_only
def reconcile():
    """Check that statements, ledger and sales of a day agree to the fen, and the ledger is balanced."""
    last = _last_closed()
    day = day_arg("day") or (last.business_day if last else None)
    differences = reconciliation.reconcile(day) if day else None
    return render_template("console/settlement/reconcile.html", day=day, differences=differences)
