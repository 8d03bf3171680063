"""Members: search by name, card number or phone digits (POSTed; phones stay masked), details with points
movements and expiry, sales and cards with history, edits, freezing, and the audited phone reveal with a reason."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from server.console import navigation
from server.console.access import current_actor, operators_only, permission_required
from server.console.audit_text import describe
from server.console.confirm import Confirmation, confirm_form, confirm_page
from server.console.display import domain_message
from server.console.forms import (
    ActionForm,
    BindCardForm,
    MemberEditForm,
    MemberForm,
    PointsAdjustmentForm,
    RevealPhoneForm,
)
from server.console.once import new_key, run_once
from server.console.paging import choice_arg, page_from_request
from server.domain.errors import DomainError
from server.domain.statuses import MemberStatus
from server.services import catalog, members, points, queries

blp = Blueprint("members", __name__)
navigation.add(
    navigation.NavItem("console.members.index", _l("Members"), "people", "members:read", order=30, operators_only=True)
)


def search_filters(text: str) -> dict | None:
    """What one search box holds, as list filters: digits (4 or more) are a card number, a whole phone or
    the phone's last digits; other text is part of a name. None: too few digits to search by."""
    compact = "".join(ch for ch in text if ch not in " -+")
    if compact.isdigit():
        digits = compact[2:] if compact.startswith("86") and len(compact) == 13 else compact
        return {"number": digits} if len(digits) >= 4 else None
    return {"name": text}


@blp.route("/members", methods=["GET", "POST"])
@permission_required("members:read")
@operators_only
def index():
    """Newest members; a search (POSTed, so phone numbers never land in URLs or access logs) finds them by
    name, card number, whole phone or the phone's last four or more digits."""
    text = request.form.get("q", "").strip()[:50] if request.method == "POST" else ""
    filters = {
        "level": choice_arg("level", {level.code for level in catalog.levels_by_rank()}, _("Level")),
        "status": choice_arg("status", set(MemberStatus), _("Status")),
    }
    if text:
        found = search_filters(text)
        if found is None:
            flash(_("Type at least four digits of a card or phone number, or part of a name."), "warning")
        filters.update(found or {"card_no": "-"})
    page = page_from_request()
    rows = queries.list_members(filters, page)
    register = MemberForm(formdata=None, once=new_key())
    return render_template(
        "console/members/index.html",
        members=rows,
        page=page,
        q=text,
        register=register,
        levels=catalog.levels_by_rank(),
        statuses=tuple(MemberStatus),
    )


@blp.route("/members/new", methods=["POST"])
@permission_required("members:write")
@operators_only
def register():
    """Register a member at the lowest level (e.g. at the service desk); audited."""
    form = MemberForm()
    if form.validate_on_submit():
        try:
            done = run_once(
                form.once.data,
                lambda: {
                    "id": members.register_member(current_actor().key, form.phone.data, form.display_name.data).id
                },
            )
        except DomainError as exc:
            flash(domain_message(exc), "danger")
        else:
            return redirect(url_for(".detail", member_id=done.body["id"]))
    else:
        flash(_("Enter the member's mobile phone number."), "danger")
    return redirect(url_for(".index"))


def _member_page(member, phone: str | None = None, adjust=None, reveal=None, edit=None, status: int = 200):
    detail = queries.member_detail(member)
    sales = queries.member_sales_with_shops(member.id, limit=20)
    movements_page = page_from_request(page_size=15)
    movements = queries.account_entries(member.points_account_id, movements_page)
    lots = points.member_lots(member.id, include_closed=True)
    adjust = adjust or PointsAdjustmentForm(formdata=None, once=new_key())
    edit = edit or MemberEditForm(formdata=None, display_name=member.display_name)
    page = render_template(
        "console/members/detail.html",
        member=detail,
        sales=sales,
        phone=phone,
        movements=movements,
        movements_page=movements_page,
        lots=lots,
        lot_sales=queries.receipt_numbers([lot.sale_id for lot in lots] + [row["sale_id"] for row in movements]),
        card_histories={
            card_id: [(entry, describe(entry)) for entry in entries]
            for card_id, entries in queries.card_histories([card.id for card in detail["cards"]]).items()
        },
        action=ActionForm(formdata=None),
        adjust=adjust,
        reveal=reveal or RevealPhoneForm(formdata=None),
        edit=edit,
        bind=BindCardForm(formdata=None),
        today=points.alliance_today(),
    )
    return page, status


@blp.route("/members/<member_id>")
@permission_required("members:read")
@operators_only
def detail(member_id):
    """A member with level, points (movements and lots with their expiry), cards with their history and
    recent sales with the shop; the phone masked."""
    return _member_page(members.get_member(member_id))


@blp.route("/members/<member_id>/phone", methods=["POST"])
@permission_required("members:phone")
@operators_only
def reveal_phone(member_id):
    """Show the full phone number on this page only, for a stated reason; the access and the reason are
    written to the audit log."""
    member = members.get_member(member_id)
    form = RevealPhoneForm()
    if not form.validate_on_submit():
        flash(_("Say why you need the full number; the reason is written to the audit log."), "danger")
        return _member_page(member, reveal=form, status=422)
    phone = members.reveal_phone(current_actor().key, member.id, reason=form.reason.data)
    return _member_page(member, phone=phone)


@blp.route("/members/<member_id>/edit", methods=["POST"])
@permission_required("members:write")
@operators_only
def edit(member_id):
    """Change the member's name or phone (audited; the phone only masked in the log)."""
    member = members.get_member(member_id)
    form = MemberEditForm()
    if not form.validate_on_submit():
        return _member_page(member, edit=form, status=422)
    try:
        members.update_member(current_actor().key, member.id, form.display_name.data, form.phone.data or None)
    except DomainError as exc:
        flash(domain_message(exc), "danger")
        return _member_page(member, edit=form, status=exc.status)
    flash(_("Saved."), "success")
    return redirect(url_for(".detail", member_id=member.id))


@blp.route("/members/<member_id>/<any(freeze, unfreeze):change>", methods=["GET", "POST"])
@permission_required("members:write")
@operators_only
def freeze(member_id, change):
    """Freeze a member (no identification at the till, no member sign-in) or unfreeze them, confirmed with a
    reason (audited)."""
    member = members.get_member(member_id)
    freezing = change == "freeze"
    if member.status != (MemberStatus.ACTIVE if freezing else MemberStatus.FROZEN):
        flash(_("The member is not in a state that allows this."), "warning")
        return redirect(url_for(".detail", member_id=member.id))
    form = confirm_form()
    if request.method == "GET" or not form.validate_on_submit():
        label = f"{member.display_name} · {member.phone_masked}"
        if freezing:
            confirmation = Confirmation(
                title=_("Freeze member %(name)s", name=member.display_name),
                subject=label,
                warning=_(
                    "The member's cards and codes are refused at every till and they cannot sign in to the "
                    "member pages until the member is unfrozen. Points and level are kept."
                ),
                button=_("Freeze"),
                action_url=url_for(".freeze", member_id=member.id, change="freeze"),
                back_url=url_for(".detail", member_id=member.id),
            )
        else:
            confirmation = Confirmation(
                title=_("Unfreeze member %(name)s", name=member.display_name),
                subject=label,
                warning=_("The member can buy and sign in again."),
                button=_("Unfreeze"),
                action_url=url_for(".freeze", member_id=member.id, change="unfreeze"),
                back_url=url_for(".detail", member_id=member.id),
            )
        return confirm_page(confirmation, form)
    try:
        members.set_member_frozen(current_actor().key, member.id, freezing, form.reason.data)
    except DomainError as exc:
        flash(domain_message(exc), "danger")
    else:
        flash(_("The member is frozen.") if freezing else _("The member is unfrozen."), "success")
    return redirect(url_for(".detail", member_id=member.id))


@blp.route("/members/<member_id>/points", methods=["POST"])
@permission_required("points:adjust")
@operators_only
def adjust_points(member_id):
    """An audited correction of the member's points with a reason (a new ledger transaction)."""
    member = members.get_member(member_id)
    form = PointsAdjustmentForm()
    if not form.validate_on_submit() or form.points.data == 0:
        return _member_page(member, adjust=form, status=422)
    try:
        done = run_once(
            form.once.data,
            lambda: {
                "balance": members.adjust_points(current_actor().key, member.id, form.points.data, form.reason.data)
            },
        )
    except DomainError as exc:
        flash(domain_message(exc), "danger")
        return _member_page(member, adjust=form, status=409)
    flash(_("Points adjusted; the balance is now %(balance)s.", balance=done.body["balance"]), "success")
    return redirect(url_for(".detail", member_id=member.id))


@blp.route("/members/<member_id>/cards", methods=["POST"])
@permission_required("cards:write")
@operators_only
def bind_card(member_id):
    """Bind an issued card to the member and activate it (audited)."""
    member = members.get_member(member_id)
    form = BindCardForm()
    if not form.validate_on_submit():
        flash(_("Type the card number printed on the card."), "danger")
    else:
        try:
            members.bind_card(current_actor().key, member.id, form.card_no.data)
        except DomainError as exc:
            flash(domain_message(exc), "danger")
        else:
            flash(_("Card %(no)s bound.", no=form.card_no.data), "success")
    return redirect(url_for(".detail", member_id=member.id))
