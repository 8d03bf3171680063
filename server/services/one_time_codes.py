"""One-time SMS codes (login, proof at the till): the one home of their rule.

A code is 6 random digits stored as a keyed hash; only the newest code of a (purpose, subject) is
valid; it lives ``LOGIN_CODE_TTL_SECONDS`` and is burnt after ``LOGIN_CODE_MAX_ATTEMPTS`` wrong tries.
These helpers flush only: the caller's service call is the transaction.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, update

from server.domain.errors import LoginCodeInvalid
from server.extensions import db
from server.models import LoginCode
from server.models.base import utcnow
from server.security.pii import keyed_hash

CODE_DIGITS = 6
_HASH_PREFIXES = {
    "login": "login-code",
    "till_proof": "till-proof",
    "agent_login": "agent-login-code",
    "benefit_claim": "benefit-claim-code",  # a high-value claim on the member's page: subject member:SKU
}


def _code_hash(purpose: str, subject: str, code: str) -> str:
    return keyed_hash(f"{_HASH_PREFIXES[purpose]}:{subject}:{code}")


def ttl_minutes() -> int:
    """How long a code lives, in whole minutes (for the SMS text)."""
    return max(1, current_app.config["LOGIN_CODE_TTL_SECONDS"] // 60)


def issue_code(purpose: str, subject: str) -> tuple[str, datetime]:
    """A new code for ``subject`` (the older ones stop working); returns the code to send and its expiry.

    Queue it with ``queue_sms(..., secret=code, secret_expires_at=expires_at)``: the outbox keeps no usable copy.
    """
    now = utcnow()
    db.session.execute(
        update(LoginCode)
        .where(LoginCode.purpose == purpose, LoginCode.phone_hash == subject, LoginCode.used_at.is_(None))
        .values(used_at=now)
    )
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    expires_at = now + timedelta(seconds=current_app.config["LOGIN_CODE_TTL_SECONDS"])
    db.session.add(
        LoginCode(
            purpose=purpose, phone_hash=subject, code_hash=_code_hash(purpose, subject, code), expires_at=expires_at
        )
    )
    return code, expires_at


def check_code(purpose: str, subject: str, code: str) -> None:
    """Use up the pending code of ``subject`` if ``code`` matches; else count the try and raise.

    The caller's transaction must be kept when LoginCodeInvalid is raised (``keeps_changes``): the
    counted try is what burns the code after too many wrong guesses.
    """
    now = utcnow()
    pending = db.session.scalar(
        select(LoginCode)
        .where(LoginCode.purpose == purpose, LoginCode.phone_hash == subject, LoginCode.used_at.is_(None))
        .order_by(LoginCode.id.desc())
        .limit(1)
        .with_for_update()
    )
    if pending is None or pending.expires_at <= now:
        raise LoginCodeInvalid()
    max_attempts = current_app.config["LOGIN_CODE_MAX_ATTEMPTS"]
    if not hmac.compare_digest(pending.code_hash, _code_hash(purpose, subject, code.strip())):
        pending.attempts += 1
        if pending.attempts >= max_attempts:
            pending.used_at = now  # too many wrong guesses: the code is burnt, ask for a new one
        raise LoginCodeInvalid(attempts_left=max(0, max_attempts - pending.attempts))
    pending.used_at = now
