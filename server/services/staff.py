"""Staff accounts, personal API tokens and the authentication of tokens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select

from server.domain.errors import Conflict, InvalidRequest, NotFound, Unauthorized
from server.domain.passwords import password_problem
from server.domain.permissions import MERCHANT_ROLES, ROLES
from server.domain.statuses import MerchantStatus, StaffStatus, TerminalStatus
from server.extensions import db
from server.models import Merchant, PersonalToken, StaffUser, Terminal
from server.models.base import new_id, utcnow
from server.security.credentials import PERSONAL_TOKEN_PREFIX, hash_password, new_token, token_hash
from server.services import worker_copies
from server.services.audit import audit
from server.services.queries import paginate
from server.services.unit_of_work import transactional


@dataclass(frozen=True)
class IssuedToken:
    """A personal token; the clear token exists only here (it is stored hashed)."""

    record: PersonalToken
    token: str


@transactional
def create_staff_user(
    actor: str,
    username: str,
    role: str,
    password: str | None = None,
    merchant_id: str | None = None,
    display_name: str = "",
    must_change_password: bool = False,
) -> StaffUser:
    """Add a staff user; merchant roles must name their merchant, operator roles must not.

    The password must pass the policy (``server.domain.passwords``); ``must_change_password``: a first
    password someone else chose, to be changed at the first sign-in."""
    if role not in ROLES:
        raise InvalidRequest("Unknown role.", field="role", allowed=sorted(ROLES))
    if (role in MERCHANT_ROLES) != (merchant_id is not None):
        raise InvalidRequest(
            "Merchant roles need a merchant_id; operator roles must not have one.", field="merchant_id"
        )
    if merchant_id is not None and db.session.get(Merchant, merchant_id) is None:
        raise InvalidRequest("No such merchant.", field="merchant_id")
    if password is not None and (problem := password_problem(password, username)) is not None:
        raise InvalidRequest(problem, field="password")
    if db.session.scalar(select(StaffUser.id).where(StaffUser.username == username)):
        raise Conflict("This username is taken.", field="username")
    user = StaffUser(
        id=new_id("usr"),
        username=username,
        role=role,
        merchant_id=merchant_id,
        display_name=display_name,
        password_hash=hash_password(password) if password else None,
        must_change_password=must_change_password and password is not None,
    )
    db.session.add(user)
    audit(actor, "staff.create", "staff_user", user.id, role=role, merchant_id=merchant_id)
    return user


TOKEN_LIFETIMES_DAYS = (30, 90, 365)  # what the console offers; the API and create-admin may omit the expiry


@transactional
def create_personal_token(
    actor: str, user_id: str, name: str, expires_at: datetime | None = None, *, valid_days: int | None = None
) -> IssuedToken:
    """Give a staff user an API token, shown once (stored hashed); it stops working at ``expires_at``
    (or ``valid_days`` from now; neither: it works until revoked)."""
    user = db.session.get(StaffUser, user_id)
    if user is None:
        raise NotFound("No such staff user.", user_id=user_id)
    if user.status != StaffStatus.ACTIVE:
        raise Conflict("A disabled account cannot get an API token.", user_id=user_id)
    if not name.strip():
        raise InvalidRequest("Give the token a name (what it is for).", field="name")
    if valid_days is not None:
        if not 1 <= valid_days <= 3_650:
            raise InvalidRequest("A token is valid for 1 to 3650 days.", field="valid_days")
        expires_at = utcnow() + timedelta(days=valid_days)
    token = new_token(PERSONAL_TOKEN_PREFIX)
    record = PersonalToken(
        id=new_id("tok"),
        user_id=user_id,
        name=name.strip(),
        token_hash=token_hash(token),
        expires_at=expires_at,
        created_by=actor,
    )
    db.session.add(record)
    audit(
        actor,
        "staff.create_token",
        "staff_user",
        user_id,
        token_id=record.id,
        token_name=record.name,
        expires_at=_iso(expires_at),
    )
    return IssuedToken(record, token)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def list_personal_tokens(pagination, user_id: str | None = None) -> list[tuple[PersonalToken, StaffUser]]:
    """A page of personal tokens (of ``user_id``, or everyone's) with their owners: unrevoked first, newest first."""
    query = select(PersonalToken, StaffUser).join(StaffUser, StaffUser.id == PersonalToken.user_id)
    if user_id is not None:
        query = query.where(PersonalToken.user_id == user_id)
    query = query.order_by(PersonalToken.revoked_at.is_not(None), PersonalToken.created_at.desc(), PersonalToken.id)
    return [(token, user) for token, user in paginate(query, pagination)]


def get_personal_token(token_id: str) -> PersonalToken:
    """A personal token's record by id (never the token itself)."""
    record = db.session.get(PersonalToken, token_id)
    if record is None:
        raise NotFound("No such API token.", token_id=token_id)
    return record


def token_is_live(record: PersonalToken, now: datetime | None = None) -> bool:
    """True when a token still opens the API: not revoked, not expired."""
    now = now or utcnow()
    return record.revoked_at is None and (record.expires_at is None or record.expires_at > now)


@transactional
def revoke_personal_token(actor: str, token_id: str, reason: str = "") -> PersonalToken:
    """Stop a personal token at once (audited); revoking it again changes nothing."""
    record = db.session.scalar(select(PersonalToken).where(PersonalToken.id == token_id).with_for_update())
    if record is None:
        raise NotFound("No such API token.", token_id=token_id)
    if record.revoked_at is None:
        record.revoked_at, record.revoked_by = utcnow(), actor
        audit(
            actor,
            "staff.revoke_token",
            "staff_user",
            record.user_id,
            token_id=record.id,
            token_name=record.name,
            reason=reason,
        )
    return record


TERMINAL_CREDENTIALS_COPY = worker_copies.PREFIX + "terminal_credentials"


def terminal_for_token(token: str) -> Terminal:
    """The active terminal (with its merchant) that owns ``token``: the worker's copy while current.

    A token reset, a terminal disabled, a merchant suspended or its rates changed, committed anywhere, applies
    to the next request in every worker (``server/services/worker_copies.py``). The copy is detached and
    read-only: code that changes a terminal loads it (``catalog``), and the terminal's receipt counter is read
    from the row where it is shown (``GET /terminal``).
    """
    digest = token_hash(token)
    return worker_copies.copied(TERMINAL_CREDENTIALS_COPY, digest, lambda: _active_terminal(digest), _detached_copy)


def _active_terminal(digest: str) -> Terminal:
    terminal = db.session.scalar(select(Terminal).where(Terminal.token_hash == digest))
    if (
        terminal is None
        or terminal.status != TerminalStatus.ACTIVE
        or terminal.merchant.status != MerchantStatus.ACTIVE
    ):
        raise Unauthorized()
    return terminal


_TERMINAL_COLUMNS = Terminal.__mapper__.column_attrs
_MERCHANT_COLUMNS = Merchant.__mapper__.column_attrs


def _detached_copy(terminal: Terminal) -> Terminal:
    """A transient copy of the terminal and its merchant (never added to a session)."""
    merchant = terminal.merchant
    copy = Terminal(**{column.key: getattr(terminal, column.key) for column in _TERMINAL_COLUMNS})
    copy.merchant = Merchant(**{column.key: getattr(merchant, column.key) for column in _MERCHANT_COLUMNS})
    return copy


def staff_for_token(token: str) -> StaffUser:
    """The active staff user who owns the unrevoked personal ``token``."""
    user = db.session.scalar(
        select(StaffUser)
        .join(PersonalToken, PersonalToken.user_id == StaffUser.id)
        .where(
            PersonalToken.token_hash == token_hash(token),
            PersonalToken.revoked_at.is_(None),
            or_(PersonalToken.expires_at.is_(None), PersonalToken.expires_at > utcnow()),
        )
    )
    if user is None or user.status != StaffStatus.ACTIVE or (user.locked_until and user.locked_until > utcnow()):
        raise Unauthorized()
    return user
