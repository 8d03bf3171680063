"""Personal API tokens: each staff member issues (shown once) and revokes their own; admins revoke anyone's.

A token is a bearer token for the operator API (``Authorization: Bearer pt_...``), so for the command-line
tools too (``alliance-cards``, with ``ALLIANCE_TOKEN``), without ``alliance-server create-admin``.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from server.console import navigation
from server.console.access import current_actor
from server.console.card_forms import TokenForm
from server.console.confirm import Confirmation, confirm_form, confirm_page
from server.console.display import domain_message
from server.console.once import new_key, run_once
from server.console.paging import page_from_request
from server.domain.errors import DomainError
from server.models.base import utcnow
from server.services import staff

blp = Blueprint("tokens", __name__)
navigation.add(navigation.NavItem("console.tokens.index", _l("API tokens"), "key", None, order=95))


def _tokens_page(form: TokenForm | None = None, status: int = 200):
    actor = current_actor()
    everyone = actor.can("staff:write")  # admins see (and may revoke) every token
    page = page_from_request()
    rows = staff.list_personal_tokens(page, None if everyone else actor.user.id)
    return render_template(
        "console/tokens/index.html",
        tokens=rows,
        page=page,
        everyone=everyone,
        form=form or TokenForm(formdata=None, once=new_key()),
        live=staff.token_is_live,
        now=utcnow(),
        server_url=request.url_root.rstrip("/"),
    ), status


@blp.route("/tokens")
def index():
    """The signed-in user's API tokens (an admin: everyone's), with the form to issue one."""
    return _tokens_page()


@blp.route("/tokens", methods=["POST"])
def create():
    """Issue the signed-in user a token and show it, once (it is stored only as a hash)."""
    form = TokenForm()
    if not form.validate_on_submit():
        return _tokens_page(form, 422)
    issued = []

    def work():
        issued.append(
            staff.create_personal_token(
                current_actor().key, current_actor().user.id, form.name.data, valid_days=int(form.valid_days.data)
            )
        )
        return {"token_id": issued[0].record.id}  # the token itself is never stored, not even here

    try:
        done = run_once(form.once.data, work)
    except DomainError as exc:
        flash(domain_message(exc), "danger")
        return _tokens_page(form, 409)
    record = staff.get_personal_token(done.body["token_id"])
    return render_template(
        "console/tokens/issued.html",
        record=record,
        token=issued[0].token if issued else None,
        server_url=request.url_root.rstrip("/"),
    )


@blp.route("/tokens/<token_id>/revoke", methods=["GET", "POST"])
def revoke(token_id):
    """Revoke a token (it stops working at once), confirmed with a reason (audited)."""
    record = staff.get_personal_token(token_id)
    if not current_actor().may_manage_tokens_of(record.user_id):
        abort(404)  # another person's token: its existence is not revealed
    form = confirm_form()
    if request.method == "GET" or not form.validate_on_submit():
        confirmation = Confirmation(
            title=_("Revoke API token %(name)s", name=record.name),
            subject=_("API token %(name)s", name=record.name),
            warning=_("Programs using this token are refused at once. This cannot be undone."),
            button=_("Revoke token"),
            action_url=url_for(".revoke", token_id=record.id),
            back_url=url_for(".index"),
        )
        return confirm_page(confirmation, form)
    staff.revoke_personal_token(current_actor().key, record.id, form.reason.data)
    flash(_("API token %(name)s revoked.", name=record.name), "success")
    return redirect(url_for(".index"))
