"""The signed-in user's own account: a new password (forced at the first sign-in and after an admin's
reset), and the optional TOTP second factor for administrators and finance staff."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from server.console import access, navigation
from server.console.access import current_actor
from server.console.display import domain_message
from server.console.forms import ChangePasswordForm, DisableSecondFactorForm, SecondFactorForm
from server.domain.errors import DomainError
from server.security import totp
from server.services import console_auth
from server.services.alliance import get_settings

blp = Blueprint("account", __name__)
navigation.add(navigation.NavItem("console.account.index", _l("My account"), "person-gear", None, order=95))
PENDING_SECRET = "console_totp_setup"  # the secret being set up, until the app's first code confirms it


def _user():
    return g.console_user


@blp.route("/account")
def index():
    """Password and second factor of the signed-in user."""
    user = _user()
    return render_template(
        "console/account/index.html",
        user=user,
        may_use_second_factor=user.role in console_auth.SECOND_FACTOR_ROLES,
        off_form=DisableSecondFactorForm(formdata=None),
    )


@blp.route("/account/password", methods=["GET", "POST"])
def password():
    """Choose a new password (the policy: long enough, not a common one, not the username)."""
    user = _user()
    form = ChangePasswordForm()
    status = 200
    if form.validate_on_submit():
        try:
            console_auth.change_own_password(user.id, form.current.data, form.password.data, access.session_token())
        except DomainError as exc:
            flash(domain_message(exc), "danger")
            status = 422
        else:
            flash(_("Your password is changed."), "success")
            return redirect(url_for("console.dashboard.index"))
    elif form.errors:
        status = 422
    return render_template("console/account/password.html", form=form, forced=user.must_change_password), status


@blp.route("/account/second-factor", methods=["GET", "POST"])
def second_factor():
    """Set up the authenticator app: scan the QR code, then confirm with the first code it shows."""
    user = _user()
    if user.role not in console_auth.SECOND_FACTOR_ROLES or user.totp_secret_ciphertext is not None:
        return redirect(url_for(".index"))
    secret = session.get(PENDING_SECRET) or totp.new_secret()
    session[PENDING_SECRET] = secret
    form = SecondFactorForm()
    status = 200
    if form.validate_on_submit():
        try:
            console_auth.enable_second_factor(user.id, secret, form.code.data)
        except DomainError as exc:
            flash(domain_message(exc), "danger")
            status = 422
        else:
            session.pop(PENDING_SECRET, None)
            flash(_("The second factor is on: signing in now also asks for the app's code."), "success")
            return redirect(url_for(".index"))
    elif form.errors:
        status = 422
    uri = totp.provisioning_uri(secret, user.username, issuer=get_settings().name or totp.ISSUER)
    page = render_template(
        "console/account/second_factor.html", form=form, qr_svg=Markup(totp.qr_svg(uri)), secret=secret
    )
    return page, status


@blp.route("/account/second-factor/off", methods=["POST"])
def second_factor_off():
    """Turn the second factor off with a current code."""
    form = DisableSecondFactorForm()
    if form.validate_on_submit():
        try:
            console_auth.disable_second_factor(current_actor().key, g.console_user.id, form.code.data)
        except DomainError as exc:
            flash(domain_message(exc), "danger")
        else:
            flash(_("The second factor is off."), "success")
    else:
        flash(_("The code is wrong or has expired."), "danger")
    return redirect(url_for(".index"))
