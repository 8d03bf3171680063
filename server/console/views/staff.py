"""Console users (staff): create with a role and password, unlock, reset password, disable (admins)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from server.console import navigation
from server.console.access import current_actor, merchant_names, permission_required
from server.console.forms import ActionForm, PasswordForm, StaffForm, choice
from server.console.paging import page_from_request
from server.domain.errors import DomainError
from server.domain.permissions import MERCHANT_ROLES
from server.domain.statuses import StaffStatus
from server.services import console_auth, queries, staff
from server.services.console_auth import is_locked

blp = Blueprint("staff", __name__)
navigation.add(navigation.NavItem("console.staff.index", _l("Staff"), "person-badge", "staff:read", order=80))


def _merchant_choices(names: dict[str, str]) -> list[tuple[str, str]]:
    return [choice("", "—"), *[choice(merchant_id, name) for merchant_id, name in names.items()]]


@blp.route("/staff", methods=["GET", "POST"])
@permission_required("staff:read")
def index():
    """Every console user with role, merchant and lock state; admins add users here."""
    names = merchant_names()  # admins only: every merchant
    form = StaffForm()
    form.merchant_id.choices = _merchant_choices(names)
    if request.method == "POST":
        if not current_actor().can("staff:write"):
            return redirect(url_for(".index"))
        if form.validate_on_submit():
            merchant_id = form.merchant_id.data or None
            if form.role.data not in MERCHANT_ROLES:
                merchant_id = None
            try:
                staff.create_staff_user(
                    current_actor().key,
                    form.username.data,
                    form.role.data,
                    form.password.data,
                    merchant_id=merchant_id,
                    display_name=form.display_name.data,
                )
            except DomainError as exc:
                flash(_(exc.message), "danger")
            else:
                flash(_("User %(name)s created.", name=form.username.data), "success")
                return redirect(url_for(".index"))
    page = page_from_request()
    users = queries.list_staff({}, page)
    return render_template(
        "console/staff/index.html",
        users=users,
        page=page,
        form=form,
        merchant_names=names,
        is_locked=is_locked,
        action=ActionForm(formdata=None),
        password_form=PasswordForm(formdata=None),
    )


@blp.route("/staff/<user_id>/<action>", methods=["POST"])
@permission_required("staff:write")
def change(user_id, action):
    """Unlock, enable/disable or set a new password for a user (audited)."""
    actor = current_actor()
    try:
        if action == "unlock":
            console_auth.unlock(actor.key, user_id)
        elif action in {"disable", "enable"}:
            console_auth.set_status(
                actor.key, user_id, StaffStatus.DISABLED if action == "disable" else StaffStatus.ACTIVE
            )
        elif action == "password":
            form = PasswordForm()
            if not form.validate_on_submit():
                raise DomainError(_("Passwords need at least 10 characters."))
            console_auth.set_password(actor.key, user_id, form.password.data)
        else:
            return redirect(url_for(".index"))
    except DomainError as exc:
        flash(_(exc.message), "danger")
    else:
        flash(_("Saved."), "success")
    return redirect(url_for(".index"))
