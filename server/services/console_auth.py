"""Console sign-in with passwords: argon2 check, lock-out after repeated failures, audited sign-in and -out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, func, select, update

from server.domain.errors import Conflict, DomainError, InvalidRequest, NotFound
from server.domain.passwords import password_problem
from server.domain.statuses import StaffStatus
from server.extensions import db
from server.models import AuditLog, ConsoleSession, StaffUser
from server.models.base import utcnow
from server.security import totp
from server.security.credentials import hash_password, new_token, token_hash, verify_password
from server.services.audit import audit
from server.services.unit_of_work import transactional

FAILED_SIGN_IN = "console.sign_in_failed"
SESSION_TOKEN_PREFIX = "cs_"
TOUCH_EVERY = timedelta(minutes=1)  # how stale ``last_seen_at`` may get before a request writes it
SESSION_RETENTION = timedelta(days=30)  # a user's old session rows are deleted when they next sign in
# Verified against when the username is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = hash_password("not-a-real-password-just-for-timing")


class SignInFailed(DomainError):
    """Wrong username or password; the failure itself is recorded (counter, lock-out, audit)."""

    code, status, default_message = "sign_in_failed", 401, "Wrong username or password."
    keeps_changes = True


class TooManyAttempts(DomainError):
    """Too many failed sign-ins from one address: it must wait (counted in the shared database)."""

    code, status, default_message = "rate_limited", 429, "Too many failed sign-ins from this address; wait a while."


class AccountLocked(DomainError):
    """Too many failed sign-ins: the account is locked for a while."""

    code, status, default_message = "account_locked", 423, "Too many failed sign-ins; try again later."
    keeps_changes = True


def _limits() -> tuple[int, timedelta]:
    config = current_app.config
    return config["CONSOLE_MAX_FAILED_LOGINS"], timedelta(minutes=config["CONSOLE_LOCKOUT_MINUTES"])


def _source_actor(source: str) -> str:
    """Failed sign-ins are logged as the address they came from, so they can be counted per address."""
    return f"ip:{source or 'unknown'}"[:40]


def _check_source(source: str) -> None:
    """Refuse an address with too many failures in the lock-out period (whichever usernames it tried)."""
    limit = current_app.config["CONSOLE_MAX_FAILED_LOGINS_PER_ADDRESS"]
    since = utcnow() - _limits()[1]
    failures = db.session.scalar(
        select(func.count())
        .select_from(AuditLog)
        .where(AuditLog.actor == _source_actor(source), AuditLog.action == FAILED_SIGN_IN, AuditLog.created_at > since)
    )
    if failures >= limit:
        raise TooManyAttempts()


@dataclass(frozen=True)
class OpenedSession:
    """A new console session; the clear token exists only here and in the user's browser."""

    user: StaffUser
    token: str


def is_locked(user: StaffUser) -> bool:
    """True while the user's lock-out lasts."""
    return user.locked_until is not None and user.locked_until > utcnow()


class SecondFactorRequired(DomainError):
    """The password was right; the account also wants the code of its authenticator app."""

    code, status, default_message = "second_factor_required", 401, "Enter the code from your authenticator app."
    keeps_changes = True


class SecondFactorWrong(DomainError):
    """A wrong second-factor code; it counts towards the lock-out like a wrong password."""

    code, status, default_message = "second_factor_wrong", 401, "The code is wrong or has expired."
    keeps_changes = True


SECOND_FACTOR_ROLES = frozenset({"admin", "finance"})  # the roles that may turn on a TOTP second factor


def _failed(user: StaffUser, source: str, error: type[DomainError] = SignInFailed) -> DomainError:
    """Count a failed sign-in of ``user``; the error to raise (a lock-out after too many)."""
    max_failures, lock_for = _limits()
    user.failed_logins += 1
    audit(_source_actor(source), FAILED_SIGN_IN, "staff_user", user.id, failures=user.failed_logins)
    if user.failed_logins >= max_failures:
        user.locked_until = utcnow() + lock_for
        user.failed_logins = 0
        until = user.locked_until.isoformat()
        audit("system:console", "console.account_locked", "staff_user", user.id, until=until)
        return AccountLocked(locked_until=until)
    return error()


def _open_session(user: StaffUser, source: str) -> OpenedSession:
    user.failed_logins = 0
    user.locked_until = None
    db.session.execute(
        delete(ConsoleSession).where(
            ConsoleSession.user_id == user.id, ConsoleSession.created_at < utcnow() - SESSION_RETENTION
        )
    )
    token = new_token(SESSION_TOKEN_PREFIX)
    db.session.add(ConsoleSession(token_hash=token_hash(token), user_id=user.id, source=source[:64]))
    audit(f"staff:{user.id}", "console.sign_in", "staff_user", user.id, source=source)
    return OpenedSession(user, token)


@transactional
def sign_in(username: str, password: str, source: str = "") -> OpenedSession:
    """Open a session for the active staff user with this username and password; failures count towards a lock-out.

    An account with a second factor gets no session yet: :class:`SecondFactorRequired` carries its id for
    :func:`sign_in_second_factor`.
    """
    _check_source(source)
    user = db.session.scalar(select(StaffUser).where(StaffUser.username == username.strip()).with_for_update())
    if user is None or user.password_hash is None:
        verify_password(_DUMMY_HASH, password)
        audit(_source_actor(source), FAILED_SIGN_IN, "staff_user", username.strip()[:40])
        raise SignInFailed()
    if is_locked(user):
        audit(_source_actor(source), "console.sign_in_refused_locked", "staff_user", user.id)
        raise AccountLocked(locked_until=user.locked_until.isoformat())
    if not verify_password(user.password_hash, password) or user.status != StaffStatus.ACTIVE:
        raise _failed(user, source)
    if user.totp_secret_ciphertext is not None:
        raise SecondFactorRequired(user_id=user.id)
    return _open_session(user, source)


@transactional
def sign_in_second_factor(user_id: str, code: str, source: str = "") -> OpenedSession:
    """Finish a sign-in whose password was right with the authenticator app's current code."""
    _check_source(source)
    user = db.session.scalar(select(StaffUser).where(StaffUser.id == user_id).with_for_update())
    if user is None or user.status != StaffStatus.ACTIVE or user.totp_secret_ciphertext is None:
        raise SignInFailed()
    if is_locked(user):
        raise AccountLocked(locked_until=user.locked_until.isoformat())
    step = totp.matching_step(totp.unseal(user.totp_secret_ciphertext), code)
    if step is None or (user.totp_last_step is not None and step <= user.totp_last_step):
        raise _failed(user, source, SecondFactorWrong)  # wrong, or a code already used (replayed)
    user.totp_last_step = step
    return _open_session(user, source)


def session_user(token: str) -> StaffUser | None:
    """The user of a live session: not ended, not idle too long, not too old, the user active and unlocked."""
    config = current_app.config
    now = utcnow()
    row = db.session.get(ConsoleSession, token_hash(token))
    if (
        row is None
        or row.ended_at is not None
        or now - row.created_at > timedelta(hours=config["CONSOLE_SESSION_HOURS"])
        or now - row.last_seen_at > timedelta(minutes=config["CONSOLE_IDLE_MINUTES"])
    ):
        return None
    user = db.session.get(StaffUser, row.user_id)
    if user is None or user.status != StaffStatus.ACTIVE or is_locked(user):
        return None
    if now - row.last_seen_at > TOUCH_EVERY:
        _touch(row.token_hash, now)
    return user


@transactional
def _touch(session_hash: str, now) -> None:
    db.session.execute(update(ConsoleSession).where(ConsoleSession.token_hash == session_hash).values(last_seen_at=now))


@transactional
def sign_out(token: str) -> None:
    """End the session for good (a copy of its cookie stops working too); audited."""
    row = db.session.get(ConsoleSession, token_hash(token))
    if row is None or row.ended_at is not None:
        return
    row.ended_at = utcnow()
    audit(f"staff:{row.user_id}", "console.sign_out", "staff_user", row.user_id)


def _end_sessions(user_id: str) -> None:
    """End every open session of a user (new password, disabled account)."""
    db.session.execute(
        update(ConsoleSession)
        .where(ConsoleSession.user_id == user_id, ConsoleSession.ended_at.is_(None))
        .values(ended_at=utcnow())
    )


def get_staff_user(user_id: str) -> StaffUser:
    """A staff user by id (NotFound when there is none)."""
    return _staff_user(user_id)


def _staff_user(user_id: str) -> StaffUser:
    user = db.session.get(StaffUser, user_id)
    if user is None:
        raise NotFound("No such staff user.", user_id=user_id)
    return user


@transactional
def unlock(actor: str, user_id: str) -> StaffUser:
    """Lift a lock-out and clear the failure counter."""
    user = _staff_user(user_id)
    user.locked_until, user.failed_logins = None, 0
    audit(actor, "staff.unlock", "staff_user", user.id)
    return user


def check_password_policy(password: str, username: str) -> None:
    """Refuse a password the policy does not allow (``server.domain.passwords``)."""
    problem = password_problem(password, username)
    if problem is not None:
        raise InvalidRequest(problem, field="password")


@transactional
def set_password(actor: str, user_id: str, password: str) -> StaffUser:
    """Give a staff user a new console password; their open sessions end. Set by someone else (an admin's
    reset), it must be changed at the next sign-in."""
    user = _staff_user(user_id)
    check_password_policy(password, user.username)
    user.password_hash = hash_password(password)
    user.locked_until, user.failed_logins = None, 0
    user.must_change_password = actor != f"staff:{user.id}"
    _end_sessions(user.id)
    audit(actor, "staff.set_password", "staff_user", user.id)
    return user


@transactional
def change_own_password(user_id: str, current: str, new: str, keep_session: str | None = None) -> StaffUser:
    """The user's own new password (the current one proves it is them); their other sessions end."""
    user = _staff_user(user_id)
    if user.password_hash is None or not verify_password(user.password_hash, current):
        raise InvalidRequest("The current password is wrong.", field="current")
    if new == current:
        raise InvalidRequest("Choose a password different from the current one.", field="password")
    check_password_policy(new, user.username)
    user.password_hash = hash_password(new)
    user.must_change_password = False
    db.session.execute(
        update(ConsoleSession)
        .where(
            ConsoleSession.user_id == user.id,
            ConsoleSession.ended_at.is_(None),
            ConsoleSession.token_hash != (token_hash(keep_session) if keep_session else ""),
        )
        .values(ended_at=utcnow())
    )
    audit(f"staff:{user.id}", "staff.change_password", "staff_user", user.id)
    return user


@transactional
def enable_second_factor(user_id: str, secret: str, code: str) -> StaffUser:
    """Turn on the TOTP second factor with a secret the user's app shows ``code`` for (admins and finance)."""
    user = _staff_user(user_id)
    if user.role not in SECOND_FACTOR_ROLES:
        raise InvalidRequest("Only administrators and finance staff use a second factor.", field="role")
    step = totp.matching_step(secret, code)
    if step is None:
        raise InvalidRequest("The code is wrong or has expired.", field="code")
    user.totp_secret_ciphertext, user.totp_last_step = totp.seal(secret), step
    audit(f"staff:{user.id}", "staff.second_factor_on", "staff_user", user.id)
    return user


@transactional
def disable_second_factor(actor: str, user_id: str, code: str | None = None, reason: str = "") -> StaffUser:
    """Turn the second factor off: the user with a current code, or an admin for them (a lost phone)."""
    user = _staff_user(user_id)
    if user.totp_secret_ciphertext is None:
        raise Conflict("The second factor is not on.")
    if actor == f"staff:{user.id}" and not totp.code_matches(totp.unseal(user.totp_secret_ciphertext), code or ""):
        raise InvalidRequest("The code is wrong or has expired.", field="code")
    user.totp_secret_ciphertext, user.totp_last_step = None, None
    details = {"reason": reason.strip()[:200]} if reason.strip() else {}
    audit(actor, "staff.second_factor_off", "staff_user", user.id, **details)
    return user


@transactional
def set_status(actor: str, user_id: str, status: str, reason: str = "") -> StaffUser:
    """Enable or disable a staff account (a disabled account cannot sign in or use its tokens)."""
    if status not in set(StaffStatus):
        raise InvalidRequest("Unknown staff status.", field="status")
    if status != StaffStatus.ACTIVE and actor == f"staff:{user_id}":
        raise InvalidRequest("You cannot disable yourself.", field="status")
    user = _staff_user(user_id)
    user.status = status
    if status != StaffStatus.ACTIVE:
        _end_sessions(user.id)
    audit(actor, "staff.set_status", "staff_user", user.id, status=status, **({"reason": reason} if reason else {}))
    return user
