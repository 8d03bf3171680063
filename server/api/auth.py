"""Who is calling: terminal bearer tokens (tt_...) and staff personal tokens (pt_...).

The actor and what it may do live in ``server.domain.permissions``; ``Actor`` is re-exported here.
"""

from __future__ import annotations

from flask import g, request

from server.domain.errors import Forbidden, NotFound, Unauthorized
from server.domain.permissions import SET_DISCOUNTS_PERMISSIONS, Actor, staff_actor, terminal_actor
from server.models import Terminal
from server.security.credentials import PERSONAL_TOKEN_PREFIX, TERMINAL_TOKEN_PREFIX
from server.services.staff import staff_for_token, terminal_for_token

TERMINAL_SECURITY = [{"terminalToken": []}]
STAFF_SECURITY = [{"personalToken": []}]
ANY_SECURITY = [{"terminalToken": []}, {"personalToken": []}]


def _bearer_token() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Send 'Authorization: Bearer <token>'.")
    return token.strip()


def current_actor() -> Actor:
    """Authenticate the request once and return its actor."""
    if "actor" not in g:
        token = _bearer_token()
        if token.startswith(TERMINAL_TOKEN_PREFIX):
            terminal = terminal_for_token(token)
            g.actor = terminal_actor(terminal)
        elif token.startswith(PERSONAL_TOKEN_PREFIX):
            user = staff_for_token(token)
            g.actor = staff_actor(user)
        else:
            raise Unauthorized()
    return g.actor


def require(permission: str) -> Actor:
    """The caller, if its role grants ``permission``; 403 otherwise."""
    actor = current_actor()
    if not actor.can(permission):
        raise Forbidden()
    return actor


def require_terminal() -> Terminal:
    """The calling terminal; other callers get 403."""
    actor = current_actor()
    if actor.terminal is None:
        raise Forbidden("Only a terminal may do this.")
    return actor.terminal


def check_merchant_scope(actor: Actor, merchant_id: str | None) -> None:
    """404 when a merchant-scoped caller asks for another merchant's object (its existence is not revealed)."""
    if not actor.sees_merchant(merchant_id):
        raise NotFound()


def authenticate_staff() -> Actor:
    """The calling staff member; a missing or bad token gets 401, a terminal 403."""
    actor = current_actor()
    if actor.user is None:
        raise Forbidden("Only staff may do this.")
    return actor


def staff_only() -> None:
    """Blueprint guard: only staff reach operator endpoints, so 401/403 come before any validation."""
    authenticate_staff()


def require_staff(permission: str) -> Actor:
    """The calling staff member, if their role grants ``permission``; 403 otherwise (terminals too)."""
    authenticate_staff()
    return require(permission)


def require_discount_setter(merchant_id: str) -> Actor:
    """Who may set a merchant's level discounts and gifts: operators, and the merchant's owner for their own."""
    actor = authenticate_staff()
    if not actor.can_any(*SET_DISCOUNTS_PERMISSIONS):
        raise Forbidden()
    check_merchant_scope(actor, merchant_id)
    if not actor.may_set_discounts(merchant_id):
        raise Forbidden()
    return actor
