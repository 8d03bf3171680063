"""Members and cards: registration, encrypted phones, lookup, audited reveal, binding, card batches."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import func, select, text

from server.domain.errors import Conflict, InsufficientPoints, InvalidRequest, MemberNotFound, NotFound
from server.domain.identifiers import is_valid_card_number, luhn_check_digit, make_card_number
from server.extensions import db
from server.models import AllianceSettings, AuditLog, Card, LedgerAccount, LedgerTransaction, Member
from server.services import cards, checkout, members
from server.services.staff import terminal_for_token
from tests.builders import ACTOR, make_member, make_world

PHONE = "13987654321"


@pytest.fixture
def world(ctx):
    return make_world()


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def audit_rows(action: str) -> list[AuditLog]:
    return list(db.session.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)))


def test_register_member(world):
    member = members.register_member(ACTOR, "+86 139-8765-4321", "")
    assert member.display_name == "会员4321"
    assert member.phone_masked == "139****4321"
    assert member.level_id == world.levels["normal"].id
    assert member.status == "active"
    account = db.session.get(LedgerAccount, member.points_account_id)
    assert (account.kind, account.owner_id, account.balance, account.allow_negative) == (
        "member_points",
        member.id,
        0,
        False,
    )
    assert [(row.actor, row.object_id) for row in audit_rows("member.register")] == [(ACTOR, member.id)]


@pytest.mark.parametrize("again", [PHONE, "+86 139 8765 4321", "0086-139-8765-4321"])
def test_duplicate_phone_is_a_conflict_and_changes_nothing(world, again):
    members.register_member(ACTOR, PHONE, "甲")
    before = (count(Member), count(LedgerAccount), count(AuditLog))
    with pytest.raises(Conflict) as caught:
        members.register_member(ACTOR, again, "乙")
    assert caught.value.details == {"field": "phone"}
    assert (count(Member), count(LedgerAccount), count(AuditLog)) == before


def test_invalid_phone_is_refused(world):
    with pytest.raises(InvalidRequest):
        members.register_member(ACTOR, "12345", "x")
    assert count(Member) == 0


def test_phone_is_not_stored_in_clear(world):
    member = members.register_member(ACTOR, PHONE, "王五")
    ciphertext = db.session.get(Member, member.id).phone_ciphertext
    db.session.expire_all()
    row = db.session.execute(text("SELECT * FROM members WHERE id = :id"), {"id": member.id}).mappings().one()
    stored = bytes(row["phone_ciphertext"])
    assert stored == bytes(ciphertext)
    assert len(stored) == 12 + len(PHONE) + 16  # nonce, ciphertext, GCM tag
    for needle in (PHONE, PHONE[3:], PHONE[:7], PHONE[2:9]):
        assert needle.encode() not in stored
        assert needle.encode("utf-16-le") not in stored
    for name, value in row.items():
        as_text = bytes(value).hex() + repr(bytes(value)) if isinstance(value, bytes | memoryview) else str(value)
        assert PHONE not in as_text, name
        assert PHONE[2:9] not in as_text, name  # no 7-digit run of the number anywhere in the row
    assert row["phone_masked"] == "139****4321"
    # the lookup hash is keyed: not the plain SHA-256 of the number, which anyone could recompute
    assert row["phone_hash"] != hashlib.sha256(PHONE.encode()).hexdigest()
    assert len(row["phone_hash"]) == 64


def test_encryption_uses_a_fresh_nonce(world):
    first = members.register_member(ACTOR, "13900000001", "a")
    second = members.register_member(ACTOR, "13900000002", "b")
    assert first.phone_ciphertext[:12] != second.phone_ciphertext[:12]


@pytest.mark.parametrize(
    "notation", [PHONE, "+86 139 8765 4321", "+8613987654321", "0086 13987654321", "139-8765-4321", "(139) 8765 4321"]
)
def test_lookup_by_phone_in_any_notation(world, notation):
    member = members.register_member(ACTOR, PHONE, "王五")
    assert members.find_member_by_phone(notation).id == member.id


def test_lookup_through_the_terminal(world):
    member = members.register_member(ACTOR, PHONE, "王五")
    found = checkout.identify(terminal_for_token(world.shop_a.token), phone="+86 139-8765-4321")
    assert (found.who.member.id, found.method) == (member.id, "phone")


def test_lookup_of_an_unknown_or_invalid_phone(world):
    members.register_member(ACTOR, PHONE, "王五")
    with pytest.raises(MemberNotFound):
        members.find_member_by_phone("13987654320")
    with pytest.raises(InvalidRequest):
        members.find_member_by_phone("987654321")


def test_reveal_phone_is_audit_logged(world):
    member = members.register_member(ACTOR, "+86 139 8765 4321", "王五")
    assert audit_rows("member.reveal_phone") == []
    assert members.reveal_phone("staff:usr_support", member.id) == PHONE
    assert members.reveal_phone("staff:usr_admin", member.id) == PHONE
    rows = audit_rows("member.reveal_phone")
    assert [(row.actor, row.object_type, row.object_id) for row in rows] == [
        ("staff:usr_support", "member", member.id),
        ("staff:usr_admin", "member", member.id),
    ]
    # the audit log itself does not hold the number either
    assert all(PHONE not in str(row.details) for row in db.session.scalars(select(AuditLog)))


def test_reveal_phone_of_unknown_member(world):
    with pytest.raises(MemberNotFound):
        members.reveal_phone(ACTOR, "mem_nobody")
    assert audit_rows("member.reveal_phone") == []


def test_bind_card(world):
    member, _ = make_member(with_card=False)
    card = members.create_cards(ACTOR, 1)[0]
    assert (card.status, card.member_id) == ("issued", None)
    bound = members.bind_card(ACTOR, member.id, card.card_no)
    db.session.expire_all()
    stored = db.session.get(Card, card.id)
    assert (bound.id, stored.status, stored.member_id) == (card.id, "active", member.id)
    assert stored.status_changed_at is not None


def test_binding_a_bound_card_is_a_conflict(world):
    first, card = make_member()
    second, _ = make_member(with_card=False)
    audits = count(AuditLog)
    with pytest.raises(Conflict) as caught:
        members.bind_card(ACTOR, second.id, card.card_no)
    assert caught.value.details == {"card_no": card.card_no}
    db.session.expire_all()
    assert db.session.get(Card, card.id).member_id == first.id
    assert count(AuditLog) == audits
    # binding it again to its own member is refused too
    with pytest.raises(Conflict):
        members.bind_card(ACTOR, first.id, card.card_no)


def test_binding_unknown_card_or_member(world):
    member, _ = make_member(with_card=False)
    card = members.create_cards(ACTOR, 1)[0]
    with pytest.raises(NotFound):
        members.bind_card(ACTOR, member.id, "8860999999999999")
    with pytest.raises(MemberNotFound):
        members.bind_card(ACTOR, "mem_nobody", card.card_no)
    db.session.expire_all()
    assert db.session.get(Card, card.id).member_id is None


def test_new_card_numbers_are_random_in_the_number_space_and_valid(world):
    first_batch = members.create_cards(ACTOR, 5)
    second_batch = members.create_cards(ACTOR, 3)
    numbers = [card.card_no for card in first_batch + second_batch]
    assert all(is_valid_card_number(number) for number in numbers)
    assert all(number.startswith("8860") for number in numbers)
    serials = [int(number[4:-1]) for number in numbers]
    assert serials[:5] == sorted(serials[:5]) and serials[5:] == sorted(serials[5:])  # a batch prints in order
    # not sequential: knowing one number says nothing about the next (gaps spread over 10^11 serials)
    assert len(set(serials)) == 8 and max(serials) - min(serials) > 10**6
    assert min(b - a for a, b in zip(serials[:5], serials[1:5], strict=False)) > 1
    assert all(luhn_check_digit(number[:-1]) == number[-1] for number in numbers)
    assert count(Card) == 8
    assert db.session.get(AllianceSettings, 1).card_serial_seq == 8  # counts the cards issued
    assert len({card.id for card in first_batch + second_batch}) == 8


def test_a_drawn_number_that_exists_is_drawn_again_and_old_sequential_numbers_keep_working(world, monkeypatch):
    old = members.create_cards(ACTOR, 1)[0]  # stands for a card from before: its serial is drawn first
    draws = iter([[int(old.card_no[4:-1]), 7], [42]])
    monkeypatch.setattr(cards, "_random_serials", lambda count, space: next(draws)[:count])
    numbers = [card.card_no for card in members.create_cards(ACTOR, 2)]
    assert numbers == [make_card_number("8860", 7), make_card_number("8860", 42)]
    member, _ = make_member(with_card=False)
    members.bind_card(ACTOR, member.id, make_card_number("8860", 7))  # a sequential-looking number works
    found = checkout.identify(world.shop_a.terminal, code=make_card_number("8860", 7))
    assert found.who.member.id == member.id


@pytest.mark.parametrize("bad", [0, -1, 10_001])
def test_create_cards_refuses_bad_counts(world, bad):
    members.create_cards(ACTOR, 2)
    with pytest.raises(InvalidRequest):
        members.create_cards(ACTOR, bad)
    db.session.expire_all()
    assert count(Card) == 2
    assert db.session.get(AllianceSettings, 1).card_serial_seq == 2


def test_adjust_points(world):
    member, _ = make_member(points=100, with_card=False)
    assert members.adjust_points(ACTOR, member.id, -40, "correction") == 60
    transactions = count(LedgerTransaction)
    with pytest.raises(InsufficientPoints):
        members.adjust_points(ACTOR, member.id, -61, "too much")
    for points, reason in ((0, "nothing"), (5, "   ")):
        with pytest.raises(InvalidRequest):
            members.adjust_points(ACTOR, member.id, points, reason)
    db.session.expire_all()
    assert members.points_balance(db.session.get(Member, member.id)) == 60
    assert count(LedgerTransaction) == transactions
    assert [row.details for row in audit_rows("points.adjust")] == [
        {"points": 100, "reason": "test set-up"},
        {"points": -40, "reason": "correction"},
    ]
