"""Members: search by card number or phone (phones stay masked), details, audited phone reveal."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from server.console import navigation
from server.console.access import current_actor, operators_only, permission_required
from server.console.display import domain_message
from server.console.forms import ActionForm, BindCardForm, MemberForm, PointsAdjustmentForm
from server.console.once import new_key, run_once
from server.console.paging import page_from_request
from server.domain.errors import DomainError
from server.domain.identifiers import normalize_mobile
from server.services import members, queries

blp = Blueprint("members", __name__)
navigation.add(
    navigation.NavItem("console.members.index", _l("Members"), "people", "members:read", order=30, operators_only=True)
)


def search_filters(text: str) -> dict | None:
    """A card number or a phone number typed in one box, as list filters (None: neither)."""
    digits = "".join(ch for ch in text if ch.isdigit())
    if not digits:
        return None
    try:
        return {"phone": normalize_mobile(text)}
    except DomainError:
        return {"card_no": digits}


@blp.route("/members", methods=["GET", "POST"])
@permission_required("members:read")
@operators_only
def index():
    """Newest members; a search (POSTed, so phone numbers never land in URLs or access logs) finds one."""
    text = request.form.get("q", "").strip() if request.method == "POST" else ""
    filters = {"level": request.args.get("level") or None}
    if text:
        found = search_filters(text)
        if found is None:
            flash(_("Type a card number or a phone number."), "warning")
        filters.update(found or {"card_no": "-"})
    page = page_from_request()
    rows = queries.list_members(filters, page)
    register = MemberForm(formdata=None, once=new_key())
    return render_template("console/members/index.html", members=rows, page=page, q=text, register=register)


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


def _member_page(member, phone: str | None = None, adjust: PointsAdjustmentForm | None = None, status: int = 200):
    detail = queries.member_detail(member)
    sales = queries.member_recent_sales(member.id, limit=20)
    adjust = adjust or PointsAdjustmentForm(formdata=None, once=new_key())
    page = render_template(
        "console/members/detail.html",
        member=detail,
        sales=sales,
        phone=phone,
        action=ActionForm(formdata=None),
        adjust=adjust,
        bind=BindCardForm(formdata=None),
    )
    return page, status


@blp.route("/members/<member_id>")
@permission_required("members:read")
@operators_only
def detail(member_id):
    """A member with level, points, cards and recent sales; the phone masked."""
    return _member_page(members.get_member(member_id))


@blp.route("/members/<member_id>/phone", methods=["POST"])
@permission_required("members:phone")
@operators_only
def reveal_phone(member_id):
    """Show the full phone number on this page only; the access is written to the audit log."""
    member = members.get_member(member_id)
    phone = members.reveal_phone(current_actor().key, member.id)
    return _member_page(member, phone=phone)


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
