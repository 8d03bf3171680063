"""Agents signing in to their portal (/a/) with phone + one-time SMS code.

The code is the one home of one-time codes (``server/services/one_time_codes.py``, purpose ``agent_login``,
so an agent who is also a member never burns the member's pending code) and goes out through the SMS outbox
with the login template. Only active agents, and suspended ones (read-only, with a notice), may sign in; a
code is texted only to such an agent's phone, and the answer to the request is the same either way, so the
page reveals nobody's phone.

The session is a signed, expiring cookie naming the agent, the phone it signed in with and when: it stops
working when the agent's phone changes, when the agent is terminated (or set back), when the agent signs out
(every session opened before, on any phone: the sign-out is an audit entry), and after
``MEMBER_SESSION_DAYS``.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import func, select

from server.domain.errors import Forbidden
from server.domain.identifiers import normalize_mobile
from server.domain.statuses import AgentStatus
from server.extensions import db
from server.models import Agent, AuditLog
from server.models.base import utcnow
from server.security.pii import phone_lookup_hash
from server.services import one_time_codes
from server.services.audit import audit
from server.services.member_login import text_login_code
from server.services.unit_of_work import transactional

PURPOSE = "agent_login"
SIGN_IN_STATUSES = (AgentStatus.ACTIVE, AgentStatus.SUSPENDED)
_SALT = "agent-portal-session"
SIGN_OUT = "agent.logout"


@dataclass(frozen=True)
class AgentLogin:
    """An agent signed in: the session token for the portal's cookie."""

    agent: Agent
    session_token: str


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def _session_days() -> int:
    return current_app.config["MEMBER_SESSION_DAYS"]


def _agent_for_phone(mobile: str) -> Agent | None:
    return db.session.scalar(select(Agent).where(Agent.phone_hash == phone_lookup_hash(mobile)))


@transactional
def request_login_code(phone: str) -> int | None:
    """Text a one-time code to ``phone`` if it is an agent that may sign in; the queued message's id, or None."""
    mobile = normalize_mobile(phone)
    agent = _agent_for_phone(mobile)
    if agent is None or agent.status not in SIGN_IN_STATUSES:
        return None
    return text_login_code(PURPOSE, mobile)  # agent.phone_hash is the same keyed hash of ``mobile``


@transactional
def log_in(phone: str, code: str) -> AgentLogin:
    """Check the one-time code and open a session for the agent of ``phone``."""
    mobile = normalize_mobile(phone)
    one_time_codes.check_code(PURPOSE, phone_lookup_hash(mobile), code)
    agent = _agent_for_phone(mobile)
    if agent is None or agent.status not in SIGN_IN_STATUSES:
        raise Forbidden("No active agent has this phone number.", field="phone")
    token = _serializer().dumps({"agent": agent.id, "phone": agent.phone_hash[:16], "at": utcnow().timestamp()})
    audit(f"agent:{agent.id}", "agent.login", "agent", agent.id)
    return AgentLogin(agent, token)


def session_days() -> int:
    """How long a session lasts (the cookie's max age), in days."""
    return _session_days()


def agent_for_session(token: str) -> Agent | None:
    """The agent a session cookie names, while it may still sign in; else None."""
    if not token or len(token) > 500:
        return None
    try:
        data = _serializer().loads(token, max_age=_session_days() * 86_400)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("agent"), str):
        return None
    agent = db.session.get(Agent, data["agent"])
    if agent is None or agent.status not in SIGN_IN_STATUSES or agent.phone_hash[:16] != data.get("phone"):
        return None
    signed_out = db.session.scalar(
        select(func.max(AuditLog.created_at)).where(
            AuditLog.object_id == agent.id, AuditLog.object_type == "agent", AuditLog.action == SIGN_OUT
        )
    )
    issued = data.get("at")
    if not isinstance(issued, int | float) or (signed_out is not None and signed_out.timestamp() >= issued):
        return None
    return agent


@transactional
def log_out(token: str) -> None:
    """End every session the agent of ``token`` opened until now (on this phone and any other)."""
    agent = agent_for_session(token)
    if agent is not None:
        audit(f"agent:{agent.id}", SIGN_OUT, "agent", agent.id)
