"""Merchants: list, admission, details, level discounts, terminals (tokens shown once), registration poster."""

from __future__ import annotations

import io
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import segno
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from server.console import navigation, region_picker
from server.console.access import can, check_merchant, current_actor, merchant_scope, permission_required
from server.console.benefit_grant_forms import GiftRuleForm
from server.console.confirm import Confirmation, confirm_form, confirm_page
from server.console.display import STATUS_LABELS, domain_message, percent, trade_label
from server.console.forms import ActionForm, LevelDiscountForm, MerchantForm, TerminalForm, choice
from server.console.once import new_key, run_once
from server.console.paging import choice_arg, page_from_request, report_invalid_filter
from server.domain.errors import DomainError
from server.domain.permissions import SET_DISCOUNTS_PERMISSIONS
from server.domain.statuses import MerchantStatus, TerminalStatus
from server.services import agent_console, catalog, posters, queries, till_gifts
from server.services.alliance import get_settings
from server.services.catalog import TRADES

blp = Blueprint("merchants", __name__)
navigation.add(
    navigation.NavItem(
        "console.merchants.index", _l("Merchants"), "shop", "merchants:read", order=10, operators_only=True
    )
)
navigation.add(
    navigation.NavItem(
        "console.merchants.index", _l("My shop"), "shop", "merchants:read", order=10, merchant_staff_only=True
    )
)
MERCHANT_STATUSES = tuple(MerchantStatus)


def join_url(merchant_id: str) -> str:
    """The member registration link of the merchant's recruiting poster (its poster token, see services/posters)."""
    base, _configured = posters.public_base_url(current_app.config.get("PUBLIC_BASE_URL"), request.host_url)
    return posters.join_url(base, posters.poster_token(merchant_id))


def _merchant_form(form: MerchantForm) -> MerchantForm:
    form.trade.choices = [choice(code, trade_label(code)) for code in TRADES]
    form.status.choices = [choice(code, STATUS_LABELS[code]) for code in MERCHANT_STATUSES]
    region_picker.fill_choices(form)
    return form


def _merchant_fields(form: MerchantForm) -> dict:
    fields = {
        "name": form.name.data,
        "trade": form.trade.data,
        "region": form.region.data,
        "address": form.address.data,
        "contact_phone": form.contact_phone.data,
        "earn_rate_bp": form.earn_rate.bp,
        "max_redeem_bp": form.max_redeem.bp,
        "bank_account_name": form.bank_account_name.data or "",
        "bank_name": form.bank_name.data or "",
    } | {
        name: value
        for name, value in (
            ("service_fee_bp", form.service_fee.bp),
            ("service_fee_per_sale_fen", form.service_fee_per_sale.fen),
            ("bank_account_no", form.bank_account_no.data or None),
        )
        if value is not None
    }
    fields["region_code"] = region_picker.region_code(form)
    fields["agent_id"] = form.agent_id.data or None
    fields["agent_reason"] = form.agent_reason.data
    fields["refund_auth_threshold_fen"] = form.refund_threshold.fen  # empty: no authorisation
    if form.refund_pin.data:  # empty: the PIN stays as it is
        fields["refund_pin"] = form.refund_pin.data
    return fields


@blp.route("/merchants")
@permission_required("merchants:read")
def index():
    """Operators: every merchant, filtered; merchant staff go to their own shop."""
    if merchant_scope() is not None:
        return redirect(url_for(".detail", merchant_id=merchant_scope()))
    filters = {
        "q": request.args.get("q", "").strip() or None,
        "trade": choice_arg("trade", TRADES, _("Trade")),
        "status": choice_arg("status", MERCHANT_STATUSES, _("Status")),
    }
    page = page_from_request()
    rows = queries.list_merchants(filters, page)
    return render_template(
        "console/merchants/index.html",
        merchants=rows,
        page=page,
        filters=filters,
        trades=TRADES,
        statuses=MERCHANT_STATUSES,
    )


@blp.route("/merchants/new", methods=["GET", "POST"])
@permission_required("merchants:write")
def create():
    """Admit a merchant; every level starts at its default discount."""
    form = _merchant_form(MerchantForm())
    del form.status
    if request.method == "GET":
        form.earn_rate.set_bp(100)
        form.max_redeem.set_bp(5_000)
        form.service_fee.set_bp(0)
        form.service_fee_per_sale.set_fen(0)
    once = request.form.get("once") or new_key()
    if form.validate_on_submit() and not region_picker.only_picking(form):
        try:
            done = run_once(
                once,
                lambda: {"id": catalog.create_merchant(current_actor().key, **_merchant_fields(form)).id},
            )
        except DomainError as exc:
            flash(domain_message(exc), "danger")
        else:
            flash(_("Merchant %(name)s admitted.", name=form.name.data), "success")
            return redirect(url_for(".detail", merchant_id=done.body["id"]))
    return render_template("console/merchants/form.html", form=form, once=once, merchant=None)


def _scoped_merchant(merchant_id: str):
    check_merchant(merchant_id)
    return catalog.get_merchant(merchant_id)


@blp.route("/merchants/<merchant_id>")
@permission_required("merchants:read")
def detail(merchant_id):
    """A merchant: details, what each level pays, terminals and the registration poster."""
    merchant = _scoped_merchant(merchant_id)
    discounts = []
    for level, discount_bp in catalog.level_discounts(merchant.id):
        form = LevelDiscountForm(formdata=None, level_id=level.id)
        form.pays.set_bp(discount_bp)
        discounts.append((level, discount_bp, form))
    terminals = queries.list_terminals(merchant.id, page_from_request(100)) if can("terminals:read") else []
    return render_template(
        "console/merchants/detail.html",
        merchant=merchant,
        discounts=discounts,
        terminals=terminals,
        may_set_discounts=_may_set_discounts(merchant.id),
        terminal_form=TerminalForm(formdata=None, once=new_key()),
        action=ActionForm(formdata=None),
        new_key=new_key,
        join_url=join_url(merchant.id),
        region_path=agent_console.region_path,
        gift_rules=till_gifts.list_rules(merchant.id),
        gift_form=_gift_rule_form(GiftRuleForm(formdata=None, once=new_key())),
        sku_names={sku.id: sku.name for sku in till_gifts.gift_skus()},
        gift_periods=GIFT_PERIODS,
    )


def _gift_rule_form(form: GiftRuleForm) -> GiftRuleForm:
    form.sku_id.choices = [choice(sku.id, sku.name) for sku in till_gifts.gift_skus()]
    form.limit_period.choices = [choice(code, label) for code, label in GIFT_PERIODS.items()]
    return form


GIFT_PERIODS = {"day": _l("day"), "week": _l("week"), "month": _l("month")}


def _alliance_day(day) -> datetime | None:
    return None if day is None else datetime.combine(day, time(), ZoneInfo(get_settings().timezone))


@blp.route("/merchants/<merchant_id>/gift-rules", methods=["POST"])
@permission_required(*SET_DISCOUNTS_PERMISSIONS)
def add_gift_rule(merchant_id):
    """Add a gift with a purchase (满赠) to the merchant (operators; owners: their own shop)."""
    merchant = _scoped_merchant(merchant_id)
    if not _may_set_discounts(merchant.id):
        abort(403)
    form = _gift_rule_form(GiftRuleForm())
    if not form.validate_on_submit():
        flash(_("Check the gift: a voucher, the lowest spend in yuan, optional days and limit."), "danger")
    else:
        ends = form.ends_on.data
        try:
            run_once(
                form.once.data,
                lambda: {
                    "rule_id": till_gifts.create_rule(
                        current_actor().key,
                        merchant.id,
                        sku_id=form.sku_id.data,
                        min_payable_fen=form.min_payable.fen,
                        starts_at=_alliance_day(form.starts_on.data),
                        ends_at=_alliance_day(ends + timedelta(days=1)) if ends else None,
                        per_member_limit=form.per_member_limit.data,
                        limit_period=form.limit_period.data,
                    ).id
                },
            )
        except DomainError as exc:
            flash(domain_message(exc), "danger")
        else:
            flash(_("Gift saved."), "success")
    return redirect(url_for(".detail", merchant_id=merchant.id) + "#gifts")


@blp.route("/merchants/<merchant_id>/gift-rules/<rule_id>/switch", methods=["POST"])
@permission_required(*SET_DISCOUNTS_PERMISSIONS)
def switch_gift_rule(merchant_id, rule_id):
    """Turn a gift rule off, or on again."""
    merchant = _scoped_merchant(merchant_id)
    if not _may_set_discounts(merchant.id):
        abort(403)
    if ActionForm().validate_on_submit():
        try:
            rule = till_gifts.get_rule(merchant.id, rule_id)
            till_gifts.update_rule(current_actor().key, merchant.id, rule.id, active=not rule.active)
        except DomainError as exc:
            flash(domain_message(exc), "danger")
        else:
            flash(_("Gift switched on.") if rule.active else _("Gift switched off."), "success")
    return redirect(url_for(".detail", merchant_id=merchant.id) + "#gifts")


@blp.route("/merchants/<merchant_id>/edit", methods=["GET", "POST"])
@permission_required("merchants:write")
def edit(merchant_id):
    """Change a merchant's details, status, earn rate, redemption cap or service fees (admins)."""
    merchant = _scoped_merchant(merchant_id)
    form = _merchant_form(MerchantForm(obj=merchant))
    if request.method == "GET":
        form.earn_rate.set_bp(merchant.earn_rate_bp)
        form.max_redeem.set_bp(merchant.max_redeem_bp)
        form.service_fee.set_bp(merchant.service_fee_bp)
        form.service_fee_per_sale.set_fen(merchant.service_fee_per_sale_fen)
        if merchant.refund_auth_threshold_fen is not None:
            form.refund_threshold.set_fen(merchant.refund_auth_threshold_fen)
        region_picker.set_from(form, merchant.region_code, merchant.agent_id)
        region_picker.fill_choices(form)
    if form.validate_on_submit() and not region_picker.only_picking(form):
        try:
            catalog.update_merchant(current_actor().key, merchant.id, status=form.status.data, **_merchant_fields(form))
        except DomainError as exc:
            flash(domain_message(exc), "danger")
        else:
            flash(_("Saved."), "success")
            return redirect(url_for(".detail", merchant_id=merchant.id))
    return render_template("console/merchants/form.html", form=form, once=None, merchant=merchant)


def _may_set_discounts(merchant_id: str) -> bool:
    return current_actor().may_set_discounts(merchant_id)


@blp.route("/merchants/<merchant_id>/discounts/<level_id>", methods=["POST"])
@permission_required(*SET_DISCOUNTS_PERMISSIONS)
def set_discount(merchant_id, level_id):
    """Set what a level pays at the merchant, within the operator's bounds (owners: their own shop)."""
    merchant = _scoped_merchant(merchant_id)
    if not _may_set_discounts(merchant.id):
        abort(403)
    level = catalog.get_level(level_id)
    form = LevelDiscountForm()
    if not form.validate_on_submit() or form.level_id.data != level.id:
        flash(_("Enter what the member pays in percent, e.g. 95 for 9.5折."), "danger")
    else:
        try:
            catalog.set_level_discount(current_actor().key, merchant.id, level.id, form.pays.bp)
        except DomainError:
            flash(
                _(
                    "%(level)s must pay between %(low)s%% and %(high)s%%.",
                    level=level.name,
                    low=percent(level.min_discount_bp).rstrip("%"),
                    high=percent(level.max_discount_bp).rstrip("%"),
                ),
                "danger",
            )
        else:
            flash(_("Discount for %(level)s saved.", level=level.name), "success")
    return redirect(url_for(".detail", merchant_id=merchant.id) + "#discounts")


def _token_page(terminal, token: str | None, title: str):
    return render_template("console/merchants/token.html", terminal=terminal, token=token, title=title)


@blp.route("/merchants/<merchant_id>/terminals", methods=["POST"])
@permission_required("terminals:write")
def create_terminal(merchant_id):
    """Register a terminal and show its token, once."""
    merchant = _scoped_merchant(merchant_id)
    form = TerminalForm()
    if not form.validate_on_submit():
        flash(_("Give the terminal a name."), "danger")
        return redirect(url_for(".detail", merchant_id=merchant.id) + "#terminals")
    issued = []

    def work():
        issued.append(catalog.create_terminal(current_actor().key, merchant.id, form.name.data))
        return {"terminal_id": issued[0].terminal.id}  # the token is never stored, not even here

    done = run_once(form.once.data, work)
    terminal = catalog.get_terminal(done.body["terminal_id"])
    return _token_page(terminal, issued[0].token if issued else None, _("Terminal registered"))


def _scoped_terminal(terminal_id: str):
    terminal = catalog.get_terminal(terminal_id)
    check_merchant(terminal.merchant_id)
    return terminal


@blp.route("/terminals/<terminal_id>/token", methods=["GET", "POST"])
@permission_required("terminals:write")
def reset_token(terminal_id):
    """Replace a terminal's token (the old one stops working at once), confirmed with a reason; the new one
    is shown once."""
    terminal = _scoped_terminal(terminal_id)
    form = confirm_form()
    if request.method == "GET" or not form.validate_on_submit():
        confirmation = Confirmation(
            title=_("Reset the token of till %(name)s", name=terminal.name),
            subject=f"{terminal.merchant.name} · {terminal.name} ({terminal.code})",
            warning=_("The till's current token stops working at once: it cannot sell until the new one is entered."),
            button=_("Reset token"),
            action_url=url_for(".reset_token", terminal_id=terminal.id),
            back_url=url_for(".detail", merchant_id=terminal.merchant_id) + "#terminals",
        )
        return confirm_page(confirmation, form)
    issued = []

    def work():
        issued.append(catalog.reset_terminal_token(current_actor().key, terminal.id, reason=form.reason.data))
        return {"terminal_id": terminal.id}

    run_once(form.once.data, work)
    return _token_page(terminal, issued[0].token if issued else None, _("New terminal token"))


@blp.route("/terminals/<terminal_id>/status", methods=["POST"])
@permission_required("terminals:write")
def terminal_status(terminal_id):
    """Enable or disable a terminal."""
    terminal = _scoped_terminal(terminal_id)
    status = TerminalStatus.DISABLED if terminal.status == TerminalStatus.ACTIVE else TerminalStatus.ACTIVE
    catalog.set_terminal_status(current_actor().key, terminal.id, status)
    flash(_("Terminal %(code)s is now %(status)s.", code=terminal.code, status=STATUS_LABELS[status]), "success")
    return redirect(url_for(".detail", merchant_id=terminal.merchant_id) + "#terminals")


@blp.route("/merchants/<merchant_id>/poster")
@permission_required("merchants:read")
def poster(merchant_id):
    """A printable poster with the QR code members scan to join at this merchant."""
    merchant = _scoped_merchant(merchant_id)
    url = join_url(merchant.id)
    size = choice_arg("size", posters.PAPER_SIZES, _("Paper")) or "a4"
    line = request.args.get("line", "").strip()
    if len(line) > posters.MAX_LINE:
        report_invalid_filter(_("Line of text"), line[:20] + "…")
        line = ""
    svg = segno.make(url, error="m").svg_inline(scale=8, border=4, dark="#111827", omitsize=True)
    configured = bool((current_app.config.get("PUBLIC_BASE_URL") or "").strip())
    return render_template(
        "console/merchants/poster.html",
        merchant=merchant,
        qr_svg=Markup(svg),
        join_url=url,
        size=size,
        paper=posters.PAPER_SIZES[size],
        line=line or _("Scan to join, save at every shop of the alliance"),
        line_typed=line,
        base_configured=configured,
        unreachable=posters.points_at_this_machine(url),
        max_line=posters.MAX_LINE,
    )


@blp.route("/merchants/<merchant_id>/poster.png")
@permission_required("merchants:read")
def poster_png(merchant_id):
    """The poster's QR code as a PNG for print shops."""
    merchant = _scoped_merchant(merchant_id)
    png = io.BytesIO(posters.poster_qr(join_url(merchant.id), "png"))
    return send_file(png, mimetype="image/png", download_name=f"join-{merchant.id}.png")
