"""Signing in and out of the console."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from server.console import access
from server.console.forms import ActionForm, SignInForm
from server.services import console_auth

blp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    """Only ever return to a console page (no open redirect)."""
    if target and target.startswith("/console") and not target.startswith("//"):
        return target
    return url_for("console.dashboard.index")


@blp.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    """The sign-in form; wrong passwords count towards a lock-out."""
    form = SignInForm()
    status = 200
    if form.validate_on_submit():
        try:
            opened = console_auth.sign_in(form.username.data, form.password.data, source=request.remote_addr or "")
        except console_auth.AccountLocked:
            flash(_("Too many failed sign-ins: this account is locked for a while. Ask an administrator."), "danger")
            status = 423
        except console_auth.TooManyAttempts:
            flash(_("Too many failed sign-ins from this address. Wait a while and try again."), "danger")
            status = 429
        except console_auth.SignInFailed:
            flash(_("Wrong username or password."), "danger")
            status = 401
        else:
            access.start_session(opened)
            return redirect(_safe_next(request.args.get("next")))
    elif request.method == "POST":
        status = 422
    return render_template("console/sign_in.html", form=form), status


@blp.route("/sign-out", methods=["POST"])
def sign_out():
    """End the console session (audited)."""
    if ActionForm().validate_on_submit():
        console_auth.sign_out(access.session_token())
        access.end_session()
        flash(_("You are signed out."), "info")
    return redirect(url_for("console.auth.sign_in"))
