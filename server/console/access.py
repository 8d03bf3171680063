"""Who is signed in to the console, what their role allows, and which merchant they are confined to."""

from __future__ import annotations

import functools

from flask import abort, g, session
from sqlalchemy import select

from server.domain.permissions import Actor, staff_actor
from server.extensions import db
from server.models import Merchant, StaffUser
from server.services import console_auth

SESSION_TOKEN = "console_session"  # the cookie holds only this random token; the session lives in the database


def start_session(opened: console_auth.OpenedSession) -> None:
    """Remember the new console session in the browser, with a fresh CSRF token."""
    end_session()
    session[SESSION_TOKEN] = opened.token


def session_token() -> str | None:
    """This browser's console session token, if any."""
    return session.get(SESSION_TOKEN)


def end_session() -> None:
    """Forget the console sign-in in this browser (other keys of the session, e.g. a member's, stay)."""
    for key in (SESSION_TOKEN, "csrf_token"):
        session.pop(key, None)


def signed_in_user() -> StaffUser | None:
    """The staff user of this browser's live console session (see ``console_auth.session_user``)."""
    token = session_token()
    if not token:
        return None
    user = console_auth.session_user(token)
    if user is None:
        end_session()
    return user


def actor_for(user: StaffUser) -> Actor:
    """The console user as the actor services and audit entries know."""
    return staff_actor(user)


def current_actor() -> Actor:
    """The signed-in console user (views behind the sign-in only)."""
    return g.console_actor


def can(permission: str) -> bool:
    """True when the signed-in user's role grants ``permission``."""
    actor = g.get("console_actor")
    return actor is not None and actor.can(permission)


def permission_required(*permissions: str):
    """View decorator: 403 unless the user's role grants one of ``permissions``."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            actor = g.get("console_actor")
            if actor is None or not actor.can_any(*permissions):
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorate


def operators_only(view):
    """View decorator: 403 for merchant staff (alliance-wide pages)."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if not current_actor().alliance_wide:
            abort(403)
        return view(*args, **kwargs)

    return wrapper


def check_merchant(merchant_id: str | None) -> None:
    """404 when merchant staff reach for another merchant's object (its existence is not revealed)."""
    if not current_actor().sees_merchant(merchant_id):
        abort(404)


def merchant_scope() -> str | None:
    """The merchant the user is confined to (None: the whole alliance)."""
    return current_actor().merchant_id


def merchant_names() -> dict[str, str]:
    """Merchants the user may see and filter by (merchant staff: their own), id → name, by name."""
    query = select(Merchant.id, Merchant.name).order_by(Merchant.name)
    if merchant_scope():
        query = query.where(Merchant.id == merchant_scope())
    return dict(db.session.execute(query).all())
