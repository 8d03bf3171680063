"""The member a terminal identified: the open identification, the captured card or code, the merchant's view.

Identify, quote and the sale pipeline (``server/services/sales``) read the same identification and the
same member-at-merchant row from here, so they agree on who the member is and on the terms.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Row, bindparam, select, update

from alliance_shared.pricing import SaleTerms
from server.domain.errors import CardUnknown, IdentificationExpired, MemberFrozen, MemberNotFound, NotFound
from server.domain.identifiers import classify_scanned_code
from server.domain.statuses import MemberStatus
from server.domain.till_policy import identification_proof
from server.extensions import db
from server.hot_sql import HotStatement
from server.models import (
    AllianceSettings,
    Card,
    Identification,
    LedgerAccount,
    Level,
    Member,
    MerchantLevelDiscount,
    Terminal,
)
from server.models.base import utcnow
from server.security.credentials import token_hash
from server.services import cards
from server.services.levels import level_copies
from server.services.member_codes import verify_member_code
from server.services.members import find_member_by_phone

OFFLINE_CLOCK_SKEW = timedelta(minutes=10)

# Built once and run as Core statements (no per-sale construction, no ORM bulk path).
_identifications = Identification.__table__
_CONSUME_IDENTIFICATION = (  # one statement: two concurrent sales cannot both use the token
    update(_identifications)
    .where(
        _identifications.c.token_hash == bindparam("hash"),
        _identifications.c.terminal_id == bindparam("terminal"),
        _identifications.c.used_at.is_(None),
        _identifications.c.expires_at > bindparam("now"),
    )
    .values(used_at=bindparam("now"))
    .returning(
        _identifications.c.member_id,
        _identifications.c.card_id,
        _identifications.c.method,
        _identifications.c.proof,
    )
)


@dataclass(frozen=True)
class MemberAtMerchant:
    """A member as one merchant sees them: level, points and the terms that apply.

    ``member`` is a read-only row of the columns in ``MEMBER_COLUMNS`` (a Core row, not an ORM object: the
    sale reads it on every request); ``level`` is the worker's copy (``levels.level_copies``).
    """

    member: Row
    level: Level
    balance: int
    discount_bp: int


MEMBER_COLUMNS = (  # what identify, the sale and the till's card binding read of the member
    Member.id,
    Member.display_name,
    Member.phone_ciphertext,
    Member.phone_masked,
    Member.status,
    Member.level_id,
    Member.points_account_id,
    Member.invited_by_member_id,
    Member.recruited_by_agent_id,
    Member.created_at,
)
_MEMBER_AT_MERCHANT = HotStatement(  # built once: identify and every sale run it
    select(*MEMBER_COLUMNS, LedgerAccount.balance, MerchantLevelDiscount.discount_bp)
    .join(LedgerAccount, LedgerAccount.id == Member.points_account_id)
    .outerjoin(
        MerchantLevelDiscount,
        (MerchantLevelDiscount.level_id == Member.level_id)
        & (MerchantLevelDiscount.merchant_id == bindparam("merchant_id")),
    )
    .where(Member.id == bindparam("member_id"))
)


def member_at_merchant(member_id: str, merchant_id: str) -> MemberAtMerchant:
    """Load member, balance and the level's discount at the merchant in one query (the level from the copy)."""
    row = _MEMBER_AT_MERCHANT.first({"member_id": member_id, "merchant_id": merchant_id})
    if row is not None and row.status == MemberStatus.FROZEN:
        raise MemberFrozen()
    if row is None or row.status != MemberStatus.ACTIVE:
        raise MemberNotFound()
    level = level_copies()[row.level_id]
    return MemberAtMerchant(
        row, level, row.balance, level.default_discount_bp if row.discount_bp is None else row.discount_bp
    )


def sale_terms(who: MemberAtMerchant, terminal: Terminal, settings: AllianceSettings) -> SaleTerms:
    """The pricing terms of a sale by ``who`` at ``terminal``'s merchant."""
    merchant = terminal.merchant
    return SaleTerms(who.discount_bp, merchant.earn_rate_bp, merchant.max_redeem_bp, settings.point_value_fen)


_CARD_BY_NUMBER = HotStatement(select(Card.id, Card.member_id, Card.status).where(Card.card_no == bindparam("card_no")))


def _card_by_number(card_no: str) -> Row:
    """The (id, member_id, status) of a usable card by its number (a Core row: all a typed number needs)."""
    card = _CARD_BY_NUMBER.first({"card_no": card_no})
    if card is None:
        raise CardUnknown(card_no=card_no)
    return cards.check_usable(card)


def resolve_member(
    card: dict | None,
    code: str | None,
    phone: str | None,
    settings,
    terminal_id: str | None = None,
    at: datetime | None = None,
) -> tuple[str, str, Card | Row | None]:
    """Return (method, member_id, card) for what the terminal captured (chip counters are not checked here).

    A dynamic member code is checked against ``at`` (an offline sale's time) or now, and used up.
    """
    if card is not None:
        found = cards.verified_chip_card(card)[0]
        return "card", found.member_id, found
    if code is not None:
        kind, digits = classify_scanned_code(code, settings.member_code_prefix)
        if kind == "member_code":
            return "code", verify_member_code(digits, settings.member_code_prefix, terminal_id, at), None
        found = _card_by_number(digits)
        return "code", found.member_id, found
    return "phone", find_member_by_phone(phone).id, None


@dataclass(frozen=True)
class Credential:
    """What a terminal presented, resolved: the member, the card (if one), and the proof it carries.

    ``uid`` is set for a chip tapped online: its anti-clone counter moved on and a write-back is due
    (:func:`card_write_back`).
    """

    method: str  # "card", "code" or "phone"
    member_id: str
    card: Card | Row | None  # a typed card number: the (id, member_id, status) row
    uid: bytes | None
    proof: str | None


def identify_credential(
    terminal: Terminal,
    settings,
    *,
    card: dict | None = None,
    code: str | None = None,
    phone: str | None = None,
    read_at: datetime | None = None,
) -> Credential:
    """The member behind a chip read (its anti-clone counter checked and moved on), a scanned code or a phone.

    The one home of identification online: ``POST /identify`` and a sale that carries the credential
    itself (``POST /sales`` without a token) both call it, so they accept and refuse the same.
    """
    uid = None
    if card is not None:
        found_card, uid = cards.check_chip_counter(terminal, card, read_at)
        method, member_id = "card", found_card.member_id
    else:
        method, member_id, found_card = resolve_member(None, code, phone, settings, terminal.id)
    proof = identification_proof(method, by_card_number=found_card is not None)
    return Credential(method, member_id, found_card, uid, proof)


def card_write_back(credential: Credential, level_rank: int) -> dict | None:
    """The chip update the terminal writes after an online tap (new counter, the record re-signed for a new level)."""
    if credential.uid is None:
        return None
    return cards.plan_write_back(credential.card, credential.uid, level_rank)


def open_identification(terminal: Terminal, token: str, *, consume: bool):
    """The (member_id, card_id, method, proof) of a live identification at this terminal, used up if ``consume``."""
    now = utcnow()
    conditions = (
        Identification.token_hash == token_hash(token),
        Identification.terminal_id == terminal.id,
        Identification.used_at.is_(None),
        Identification.expires_at > now,
    )
    if consume:
        row = db.session.execute(
            _CONSUME_IDENTIFICATION, {"hash": token_hash(token), "terminal": terminal.id, "now": now}
        ).one_or_none()
    else:
        row = db.session.execute(
            select(Identification.member_id, Identification.card_id, Identification.method, Identification.proof).where(
                *conditions
            )
        ).one_or_none()
    if row is None:
        issued_to = db.session.scalar(
            select(Identification.terminal_id).where(Identification.token_hash == token_hash(token))
        )
        if issued_to is not None and issued_to != terminal.id:  # outside this terminal's scope
            raise NotFound("No such identification at this terminal.")
        raise IdentificationExpired()
    return row


def replayed_identification(terminal: Terminal, token: str, occurred_at: datetime) -> Identification:
    """An identification this terminal was issued, used by an offline replay of the sale it was opened for.

    The sale was committed at the till while the identification was live (``occurred_at`` before it
    expired) but reached the server after: it is accepted once, as an offline sale within the offline caps.
    """
    row = db.session.execute(
        select(Identification).where(
            Identification.token_hash == token_hash(token), Identification.terminal_id == terminal.id
        )
    ).scalar_one_or_none()
    if row is None:
        raise NotFound("No such identification at this terminal.")
    if row.used_at is not None or not row.created_at - OFFLINE_CLOCK_SKEW <= occurred_at <= row.expires_at:
        raise IdentificationExpired()
    used = db.session.execute(  # one statement: a concurrent replay of the same token cannot also use it
        update(Identification)
        .where(Identification.token_hash == row.token_hash, Identification.used_at.is_(None))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if used.rowcount != 1:
        raise IdentificationExpired()
    return row
