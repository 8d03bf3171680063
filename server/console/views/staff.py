"""Console users (staff): create with a role and password, unlock, reset password, disable (admins)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from server.console import navigation
from server.console.access import current_actor, merchant_names, permission_required
from server.console.confirm import Confirmation, confirm_form, confirm_page
from server.console.display import ROLE_LABELS, domain_message
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
                    must_change_password=True,  # the user chooses their own at the first sign-in
                )
            except DomainError as exc:
                flash(domain_message(exc), "danger")
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


@blp.route("/staff/<user_id>/disable", methods=["GET", "POST"])
@permission_required("staff:write")
def disable(user_id):
    """Disable a staff account (its sessions and tokens stop at once), confirmed with a reason (audited)."""
    user = console_auth.get_staff_user(user_id)
    if user.status != StaffStatus.ACTIVE:
        flash(_("This account is already disabled."), "warning")
        return redirect(url_for(".index"))
    form = confirm_form()
    if request.method == "GET" or not form.validate_on_submit():
        confirmation = Confirmation(
            title=_("Disable the account %(name)s", name=user.display_name or user.username),
            subject=f"{user.display_name or user.username} ({user.username}) · {ROLE_LABELS.get(user.role, user.role)}",
            warning=_("The user is signed out at once and can no longer sign in or use their API tokens."),
            button=_("Disable"),
            action_url=url_for(".disable", user_id=user.id),
            back_url=url_for(".index"),
        )
        return confirm_page(confirmation, form)
    try:
        console_auth.set_status(current_actor().key, user.id, StaffStatus.DISABLED, reason=form.reason.data)
    except DomainError as exc:
        flash(domain_message(exc), "danger")
    else:
        flash(_("Saved."), "success")
    return redirect(url_for(".index"))


@blp.route("/staff/<user_id>/second-factor-off", methods=["GET", "POST"])
@permission_required("staff:write")
def second_factor_off(user_id):
    """Turn off another user's second factor (a lost phone), confirmed with a reason (audited)."""
    user = console_auth.get_staff_user(user_id)
    if user.totp_secret_ciphertext is None:
        flash(_("The second factor is off."), "warning")
        return redirect(url_for(".index"))
    form = confirm_form()
    if request.method == "GET" or not form.validate_on_submit():
        confirmation = Confirmation(
            title=_("Turn off the second factor of %(name)s", name=user.display_name or user.username),
            subject=f"{user.display_name or user.username} ({user.username}) · {ROLE_LABELS.get(user.role, user.role)}",
            warning=_("The user then signs in with the password alone until they set up the second factor again."),
            button=_("Turn off"),
            action_url=url_for(".second_factor_off", user_id=user.id),
            back_url=url_for(".index"),
        )
        return confirm_page(confirmation, form)
    try:
        console_auth.disable_second_factor(current_actor().key, user.id, reason=form.reason.data)
    except DomainError as exc:
        flash(domain_message(exc), "danger")
    else:
        flash(_("Saved."), "success")
    return redirect(url_for(".index"))


@blp.route("/staff/<user_id>/<action>", methods=["POST"])
@permission_required("staff:write")
def change(user_id, action):
    """Unlock, enable or set a new password for a user (audited); disabling is :func:`disable`."""
    actor = current_actor()
    try:
        if action == "unlock":
            console_auth.unlock(actor.key, user_id)
        elif action == "enable":
            console_auth.set_status(actor.key, user_id, StaffStatus.ACTIVE)
        elif action == "password":
            form = PasswordForm()
            if not form.validate_on_submit():
                raise DomainError(_("Passwords need at least 10 characters."))
            console_auth.set_password(actor.key, user_id, form.password.data)  # to be changed at the next sign-in
        else:
            return redirect(url_for(".index"))
    except DomainError as exc:
        flash(domain_message(exc), "danger")
    else:
        flash(_("Saved."), "success")
    return redirect(url_for(".index"))
