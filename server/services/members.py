"""Members and their cards: registration, card creation and binding, points adjustments."""

from __future__ import annotations

from sqlalchemy import select

from server.domain.errors import (
    CardAlreadyBound,
    CardBlocked,
    CardNotIssued,
    Conflict,
    InvalidRequest,
    MemberFrozen,
    MemberNotFound,
)
from server.domain.identifiers import mask_mobile, normalize_mobile
from server.domain.ledger import ALLIANCE_ADJUSTMENTS, MEMBER_POINTS, adjustment_postings
from server.domain.statuses import BLOCKED_CARD_STATUSES, CardStatus, LevelStatus, MemberStatus
from server.extensions import db
from server.models import ALLIANCE_OWNER, Card, CardBatch, LedgerAccount, Level, Member, Merchant
from server.models.base import new_id, utcnow
from server.models.card import ELECTRONIC, PHYSICAL
from server.security.pii import decrypt_phone, encrypt_phone, phone_lookup_hash, phone_suffix_hash
from server.services import benefit_grants, ledger, recruitment
from server.services.audit import audit
from server.services.cards import allocate_card_numbers, card_by_number
from server.services.points import add_lot, spend_lots
from server.services.unit_of_work import transactional


def get_member(member_id: str) -> Member:
    """A member by id."""
    member = db.session.get(Member, member_id)
    if member is None:
        raise MemberNotFound(member_id=member_id)
    return member


def find_member_by_phone(phone: str) -> Member:
    """The member registered with ``phone`` (any common notation)."""
    member = db.session.scalar(select(Member).where(Member.phone_hash == phone_lookup_hash(normalize_mobile(phone))))
    if member is not None and member.status == MemberStatus.FROZEN:
        raise MemberFrozen()
    if member is None or member.status != MemberStatus.ACTIVE:
        raise MemberNotFound()
    return member


def points_balance(member: Member) -> int:
    """The member's cached points balance."""
    return db.session.get(LedgerAccount, member.points_account_id).balance


@transactional
def register_member(
    actor: str,
    phone: str,
    display_name: str = "",
    recruited_by: str | None = None,
    *,
    invited_by: str | None = None,
    recruited_by_agent: str | None = None,
) -> Member:
    """Make a new member at the lowest level with an empty points account.

    ``invited_by``: the member whose invite link they came through; ``recruited_by_agent``: the agent whose
    recruit link they came through (both resolved by ``server/services/recruitment.py``). Nothing is paid
    for the sign-up itself.
    """
    mobile = normalize_mobile(phone)
    lookup = phone_lookup_hash(mobile)
    if db.session.scalar(select(Member.id).where(Member.phone_hash == lookup)):
        raise Conflict("A member with this phone number exists.", field="phone")
    if recruited_by is not None and db.session.get(Merchant, recruited_by) is None:
        raise InvalidRequest("No such merchant.", field="recruited_by_merchant_id")
    lowest = db.session.scalar(select(Level).where(Level.status == LevelStatus.ACTIVE).order_by(Level.rank).limit(1))
    if lowest is None:
        raise Conflict("The alliance has no levels yet.")
    member_id = new_id("mem")
    member = Member(
        id=member_id,
        display_name=display_name or f"会员{mobile[-4:]}",
        phone_ciphertext=encrypt_phone(mobile),
        phone_hash=lookup,
        phone_masked=mask_mobile(mobile),
        phone_suffix_hash=phone_suffix_hash(mobile),
        level_id=lowest.id,
        level_since=utcnow(),
        recruited_by_merchant_id=recruited_by,
        recruited_by_agent_id=recruited_by_agent,
        invited_by_member_id=invited_by,
        points_account_id=ledger.open_account(MEMBER_POINTS, member_id),
    )
    db.session.add(member)
    audit(actor, "member.register", "member", member.id, recruited_by=recruited_by)
    db.session.flush()
    benefit_grants.registration_gift(member.id)  # if the alliance set one; never refuses the registration
    return member


@transactional
def reveal_phone(actor: str, member_id: str, reason: str = "") -> str:
    """A member's full phone number; every access is audit-logged (with the reason given, if any)."""
    member = get_member(member_id)
    audit(actor, "member.reveal_phone", "member", member.id, **({"reason": reason[:200]} if reason.strip() else {}))
    return decrypt_phone(member.phone_ciphertext)


@transactional
def update_member(actor: str, member_id: str, display_name: str | None = None, phone: str | None = None) -> Member:
    """Change a member's name or phone (audited: the old name; for the phone only its masked form)."""
    member = get_member(member_id)
    changes, before = {}, {}
    if display_name is not None and display_name.strip() and display_name.strip() != member.display_name:
        name = display_name.strip()[:50]
        before["name"], changes["name"] = member.display_name, name
        member.display_name = name
    if phone:
        mobile = normalize_mobile(phone)
        lookup = phone_lookup_hash(mobile)
        if lookup != member.phone_hash:
            if db.session.scalar(select(Member.id).where(Member.phone_hash == lookup)):
                raise Conflict("A member with this phone number exists.", field="phone")
            before["phone"], changes["phone"] = member.phone_masked, mask_mobile(mobile)
            member.phone_ciphertext, member.phone_hash = encrypt_phone(mobile), lookup
            member.phone_masked, member.phone_suffix_hash = mask_mobile(mobile), phone_suffix_hash(mobile)
    if changes:
        audit(actor, "member.update", "member", member.id, **changes, before=before)
    return member


@transactional
def set_member_frozen(actor: str, member_id: str, frozen: bool, reason: str) -> Member:
    """Freeze a member (not identified at the till, no member sign-in) or unfreeze them; a reason is required."""
    if not reason.strip():
        raise InvalidRequest("Give a reason.", field="reason")
    member = get_member(member_id)
    wanted, allowed_from = (
        (MemberStatus.FROZEN, MemberStatus.ACTIVE) if frozen else (MemberStatus.ACTIVE, MemberStatus.FROZEN)
    )
    if member.status != allowed_from:
        raise Conflict("The member is not in a state that allows this.", status=member.status)
    member.status = wanted
    audit(actor, "member.freeze" if frozen else "member.unfreeze", "member", member.id, reason=reason.strip()[:200])
    return member


@transactional
def create_cards(actor: str, count: int, kind: str = PHYSICAL) -> list[Card]:
    """Create ``count`` unbound cards with consecutive numbers, ready to bind: printed cards (no chip) by default."""
    if not 1 <= count <= 10_000:
        raise InvalidRequest("Create between 1 and 10000 cards at once.", field="count")
    numbers = allocate_card_numbers(count)
    cards = [Card(id=new_id("crd"), card_no=number, kind=kind, status=CardStatus.ISSUED) for number in numbers]
    db.session.add_all(cards)
    details = {"count": count, "first": cards[0].card_no, "last": cards[-1].card_no, "kind": kind}
    audit(actor, "card.create", "card", cards[0].id, **details)
    return cards


@transactional
def issue_electronic_card(actor: str, member_id: str) -> Card:
    """The member's e-card (电子卡): a card number of their own for the phone, bound at once."""
    card = create_cards(actor, 1, kind=ELECTRONIC)[0]
    return bind_card(actor, member_id, card.card_no)


@transactional
def bind_card(actor: str, member_id: str, card_no: str) -> Card:
    """Bind an issued card to a member and activate it; a card from a levelled batch lifts the member to it."""
    member = get_member(member_id)
    card = card_by_number(card_no, lock=True)
    if card.status in BLOCKED_CARD_STATUSES:
        raise CardBlocked(status=card.status)
    if card.status in {CardStatus.CREATED, CardStatus.ENCODING}:
        raise CardNotIssued(card_no=card_no)
    if card.member_id is not None:
        raise CardAlreadyBound(card_no=card_no)
    card.member_id = member.id
    card.status = CardStatus.ACTIVE
    card.status_changed_at = utcnow()
    batch_level = card.batch_id and db.session.scalar(
        select(Level).join(CardBatch, CardBatch.level_id == Level.id).where(CardBatch.id == card.batch_id)
    )
    lifts = batch_level and batch_level.status == LevelStatus.ACTIVE  # a retired level takes no new members
    if lifts and batch_level.rank > db.session.get(Level, member.level_id).rank:  # a batch of e.g. gold cards
        member.level_id, member.level_since = batch_level.id, utcnow()
    recruitment.recruit_by_card(actor, member, card)  # a card consigned to an agent
    audit(actor, "card.bind", "card", card.id, member_id=member.id)
    return card


@transactional
def adjust_points(actor: str, member_id: str, points: int, reason: str) -> int:
    """An operator's audited correction of a member's points; returns the new balance."""
    if points == 0 or not reason.strip():
        raise InvalidRequest("An adjustment needs a non-zero number of points and a reason.")
    member = get_member(member_id)
    adjustments = ledger.account_id(ALLIANCE_ADJUSTMENTS, ALLIANCE_OWNER)
    balances = ledger.post(
        "adjustment", adjustment_postings(member.points_account_id, adjustments, points), actor, memo=reason[:200]
    )
    if points > 0:
        add_lot(member.id, points, "adjustment")
    else:
        spend_lots(member.id, -points, "adjustment")
    audit(actor, "points.adjust", "member", member.id, points=points, reason=reason)
    return balances[member.points_account_id]
