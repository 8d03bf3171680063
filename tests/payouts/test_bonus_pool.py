"""The bonus pool: accrual from fee income, distribution by own contribution, reversal until paid."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from server.domain import money_ledger as money
from server.domain.errors import Conflict
from server.extensions import db
from server.models import AuditLog
from server.services import bonus_pool, withdrawals
from server.services import money_ledger as ledger
from server.services.reconciliation import check_money_ledger_balanced
from tests.payouts.support import ACTOR, evaluate, fee_income, make_agent

PERIOD = "2026-10"


def pool() -> tuple[int, int]:
    balances = bonus_pool.pool_balances()
    return balances[money.BONUS_POOL], balances[money.BONUS_RESERVE]


def test_accrue_distribute_reverse_redistribute_pay(ctx):
    fee_income(date(2026, 10, 3), 600_000, "mer_test")
    fee_income(date(2026, 10, 31), 400_000, "mer_test")
    fee_income(date(2026, 11, 1), 999_999, "mer_test")  # the next period
    upper = make_agent(name="上级")
    subs = [make_agent(name=f"下级{i}", upper_agent_id=upper.id) for i in range(3)]
    loner = make_agent(name="独立")
    evaluate(upper.id, PERIOD, 1_000_000, 100)
    evaluate(loner.id, PERIOD, 2_000_000, 50)
    for sub in subs:  # recruited agents with large volume of their own: the upper's share does not grow by them
        evaluate(sub.id, PERIOD, 0, 100)
    row = bonus_pool.distribute_period(ACTOR, PERIOD)
    assert (row.fee_income_fen, row.pool_fen + row.reserve_fen, row.reserve_fen) == (1_000_000, 100_000, 20_000)
    shares = {share.agent_id: share.share_fen for share in bonus_pool.shares_of(PERIOD)}
    assert shares == {upper.id: 40_000, loner.id: 40_000}  # 1,000,000×100 = 2,000,000×50
    assert pool() == (0, 20_000)
    assert withdrawals.agent_balances(upper.id).pending_fen == 40_000
    assert bonus_pool.distribute_period(ACTOR, PERIOD).round == 1  # a retry changes nothing

    bonus_pool.reverse_distribution(ACTOR, PERIOD, "健康分有误")
    assert pool() == (80_000, 20_000) and withdrawals.agent_balances(upper.id).pending_fen == 0
    row = bonus_pool.distribute_period(ACTOR, PERIOD)
    assert row.round == 2 and sum(s.share_fen for s in bonus_pool.shares_of(PERIOD)) == 80_000

    bonus_pool.pay_distribution(ACTOR, PERIOD)
    assert withdrawals.agent_balances(loner.id).available_fen == 40_000
    with pytest.raises(Conflict):
        bonus_pool.reverse_distribution(ACTOR, PERIOD)
    assert check_money_ledger_balanced() == []
    assert ledger.balance(money.ALLIANCE, money.ALLIANCE_OWNER_ID, money.FEE_INCOME) == 1_999_999 - 100_000
    actions = list(
        db.session.scalars(select(AuditLog.action).where(AuditLog.object_type == "bonus_pool").order_by(AuditLog.id))
    )
    assert actions == [
        "bonus_pool.accrue",
        "bonus_pool.distribute",
        "bonus_pool.reverse",
        "bonus_pool.distribute",
        "bonus_pool.pay",
    ]


def test_a_period_not_ended_is_refused_and_no_contributor_leaves_the_pool(ctx):
    make_agent()
    with pytest.raises(Conflict):
        bonus_pool.distribute_period(ACTOR, "2999-01")
    fee_income(date(2026, 9, 5), 10_000, "mer_test")
    row = bonus_pool.distribute_period(ACTOR, "2026-09")
    assert row.distributed_fen == 0 and pool() == (800, 200)
