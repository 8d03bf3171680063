"""On PostgreSQL, concurrent day closings and concurrent refunds produce exactly what a serial run produces."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from server.domain import commissions as rules
from server.domain import money_ledger as money
from server.extensions import db
from server.models import Commission, MoneyTransaction, Sale, Settlement
from server.services import agents, catalog, commissions, money_ledger, settlement
from server.services.checkout import refund_sale
from server.services.reconciliation import check_money_ledger_balanced, reconcile
from tests.builders import ACTOR, make_member, make_world
from tests.clock import frozen_clock
from tests.services.test_commissions import DAY, MORNING, closing_time, new_agent, sell

pytestmark = pytest.mark.postgres


def run_at_once(app, *jobs):
    """Run each job in its own thread and app context, started together; return the errors."""
    errors, start = [], threading.Barrier(len(jobs))

    def worker(job):
        try:
            with app.app_context():
                start.wait(10)
                job()
                db.session.remove()
        except Exception as exc:  # noqa: BLE001 - reported by the caller
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return errors


@pytest.fixture
def trading(pg_app):
    with pg_app.app_context(), frozen_clock(MORNING):
        world = make_world()
        svc, recruiter = new_agent("丙代理"), new_agent("招募代理")
        catalog.update_merchant(ACTOR, world.shop_a.merchant.id, agent_id=svc.id)
        member, card = make_member()
        agents.record_recruitment(ACTOR, member.id, recruiter.id)
        commissions.update_policy(ACTOR, {"return_window_days": 0}, "at once")
        sale_ids = [sell(world.shop_a, card, amount).id for amount in (10_001, 23_457, 9_999, 50_000)]
        db.session.commit()
        ids = (svc.id, recruiter.id, world.shop_a.merchant.id)
        db.session.remove()
    yield pg_app, sale_ids, ids


def totals(svc_id):
    return (
        db.session.scalar(select(func.count()).select_from(Commission)),
        db.session.scalar(select(func.sum(Commission.amount_fen - Commission.reversed_fen))),
        money_ledger.balances(money.AGENT, svc_id),
    )


def test_concurrent_closings_of_one_day_earn_each_commission_once(trading):
    app, sale_ids, (svc_id, _, merchant_id) = trading
    now = closing_time(DAY)
    errors = run_at_once(app, *[lambda: settlement.close_day(ACTOR, DAY, now) for _ in range(3)])
    assert not errors
    with app.app_context():
        count, net, balances = totals(svc_id)
        paid = sum(db.session.get(Sale, sale_id).payable_fen for sale_id in sale_ids)
        assert count == 8 and balances[money.AVAILABLE] == sum(
            db.session.get(Sale, s).payable_fen * 500 // 10_000 for s in sale_ids
        )
        assert net == sum(c.amount_fen for c in db.session.scalars(select(Commission))) and paid > 0
        assert db.session.scalar(select(func.count()).select_from(Settlement)) == 2
        earned = select(func.count()).where(MoneyTransaction.kind == money.COMMISSION_EARNED)
        assert db.session.scalar(earned) == 1
        assert reconcile(DAY) == []
        db.session.remove()


def test_concurrent_refunds_and_a_closing_reverse_exactly_what_a_serial_run_does(trading):
    app, sale_ids, (svc_id, recruiter_id, _) = trading
    now = closing_time(DAY)
    # a refund racing the closing of its sale's day: either the closing sees it or the refund sees the closing
    errors = run_at_once(
        app,
        lambda: settlement.close_day(ACTOR, DAY, now),
        lambda: refund_sale(ACTOR, sale_ids[0], None, amount_fen=3_001),
    )
    assert not errors
    # then several refunds at once: two on one sale, one each on two others (same agent accounts)
    errors = run_at_once(
        app,
        lambda: refund_sale(ACTOR, sale_ids[1], None, amount_fen=7_000),
        lambda: refund_sale(ACTOR, sale_ids[1], None, amount_fen=5_000),
        lambda: refund_sale(ACTOR, sale_ids[2], None),
        lambda: refund_sale(ACTOR, sale_ids[3], None, amount_fen=12_345),
    )
    assert not errors
    with app.app_context():
        for commission in db.session.scalars(select(Commission)):
            sale = db.session.get(Sale, commission.sale_id)
            assert commission.reversed_fen == rules.reversed_total(
                commission.amount_fen, sale.refunded_fen, sale.payable_fen
            )
        net = {
            owner: sum(
                c.amount_fen - c.reversed_fen
                for c in db.session.scalars(select(Commission).where(Commission.beneficiary_id == owner))
            )
            for owner in (svc_id, recruiter_id)
        }
        for owner, expected in net.items():
            balances = money_ledger.balances(money.AGENT, owner)
            assert balances[money.AVAILABLE] + balances[money.DEBT] + balances[money.PENDING] == expected
        assert check_money_ledger_balanced() == []
        assert reconcile(DAY) == []
        db.session.remove()
