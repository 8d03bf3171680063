"""Random sequences of sales, refunds, sign-ups, flags, reviews and day closings on the real services.

After every closing: every money transaction balances, each cached balance equals its entries, no
commission exists twice, each sale's commissions stay within the envelope, the statements' commission
lines equal their entries and the money ledger (``reconcile``), and sign-ups earn nothing.
"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from server.domain.errors import DomainError
from server.domain.statuses import BrushingFlagStatus
from server.extensions import db
from server.models import Commission, MoneyTransaction, Sale
from server.services import agents, brushing, catalog, checkout, commissions, members
from server.services.reconciliation import check_money_ledger_balanced, reconcile
from tests.builders import ACTOR, make_member, make_world, next_phone
from tests.clock import frozen_clock
from tests.conftest import wipe
from tests.services.test_commissions import DAY, MORNING, _flag, close, new_agent, sell

operation = st.one_of(
    st.tuples(st.just("sale"), st.integers(0, 1), st.integers(1, 200_000)),
    st.tuples(st.just("refund"), st.integers(0, 20), st.one_of(st.none(), st.integers(1, 100_000))),
    st.tuples(st.just("flag"), st.integers(0, 20), st.just(0)),
    st.tuples(st.just("review"), st.integers(0, 5), st.booleans()),
    st.tuples(st.just("signup"), st.just(0), st.just(0)),
    st.tuples(st.just("close"), st.just(0), st.just(0)),
)
policy = st.fixed_dictionaries(
    {
        "envelope_bp": st.integers(0, 3_000),
        "recruiter_rate_bp": st.integers(0, 500),
        "return_window_days": st.integers(0, 2),
        "management_enabled": st.booleans(),
        "base": st.sampled_from(["paid", "service_fee"]),
    }
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(policy, st.lists(operation, min_size=1, max_size=25))
def test_random_days_keep_the_money_exact(app, terms, operations):
    wipe(app)
    with app.app_context(), frozen_clock(MORNING) as clock:
        world = make_world()
        agents.update_policy(ACTOR, chain_max_depth=3)
        top = new_agent("甲代理")
        svc = new_agent("丙代理", upper=top.id)
        recruiter = new_agent("招募代理")
        catalog.update_merchant(ACTOR, world.shop_a.merchant.id, agent_id=svc.id, service_fee_bp=300)
        member, card = make_member()
        agents.record_recruitment(ACTOR, member.id, recruiter.id)
        commissions.update_policy(ACTOR, terms, "random", acknowledgement="知悉风险")
        db.session.commit()
        day, sales, flags, flagged = DAY, [], [], set()
        money_before_signup = 0
        for kind, which, value in operations:
            try:
                if kind == "sale":
                    clock.now = max(clock.now, MORNING + timedelta(days=(day - DAY).days))
                    sales.append(sell((world.shop_a, world.shop_b)[which], card, value).id)
                elif kind == "refund" and sales:
                    clock.now += timedelta(minutes=1)
                    checkout.refund_sale(ACTOR, sales[which % len(sales)], None, amount_fen=value)
                elif kind == "flag" and sales and sales[which % len(sales)] not in flagged:
                    flagged.add(sales[which % len(sales)])  # one flag per sale and rule (the scan's dedupe key)
                    flags.append(_flag(db.session.get(Sale, sales[which % len(sales)])).id)
                elif kind == "review" and flags:
                    status = BrushingFlagStatus.CONFIRMED if value else BrushingFlagStatus.CLEARED
                    brushing.review_flag(ACTOR, flags[which % len(flags)], status, "复核")
                elif kind == "signup":
                    money_before_signup = db.session.scalar(select(func.count()).select_from(MoneyTransaction))
                    members.register_member("member:self", next_phone())
                    assert db.session.scalar(select(func.count()).select_from(MoneyTransaction)) == money_before_signup
                elif kind == "close":
                    close(clock, day)
                    assert reconcile(day) == [], day
                    day += timedelta(days=1)
            except DomainError:
                db.session.rollback()
        close(clock, day)
        assert reconcile(day) == []
        assert check_money_ledger_balanced() == []
        keys = db.session.execute(
            select(Commission.sale_id, Commission.beneficiary_kind, Commission.beneficiary_id, Commission.role)
        ).all()
        assert len(keys) == len(set(keys))
        for sale_id, total, base in db.session.execute(
            select(Commission.sale_id, func.sum(Commission.amount_fen), func.max(Commission.base_fen))
            .where(Commission.role != "management")
            .group_by(Commission.sale_id)
        ):
            all_roles = db.session.scalar(select(func.sum(Commission.amount_fen)).where(Commission.sale_id == sale_id))
            assert total <= all_roles <= base * terms["envelope_bp"] // 10_000
        db.session.remove()
