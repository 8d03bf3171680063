"""Points lots on the real services: earning, closest-expiry-first spending, expiry, notices, refunds."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import func, select

from server.domain.ledger import ALLIANCE_EXPIRY
from server.extensions import db
from server.models import ALLIANCE_OWNER, LedgerAccount, LedgerTransaction, PointsLot, PointsLotSpend, SmsMessage
from server.services import checkout, finance, members, points
from server.services.alliance import get_settings
from server.services.staff import terminal_for_token
from tests.builders import ACTOR, make_member, make_world
from tests.clock import frozen_clock

# 2026-01-10 12:00 Beijing time
START = datetime(2026, 1, 10, 4, 0, tzinfo=UTC)


def monthly_expiry(months: int = 1, notice_days: int = 7) -> None:
    settings = get_settings()
    settings.points_expiry_policy, settings.points_expiry_months = "months", months
    settings.expiry_notice_days = notice_days
    db.session.commit()


def lots_of(member_id: str) -> list[tuple]:
    return [
        tuple(row)
        for row in db.session.execute(
            select(
                PointsLot.source, PointsLot.expires_on, PointsLot.points, PointsLot.remaining, PointsLot.expired_points
            )
            .where(PointsLot.member_id == member_id)
            .order_by(PointsLot.id)
        )
    ]


def breakage() -> int:
    return db.session.scalar(
        select(LedgerAccount.balance).where(
            LedgerAccount.kind == ALLIANCE_EXPIRY, LedgerAccount.owner_id == ALLIANCE_OWNER
        )
    )


def sell(shop, card, amount: int, redeem: int = 0):
    terminal = terminal_for_token(shop.token)
    found = checkout.identify(terminal, code=card.card_no)
    return checkout.record_sale(terminal, identification_token=found.token, amount_fen=amount, redeem_points=redeem)


def test_lots_follow_earning_spending_expiry_and_a_refund_across_the_expiry(app):
    with app.app_context(), frozen_clock(START) as clock:
        world = make_world()
        monthly_expiry()
        member, card = make_member(points=100)  # lot 1: adjustment, last valid day 2026-02-10
        clock.advance(days=10)
        sale = sell(world.shop_a, card, 50_000).sale  # lot 2: 500 earned, valid through 2026-02-20
        assert lots_of(member.id) == [
            ("adjustment", date(2026, 2, 10), 100, 100, 0),
            ("sale", date(2026, 2, 20), 500, 500, 0),
        ]
        clock.advance(days=1)
        # 150 redeemed: the lot closest to expiry first, then the next
        redeeming = sell(world.shop_b, card, 30_000, redeem=150).sale
        assert [lot[3] for lot in lots_of(member.id)][:2] == [0, 450]
        assert points.lot_mismatches() == []

        # 2026-02-11: the first lot is past its last valid day, but it is empty: nothing to expire yet
        clock.now = datetime(2026, 2, 11, 4, tzinfo=UTC)
        assert points.expire_points(ACTOR, points.alliance_today()) == {"members": 0, "points": 0}

        # a full refund of the redeeming sale gives 100 points back to the expired lot: they expire at once
        before = breakage()
        result = checkout.refund_sale(ACTOR, redeeming.id, None)
        assert result.refund.points_restored == 150
        earned_back = redeeming.points_earned
        assert result.refund.points_reversed == earned_back
        assert breakage() == before + 100
        expiry_txn = db.session.scalar(
            select(LedgerTransaction).where(
                LedgerTransaction.refund_id == result.refund.id, LedgerTransaction.kind == "expiry"
            )
        )
        assert expiry_txn is not None
        lots = lots_of(member.id)
        assert lots[0] == ("adjustment", date(2026, 2, 10), 100, 0, 100)
        assert lots[1][3] == 500  # 50 back to the lot it came from
        assert result.points_balance == 500 == members.points_balance(member)
        assert points.lot_mismatches() == []

        # 2026-02-21: the sale's lot expires; the member's whole balance goes to breakage
        clock.now = datetime(2026, 2, 21, 4, tzinfo=UTC)
        assert points.expire_points(ACTOR, points.alliance_today()) == {"members": 1, "points": 500}
        assert points.expire_points(ACTOR, points.alliance_today()) == {"members": 0, "points": 0}  # twice: nothing
        assert members.points_balance(member) == 0
        assert breakage() == before + 600

        # refunding the earning sale now takes nothing back (the member holds nothing); the shortfall is recorded
        refund = checkout.refund_sale(ACTOR, sale.id, None).refund
        assert (refund.points_reversed, refund.points_unrecovered) == (0, 500)
        assert points.lot_mismatches() == []
        db.session.remove()


def test_a_refund_takes_earned_points_from_the_sales_own_lot_first(app):
    with app.app_context(), frozen_clock(START) as clock:
        world = make_world()
        monthly_expiry(months=6)
        member, card = make_member(points=300)  # expires first
        clock.advance(days=1)
        sale = sell(world.shop_a, card, 20_000).sale  # 200 points, later lot
        checkout.refund_sale(ACTOR, sale.id, None, amount_fen=10_000)
        assert [lot[3] for lot in lots_of(member.id)] == [300, 100]
        members.adjust_points(ACTOR, member.id, -350, "correction")  # earliest first: 300, then 50
        assert [lot[3] for lot in lots_of(member.id)] == [0, 50]
        assert points.lot_mismatches() == []
        db.session.remove()


def test_members_are_told_once_per_expiry_date_before_their_points_expire(app):
    with app.app_context(), frozen_clock(START) as clock:
        world = make_world()
        monthly_expiry(months=1, notice_days=7)
        member, card = make_member(points=100)  # valid through 2026-02-10
        sell(world.shop_a, card, 12_300)  # 123 points, same day: the same expiry date
        clock.advance(days=3)
        sell(world.shop_a, card, 10_000)  # valid through 2026-02-13
        assert points.notify_expiring(date(2026, 2, 2)) == {"messages": 0, "lots": 0}
        assert points.notify_expiring(date(2026, 2, 3)) == {"messages": 1, "lots": 2}
        assert points.notify_expiring(date(2026, 2, 4)) == {"messages": 0, "lots": 0}
        assert points.notify_expiring(date(2026, 2, 6)) == {"messages": 1, "lots": 1}
        texts = db.session.scalars(select(SmsMessage.text).order_by(SmsMessage.id)).all()
        assert len(texts) == 2
        assert "223积分" in texts[0] and "2026-02-10" in texts[0]
        assert "100积分" in texts[1] and "2026-02-13" in texts[1]
        assert db.session.scalar(select(func.count()).select_from(SmsMessage)) == 2
        db.session.remove()


def test_the_points_report_counts_as_expiring_soon_what_the_members_are_told_about(app):
    with app.app_context(), frozen_clock(START) as clock:
        world = make_world()
        monthly_expiry(months=1, notice_days=7)
        _, card = make_member(points=100)  # valid through 2026-02-10
        sell(world.shop_a, card, 12_300)  # 123 points, valid through 2026-02-10
        clock.advance(days=24)  # 2026-02-03: the day the notice goes out, 7 days before the last day
        assert points.alliance_today() == date(2026, 2, 3)
        assert points.notify_expiring(date(2026, 2, 3)) == {"messages": 1, "lots": 2}
        assert finance.points_report()["points_expiring_soon"] == 223
        db.session.remove()


def test_a_refund_of_a_sale_from_before_lots_existed_restores_into_a_new_lot(app):
    with app.app_context(), frozen_clock(START):
        world = make_world()
        member, card = make_member(points=500)
        sale = sell(world.shop_a, card, 10_000, redeem=300).sale
        # as for a sale recorded before the lots migration: no record of which lots it spent
        db.session.execute(PointsLotSpend.__table__.delete().where(PointsLotSpend.sale_id == sale.id))
        db.session.commit()
        result = checkout.refund_sale(ACTOR, sale.id, None, amount_fen=4_850)  # half the 9 700 fen paid
        assert result.refund.points_restored == 150
        assert ("restore", date(2028, 12, 31), 150, 150, 0) in lots_of(member.id)
        assert points.lot_mismatches() == []
        db.session.remove()


def test_a_spend_reads_its_lots_page_by_page_in_the_same_order(ctx):
    """Lots are read a page at a time until they cover the spend: the choice is the one over all open lots."""
    from server.domain.lots import OpenLot, allocate_spend

    make_world()
    member, _ = make_member()
    for day in range(90):  # more lots than the first two pages hold, expiring in shuffled order
        with frozen_clock(datetime(2026, 1, 1 + day % 28, 4, 0, tzinfo=UTC)):
            points.add_lot(member.id, 1 + day % 3, "adjustment")
    db.session.flush()
    before = [OpenLot(lot.id, lot.expires_on, lot.remaining) for lot in points.member_lots(member.id)]
    spent = sum(lot.remaining for lot in before) - 5
    expected = dict(allocate_spend(before, spent))
    points.spend_lots(member.id, spent, "adjust")
    after = {lot.id: lot.remaining for lot in points.member_lots(member.id, include_closed=True)}
    assert {lot.id: lot.remaining - expected.get(lot.id, 0) for lot in before} == after
    assert sum(after.values()) == 5
