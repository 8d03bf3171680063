"""Signing in and out of the console."""

from __future__ import annotations

import time

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from server.console import access
from server.console.forms import ActionForm, SecondFactorForm, SignInForm
from server.services import console_auth

PENDING = "console_second_factor"  # the signed session cookie holds who passed the password step, until when
PENDING_SECONDS = 300

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
        except console_auth.SecondFactorRequired as needed:
            session[PENDING] = {"user": needed.details["user_id"], "until": int(time.time()) + PENDING_SECONDS}
            return redirect(url_for(".second_factor", next=request.args.get("next")))
        else:
            access.start_session(opened)
            return redirect(_safe_next(request.args.get("next")))
    elif request.method == "POST":
        status = 422
    return render_template("console/sign_in.html", form=form), status


@blp.route("/sign-in/code", methods=["GET", "POST"])
def second_factor():
    """The second step for an account with a second factor: the authenticator app's six-digit code."""
    pending = session.get(PENDING) or {}
    if not pending.get("user") or pending.get("until", 0) < time.time():
        session.pop(PENDING, None)
        flash(_("Sign in again."), "warning")
        return redirect(url_for(".sign_in"))
    form = SecondFactorForm()
    status = 200
    if form.validate_on_submit():
        try:
            opened = console_auth.sign_in_second_factor(pending["user"], form.code.data, request.remote_addr or "")
        except console_auth.AccountLocked:
            session.pop(PENDING, None)
            flash(_("Too many failed sign-ins: this account is locked for a while. Ask an administrator."), "danger")
            return redirect(url_for(".sign_in")), 303
        except console_auth.TooManyAttempts:
            flash(_("Too many failed sign-ins from this address. Wait a while and try again."), "danger")
            status = 429
        except (console_auth.SecondFactorWrong, console_auth.SignInFailed):
            flash(_("The code is wrong or has expired."), "danger")
            status = 401
        else:
            session.pop(PENDING, None)
            access.start_session(opened)
            return redirect(_safe_next(request.args.get("next")))
    elif request.method == "POST":
        status = 422
    return render_template("console/sign_in.html", form=form, second_factor=True), status


@blp.route("/sign-out", methods=["POST"])
def sign_out():
    """End the console session (audited)."""
    if ActionForm().validate_on_submit():
        console_auth.sign_out(access.session_token())
        access.end_session()
        flash(_("You are signed out."), "info")
    return redirect(url_for("console.auth.sign_in"))
