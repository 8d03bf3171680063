"""Sales: browse and filter (merchant staff: their own shop), CSV export, details and refunds with a reason."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from server.console import navigation
from server.console.access import can, current_actor, merchant_names, merchant_scope, permission_required
from server.console.confirm import Confirmation, confirm_form, confirm_page
from server.console.display import METHOD_LABELS, domain_message
from server.console.forms import RefundForm
from server.console.once import new_key, run_once
from server.console.paging import all_rows, choice_arg, page_from_request
from server.console.views.settlement import day_arg
from server.domain.errors import DomainError
from server.exports import Column, table_download
from server.formatting import yuan
from server.services import checkout, queries
from server.services.alliance import get_settings

blp = Blueprint("sales", __name__)
navigation.add(navigation.NavItem("console.sales.index", _l("Sales"), "receipt", "sales:read", order=50))
EXPORT_COLUMNS = (
    Column("occurred_at", _l("Time"), "time"),
    Column("receipt_no", _l("Receipt"), "text"),
    Column("merchant", _l("Merchant"), "text"),
    Column("terminal_id", _l("Terminal"), "text"),
    Column("member_id", _l("Member"), "text"),
    Column("level", _l("Level"), "text"),
    Column("method", _l("Identified by"), "text"),
    Column("amount_fen", _l("Amount (¥)"), "yuan"),
    Column("discount_fen", _l("Discount (¥)"), "yuan"),
    Column("redeem_points", _l("Points redeemed"), "int"),
    Column("redeem_value_fen", _l("Paid with points (¥)"), "yuan"),
    Column("payable_fen", _l("Paid in money (¥)"), "yuan"),
    Column("points_earned", _l("Points earned"), "int"),
    Column("refunded_fen", _l("Refunded (¥)"), "yuan"),
    Column("points_reversed", _l("Points taken back by refunds"), "int"),
    Column("points_restored", _l("Points given back by refunds"), "int"),
    Column("offline", _l("Recorded offline"), "text"),
    Column("id", _l("Sale ID"), "text"),
)


def sale_filters() -> dict:
    """The list filters from the query string; merchant staff are always confined to their shop."""
    zone = ZoneInfo(get_settings().timezone)
    start, end = day_arg("from"), day_arg("to")
    filters = {
        "merchant_id": merchant_scope() or choice_arg("merchant_id", merchant_names(), _("Merchant")),
        "receipt_no": request.args.get("receipt_no", "").strip() or None,
        "member_id": request.args.get("member_id", "").strip() or None,
        "occurred_from": datetime.combine(start, datetime.min.time(), zone) if start else None,
        "occurred_to": datetime.combine(end + timedelta(days=1), datetime.min.time(), zone) if end else None,
    }
    return filters


@blp.route("/sales")
@permission_required("sales:read")
def index():
    """Sales, newest first, by merchant, receipt, member and local dates."""
    page = page_from_request()
    rows = queries.list_sales(sale_filters(), page)
    return render_template("console/sales/index.html", sales=rows, page=page, merchants=merchant_names())


@blp.route("/sales.<any(csv, xlsx):fmt>")
@permission_required("sales:read")
def export(fmt):
    """The filtered sales as one table (CSV or XLSX): Chinese headers, yuan, the alliance's time."""
    filters, names = sale_filters(), merchant_names()
    rows = all_rows(lambda page: queries.list_sales(filters, page), 1_000)
    lines = (
        {
            **sale,
            "merchant": names.get(sale["merchant_id"], ""),
            "level": sale["level"]["name"],
            "method": str(METHOD_LABELS.get(sale["method"], sale["method"])),
            "offline": _("Yes") if sale["offline"] else _("No"),
        }
        for sale in rows
    )
    return table_download(EXPORT_COLUMNS, lines, fmt, "sales")


def _scoped_sale(sale_id: str):
    return checkout.get_sale(sale_id, merchant_scope())


def _sale_page(sale, form: RefundForm, status: int = 200):
    refunds = queries.sale_refunds(sale.id)
    return (
        render_template(
            "console/sales/detail.html",
            sale=sale,
            refunds=refunds,
            form=form,
            left_fen=sale.payable_fen - sale.refunded_fen,
            may_refund=can("sales:refund"),
        ),
        status,
    )


@blp.route("/sales/<sale_id>")
@permission_required("sales:read")
def detail(sale_id):
    """A sale with its parts, points and refunds."""
    return _sale_page(_scoped_sale(sale_id), RefundForm(formdata=None, once=new_key()))


def _confirm_refund(sale, form: RefundForm):
    left_fen = sale.payable_fen - sale.refunded_fen
    amount_fen = form.amount.fen if form.amount.fen is not None else left_fen
    confirm = confirm_form()
    confirm.once.data, confirm.reason.data = form.once.data, form.reason.data
    confirmation = Confirmation(
        title=_("Refund %(amount)s", amount=yuan(amount_fen)),
        subject=_("Sale %(receipt)s at %(merchant)s", receipt=sale.receipt_no, merchant=sale.merchant.name),
        warning=_("The money is returned, the sale's points reversed and restored in proportion. It cannot be undone."),
        button=_("Refund %(amount)s", amount=yuan(amount_fen)),
        action_url=url_for(".refund", sale_id=sale.id),
        back_url=url_for(".detail", sale_id=sale.id),
        carried={"amount": request.form.get("amount", "")},
    )
    return confirm_page(confirmation, confirm)


@blp.route("/sales/<sale_id>/refunds", methods=["POST"])
@permission_required("sales:refund")
def refund(sale_id):
    """Refund part or the rest of the sale with a reason; points are reversed and restored in proportion."""
    sale = _scoped_sale(sale_id)
    form = RefundForm()
    if not form.validate_on_submit():
        return _sale_page(sale, form, 422)
    if request.form.get("confirmed") != "yes":  # first the confirmation page, with the reason to check
        return _confirm_refund(sale, form)
    try:
        done = run_once(
            form.once.data,
            lambda: {
                "refund_id": checkout.refund_sale(
                    current_actor().key, sale.id, merchant_scope(), form.amount.fen, form.reason.data
                ).refund.id
            },
        )
    except DomainError as exc:
        flash(domain_message(exc), "danger")
        return _sale_page(_scoped_sale(sale_id), form, 409)
    if done.replayed:
        flash(_("This refund was already made."), "info")
    else:
        flash(_("Refund recorded."), "success")
    return redirect(url_for(".detail", sale_id=sale.id))
