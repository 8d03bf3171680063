"""Random days of sales, refunds, adjustments and expiries across merchants, then every day closed.

Conserved to the fen: what merchants were settled for points (granted minus accepted) equals the
points members still hold plus breakage minus what operators added by adjustment; the net positions
plus fees equal the accepted minus granted value. Closing twice changes nothing; reconciliation finds
no difference; lots always sum to member balances and spends always take the closest expiry first.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, Phase, event, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from server.domain.errors import DomainError
from server.domain.ledger import ALLIANCE_ADJUSTMENTS, ALLIANCE_EXPIRY, MEMBER_POINTS
from server.extensions import db
from server.models import (
    ALLIANCE_OWNER,
    LedgerAccount,
    LedgerTransaction,
    PointsLot,
    PointsLotSpend,
    Sale,
    Settlement,
    SettlementDay,
)
from server.services import checkout, members, points, settlement
from server.services.alliance import get_settings
from server.services.reconciliation import reconcile
from server.services.staff import terminal_for_token
from tests.builders import ACTOR, make_member, make_shop, make_world
from tests.clock import frozen_clock
from tests.conftest import wipe

START = datetime(2026, 1, 5, 3, 30, tzinfo=UTC)  # 11:30 Beijing time
FEES = ((60, 5), (0, 0), (125, 0))  # (service_fee_bp, service_fee_per_sale_fen) per shop

step = st.tuples(st.integers(0, 16), st.integers(0, 23))  # days and hours the clock moves before the op
sale_op = st.tuples(
    st.just("sale"),
    step,
    st.integers(0, 2),
    st.integers(0, 2),
    st.integers(1, 200_000),
    st.sampled_from([0, 0, "max", 1, 37]),
)
# which sale (modulo the sales so far) and the share of what is left to refund in percent (None: all of it)
refund_op = st.tuples(st.just("refund"), step, st.integers(0, 40), st.one_of(st.none(), st.integers(1, 120)))
adjust_op = st.tuples(st.just("adjust"), step, st.integers(0, 2), st.integers(-400, 600))
expire_op = st.tuples(st.just("expire"), step)
operations = st.lists(st.one_of(sale_op, sale_op, refund_op, refund_op, adjust_op, expire_op), min_size=1, max_size=25)


def balance(kind: str, owner: str | None = None) -> int:
    query = select(func.coalesce(func.sum(LedgerAccount.balance), 0)).where(LedgerAccount.kind == kind)
    if owner:
        query = query.where(LedgerAccount.owner_id == owner)
    return db.session.scalar(query)


def assert_closest_expiry_first(sale_id: str, member_id: str) -> None:
    """After a redemption no lot expiring before the last lot it used still holds points."""
    used = db.session.execute(
        select(PointsLot.expires_on, PointsLot.id)
        .join(PointsLotSpend, PointsLotSpend.lot_id == PointsLot.id)
        .where(PointsLotSpend.sale_id == sale_id, PointsLotSpend.reason == "redeem")
    ).all()
    if not used:
        return
    last = max(tuple(row) for row in used)
    skipped = db.session.execute(
        select(PointsLot.id, PointsLot.expires_on).where(
            PointsLot.member_id == member_id,
            PointsLot.remaining > 0,
            (PointsLot.expires_on < last[0]) | ((PointsLot.expires_on == last[0]) & (PointsLot.id < last[1])),
        )
    ).all()
    assert skipped == [], (sale_id, last, skipped)


def settlements_state() -> list[tuple]:
    return sorted(tuple(row) for row in db.session.execute(select(Settlement.__table__)))


def run(ops, clock, shops, cards, member_ids, sale_ids) -> None:
    for op in ops:
        days, hours = op[1]
        clock.advance(days=days, hours=hours)
        try:
            if op[0] == "sale":
                _, _, who, shop_index, amount, redeem = op
                terminal = terminal_for_token(shops[shop_index].token)
                found = checkout.identify(terminal, code=cards[who].card_no)
                if redeem == "max":
                    redeem = checkout.quote(terminal, found.token, amount, 0)["max_redeem_points"]
                sale = checkout.record_sale(
                    terminal, identification_token=found.token, amount_fen=amount, redeem_points=redeem
                ).sale
                sale_ids.append(sale.id)
                assert_closest_expiry_first(sale.id, member_ids[who])
                event("sale with points" if redeem else "sale")
            elif op[0] == "refund" and sale_ids:
                _, _, pick, share = op
                sale = db.session.get(Sale, sale_ids[pick % len(sale_ids)])
                db.session.refresh(sale)
                amount = None if share is None else max(1, (sale.payable_fen - sale.refunded_fen) * share // 100)
                refund = checkout.refund_sale(ACTOR, sale.id, None, amount).refund
                expired_again = db.session.scalar(
                    select(func.count()).where(
                        LedgerTransaction.refund_id == refund.id, LedgerTransaction.kind == "expiry"
                    )
                )
                event("refund restoring into an expired lot" if expired_again else "refund")
            elif op[0] == "adjust" and op[3]:
                members.adjust_points(ACTOR, member_ids[op[2]], op[3], "property test")
                event("adjustment")
            elif op[0] == "expire":
                done = points.expire_points(ACTOR, points.alliance_today())
                event("expiry with points" if done["points"] else "expiry")
        except DomainError as exc:  # refused (not enough points, refund too large ...): nothing changed
            db.session.rollback()
            event(f"refused: {exc.code}")
        assert points.lot_mismatches() == []


@settings(
    max_examples=15,
    deadline=None,
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=operations)
@example(  # points spent, their lot expires, then the sale is refunded: the restored points expire at once
    ops=[("sale", (0, 0), 0, 0, 100_000, "max"), ("expire", (35, 0)), ("refund", (1, 0), 0, None), ("expire", (0, 1))]
)
def test_random_days_settle_and_conserve_every_point_and_fen(app, ops):
    wipe(app)
    with app.app_context(), frozen_clock(START) as clock:
        try:
            world = make_world()
            settings_row = get_settings()
            settings_row.points_expiry_policy, settings_row.points_expiry_months = "months", 1
            db.session.commit()
            shops = [world.shop_a, world.shop_b, make_shop("丙店", trade="beauty", earn_rate_bp=300)]
            for shop, (fee_bp, fee_fen) in zip(shops, FEES, strict=True):
                shop.merchant.service_fee_bp, shop.merchant.service_fee_per_sale_fen = fee_bp, fee_fen
                db.session.add(shop.merchant)
            db.session.commit()
            built = [make_member(points=p) for p in (500, 0, 80)]
            member_ids, cards = [m.id for m, _ in built], [c for _, c in built]
            sale_ids: list[str] = []
            first_day = settlement.current_business_day()
            run(ops, clock, shops, cards, member_ids, sale_ids)
            last_day = settlement.current_business_day()

            clock.advance(days=2)  # every day of the run has ended (grace included)
            days = [first_day + timedelta(days=n) for n in range((last_day - first_day).days + 1)]
            for day in days:
                assert settlement.close_day(ACTOR, day).closed_now
            closed = settlements_state()
            for day in days:  # closing again changes nothing
                assert not settlement.close_day(ACTOR, day).closed_now
            assert settlements_state() == closed
            assert db.session.scalar(select(func.count()).select_from(SettlementDay)) == len(days)
            for day in (days[0], days[-1]):
                assert reconcile(day) == []

            totals = db.session.execute(
                select(
                    func.sum(Settlement.points_granted),
                    func.sum(Settlement.points_accepted),
                    func.sum(Settlement.net_fen),
                    func.sum(Settlement.service_fee_fen),
                    func.sum(Settlement.commission_fen),
                )
            ).one()
            granted, accepted, net, fees, commissions = (int(value or 0) for value in totals)
            outstanding = balance(MEMBER_POINTS)
            breakage = balance(ALLIANCE_EXPIRY, ALLIANCE_OWNER)
            adjusted = -balance(ALLIANCE_ADJUSTMENTS, ALLIANCE_OWNER)
            assert granted - accepted == outstanding + breakage - adjusted
            value = get_settings().point_value_fen
            assert net + fees + commissions == (accepted - granted) * value
            assert db.session.scalar(select(func.sum(LedgerAccount.balance))) == 0
        finally:
            db.session.remove()
