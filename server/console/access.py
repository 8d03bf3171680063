"""Who is signed in to the console, what their role allows, and which merchant they are confined to."""

from __future__ import annotations

import functools
import hashlib
import hmac
from datetime import timedelta

from flask import abort, current_app, g, session

from server.api.auth import Actor
from server.extensions import db
from server.models import StaffUser
from server.models.base import utcnow
from server.services.console_auth import is_locked

SESSION_USER = "console_user"
SESSION_FINGERPRINT = "console_fp"
SESSION_SINCE = "console_since"


def _fingerprint(user: StaffUser) -> str:
    """Binds a session to the password it was opened with: a new password ends every other session."""
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"{user.id}:{user.password_hash}".encode(), hashlib.sha256).hexdigest()[:32]


def start_session(user: StaffUser) -> None:
    """Sign ``user`` in: a fresh console session (and CSRF token) that ends after CONSOLE_SESSION_HOURS."""
    end_session()
    session[SESSION_USER] = user.id
    session[SESSION_FINGERPRINT] = _fingerprint(user)
    session[SESSION_SINCE] = int(utcnow().timestamp())


def end_session() -> None:
    """Forget the console sign-in (other keys of the session, e.g. a member's, stay)."""
    for key in (SESSION_USER, SESSION_FINGERPRINT, SESSION_SINCE, "csrf_token"):
        session.pop(key, None)


def signed_in_user() -> StaffUser | None:
    """The staff user of this session, if still active, unlocked and with the same password."""
    user_id = session.get(SESSION_USER)
    if not user_id:
        return None
    lifetime = timedelta(hours=current_app.config["CONSOLE_SESSION_HOURS"])
    user = db.session.get(StaffUser, user_id)
    if (
        utcnow().timestamp() - session.get(SESSION_SINCE, 0) > lifetime.total_seconds()
        or user is None
        or user.status != "active"
        or is_locked(user)
        or not hmac.compare_digest(session.get(SESSION_FINGERPRINT, ""), _fingerprint(user))
    ):
        end_session()
        return None
    return user


def actor_for(user: StaffUser) -> Actor:
    """The console user as the actor services and audit entries know."""
    return Actor(f"staff:{user.id}", user.role, user.merchant_id, user=user)


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
            if not any(can(permission) for permission in permissions):
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorate


def operators_only(view):
    """View decorator: 403 for merchant staff (alliance-wide pages)."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if current_actor().merchant_id is not None:
            abort(403)
        return view(*args, **kwargs)

    return wrapper


def check_merchant(merchant_id: str | None) -> None:
    """404 when merchant staff reach for another merchant's object (its existence is not revealed)."""
    scope = current_actor().merchant_id
    if scope is not None and merchant_id != scope:
        abort(404)


def merchant_scope() -> str | None:
    """The merchant the user is confined to (None: the whole alliance)."""
    return current_actor().merchant_id
