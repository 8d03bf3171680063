"""Staff accounts, personal API tokens and the authentication of tokens."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from server.domain.errors import Conflict, InvalidRequest, NotFound, Unauthorized
from server.domain.passwords import password_problem
from server.domain.permissions import MERCHANT_ROLES, ROLES
from server.domain.statuses import MerchantStatus, StaffStatus, TerminalStatus
from server.extensions import db
from server.models import Merchant, PersonalToken, StaffUser, Terminal
from server.models.base import new_id, utcnow
from server.security.credentials import PERSONAL_TOKEN_PREFIX, hash_password, new_token, token_hash
from server.services.audit import audit
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


@transactional
def create_personal_token(actor: str, user_id: str, name: str) -> IssuedToken:
    """Give a staff user an API token, shown once."""
    if db.session.get(StaffUser, user_id) is None:
        raise NotFound("No such staff user.", user_id=user_id)
    token = new_token(PERSONAL_TOKEN_PREFIX)
    record = PersonalToken(id=new_id("tok"), user_id=user_id, name=name, token_hash=token_hash(token))
    db.session.add(record)
    audit(actor, "staff.create_token", "staff_user", user_id, token_id=record.id)
    return IssuedToken(record, token)


def terminal_for_token(token: str) -> Terminal:
    """The active terminal (with its merchant loaded) that owns ``token``."""
    terminal = db.session.scalar(select(Terminal).where(Terminal.token_hash == token_hash(token)))
    if (
        terminal is None
        or terminal.status != TerminalStatus.ACTIVE
        or terminal.merchant.status != MerchantStatus.ACTIVE
    ):
        raise Unauthorized()
    return terminal


def staff_for_token(token: str) -> StaffUser:
    """The active staff user who owns the unrevoked personal ``token``."""
    user = db.session.scalar(
        select(StaffUser)
        .join(PersonalToken, PersonalToken.user_id == StaffUser.id)
        .where(PersonalToken.token_hash == token_hash(token), PersonalToken.revoked_at.is_(None))
    )
    if user is None or user.status != StaffStatus.ACTIVE or (user.locked_until and user.locked_until > utcnow()):
        raise Unauthorized()
    return user
