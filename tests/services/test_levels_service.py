"""The periodic level evaluation on the real database, with a controllable clock."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

from server.extensions import db
from server.models import AuditLog, Level, Member
from server.models.base import utcnow
from server.services import catalog, checkout
from server.services.levels import evaluate_levels
from server.services.staff import terminal_for_token
from tests.builders import ACTOR, make_member, make_world

EVALUATOR = "test:evaluator"


@pytest.fixture
def world(ctx):
    return make_world()


def buy(world, card, amount_fen: int):
    """A sale at shop A (normal level pays full price there; silver 95%, gold 90%)."""
    terminal = terminal_for_token(world.shop_a.token)
    found = checkout.identify(terminal, code=card.card_no)
    return checkout.record_sale(terminal, identification_token=found.token, amount_fen=amount_fen)


def level_of(member_id: str) -> tuple[str, object]:
    db.session.expire_all()
    member = db.session.get(Member, member_id)
    return db.session.get(Level, member.level_id).code, member.level_since


def level_changes() -> list[tuple]:
    rows = db.session.scalars(select(AuditLog).where(AuditLog.action == "member.level_change").order_by(AuditLog.id))
    return [(row.actor, row.object_id, row.details["old"], row.details["new"]) for row in rows]


def test_sale_upgrades_at_once_and_evaluation_keeps_it(world):
    member, card = make_member()
    result = buy(world, card, 100_000)
    assert result.sale.payable_fen == 100_000
    assert result.level.code == "silver"
    assert level_of(member.id)[0] == "silver"
    assert evaluate_levels(EVALUATOR, now=utcnow() + timedelta(days=1)) == Counter(kept=1)
    assert level_changes() == []


def test_evaluation_upgrades_when_the_rules_change(world):
    member, card = make_member()
    buy(world, card, 60_000)
    assert level_of(member.id)[0] == "normal"
    catalog.update_level(ACTOR, world.levels["silver"].id, upgrade_spend_fen=50_000, keep_spend_fen=40_000)
    now = utcnow() + timedelta(hours=1)
    assert evaluate_levels(EVALUATOR, now=now) == Counter(upgraded=1)
    assert level_of(member.id) == ("silver", now)
    assert level_changes() == [(EVALUATOR, member.id, "normal", "silver")]


def test_downgrade_only_after_the_protection_period(world):
    member, card = make_member()
    sale = buy(world, card, 100_000).sale
    _, upgraded_at = level_of(member.id)
    # refunds count: the window spend drops to 79 999 fen, one fen under silver's keep threshold
    checkout.refund_sale(ACTOR, sale.id, None, 20_001)

    assert evaluate_levels(EVALUATOR, now=upgraded_at + timedelta(days=89)) == Counter(kept=1)
    assert level_of(member.id) == ("silver", upgraded_at)
    assert level_changes() == []

    later = upgraded_at + timedelta(days=91)
    assert evaluate_levels(EVALUATOR, now=later) == Counter(downgraded=1)
    assert level_of(member.id) == ("normal", later)
    assert level_changes() == [(EVALUATOR, member.id, "silver", "normal")]


def test_spend_at_the_keep_threshold_keeps_the_level(world):
    member, card = make_member()
    sale = buy(world, card, 100_000).sale
    checkout.refund_sale(ACTOR, sale.id, None, 20_000)  # 80 000 fen left: exactly silver's keep threshold
    _, since = level_of(member.id)
    assert evaluate_levels(EVALUATOR, now=since + timedelta(days=200)) == Counter(kept=1)
    assert level_of(member.id) == ("silver", since)


def test_whole_refund_and_old_spend_drop_several_ranks(world):
    refunded, refunded_card = make_member()
    sale = buy(world, refunded_card, 500_000).sale
    assert level_of(refunded.id)[0] == "gold"
    checkout.refund_sale(ACTOR, sale.id, None)

    aged, aged_card = make_member()
    buy(world, aged_card, 500_000)
    assert level_of(aged.id)[0] == "gold"

    # after protection, within the 365-day window: the refunded member drops, the other keeps gold
    now = utcnow() + timedelta(days=100)
    assert evaluate_levels(EVALUATOR, now=now) == Counter(downgraded=1, kept=1)
    assert level_of(refunded.id) == ("normal", now)
    assert level_of(aged.id)[0] == "gold"

    # once the sale is out of the window the other member drops two ranks as well
    much_later = utcnow() + timedelta(days=366)
    assert evaluate_levels(EVALUATOR, now=much_later) == Counter(downgraded=1, kept=1)
    assert level_of(aged.id) == ("normal", much_later)
    assert level_changes() == [
        (EVALUATOR, refunded.id, "gold", "normal"),
        (EVALUATOR, aged.id, "gold", "normal"),
    ]


def test_partial_drop_lands_on_the_level_still_kept(world):
    member, card = make_member()
    sale = buy(world, card, 500_000).sale
    checkout.refund_sale(ACTOR, sale.id, None, 400_000)  # 100 000 left: under gold's keep, over silver's
    now = utcnow() + timedelta(days=120)
    assert evaluate_levels(EVALUATOR, now=now) == Counter(downgraded=1)
    assert level_of(member.id) == ("silver", now)


def test_mixed_outcomes_in_one_evaluation(world):
    idle, _ = make_member(with_card=False)
    keeper, keeper_card = make_member()
    buy(world, keeper_card, 100_000)
    dropper, dropper_card = make_member()
    sale = buy(world, dropper_card, 100_000).sale
    checkout.refund_sale(ACTOR, sale.id, None)
    climber, climber_card = make_member()
    buy(world, climber_card, 40_000)
    catalog.update_level(ACTOR, world.levels["silver"].id, upgrade_spend_fen=40_000, keep_spend_fen=40_000)

    outcome = evaluate_levels(EVALUATOR, now=utcnow() + timedelta(days=95))
    assert outcome == Counter(kept=2, downgraded=1, upgraded=1)
    assert [level_of(m.id)[0] for m in (idle, keeper, dropper, climber)] == ["normal", "silver", "normal", "silver"]
