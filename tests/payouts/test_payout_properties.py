"""Property test: random withdrawals, decisions, payout outcomes, debts and pool distributions keep the money exact.

After every random sequence: every money transaction balances and each cached balance equals its entries
(reconciliation), each agent's available / in-transit / paid money equals what a plain model of the same
sequence says, and the pool's shares sum exactly to what was distributed — with agents that have
subordinates but no serviced sales of their own getting nothing.
"""

from __future__ import annotations

from unittest import mock

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.domain import money_ledger as money
from server.domain.errors import Conflict, WithdrawalRefused
from server.extensions import db
from server.payouts import FAILED, SUCCEEDED, PayoutResult
from server.services import bonus_pool, withdrawals
from server.services import money_ledger as ledger
from server.services.reconciliation import check_money_ledger_balanced
from tests.conftest import wipe
from tests.payouts.support import ACTOR, BANK, evaluate, fund, make_agent, owe

AGENTS = 3
operations = st.lists(
    st.one_of(
        st.tuples(st.just("fund"), st.integers(0, AGENTS - 1), st.integers(1, 200_000)),
        st.tuples(st.just("owe"), st.integers(0, AGENTS - 1), st.integers(1, 5_000)),
        st.tuples(st.just("request"), st.integers(0, AGENTS - 1), st.integers(5_000, 150_000)),
        st.tuples(st.sampled_from(["approve", "reject", "pay", "fail"]), st.integers(0, 9)),
        st.tuples(
            st.just("pool"),
            st.integers(0, 5_000_000),
            st.lists(st.integers(0, 10**7), min_size=AGENTS, max_size=AGENTS),
        ),
    ),
    max_size=14,
)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations)
def test_random_sequences_keep_every_fen(app, ops):
    wipe(app)
    with app.app_context():
        people = [make_agent(name=f"代理{i}") for i in range(AGENTS)]
        ids = [agent.id for agent in people]
        recruits = [make_agent(name=f"下线{i}", upper_agent_id=ids[0]).id for i in range(2)]  # no sales of their own
        withdrawals.update_payout_policy(ACTOR, withdrawal_minimum_fen=5_000, withdrawal_fee_fixed_fen=100)
        model_available = dict.fromkeys(ids + recruits, 0)
        model_debt = dict.fromkeys(ids, 0)
        model_paid = dict.fromkeys(ids, 0)
        model_pending = dict.fromkeys(ids + recruits, 0)
        asked: list = []
        periods = iter(f"2025-{month:02d}" for month in range(1, 13))
        for number, op in enumerate(ops):
            kind = op[0]
            if kind == "fund":
                fund(ids[op[1]], op[2])
                model_available[ids[op[1]]] += op[2]
            elif kind == "owe":
                owe(ids[op[1]], op[2])
                model_debt[ids[op[1]]] += op[2]
            elif kind == "request":
                agent_id, amount = ids[op[1]], op[2]
                allowed = model_debt[agent_id] == 0 and amount <= model_available[agent_id]
                try:
                    w = withdrawals.request_withdrawal(ACTOR, agent_id, amount, f"k{number}", **BANK)
                except WithdrawalRefused:
                    db.session.rollback()
                    assert not allowed or amount > 5_000_000
                    continue
                assert allowed
                model_available[agent_id] -= amount
                asked.append(w.id)
            elif kind == "pool":
                period = next(periods)
                for agent_id, gmv in zip(ids, op[2], strict=True):
                    evaluate(agent_id, period, gmv, 80)
                for agent_id in recruits:
                    evaluate(agent_id, period, 0, 100)
                with mock.patch.object(bonus_pool, "period_fee_income", lambda name, fee=op[1]: fee):
                    row = bonus_pool.distribute_period(ACTOR, period)
                shares = {s.agent_id: s.share_fen for s in bonus_pool.shares_of(period)}
                assert sum(shares.values()) == row.distributed_fen
                assert row.distributed_fen in (0, row.pool_fen)
                assert not set(shares) & set(recruits)
                for agent_id, share in shares.items():
                    model_pending[agent_id] += share
                if number % 2:
                    bonus_pool.pay_distribution(ACTOR, period)
                    for agent_id, share in shares.items():
                        model_pending[agent_id] -= share
                        model_available[agent_id] += share
            elif asked:
                w = withdrawals.get_withdrawal(asked[op[1] % len(asked)])
                status = w.status
                try:
                    if kind == "approve":
                        withdrawals.approve_withdrawal(ACTOR, w.id)
                    elif kind == "reject":
                        withdrawals.reject_withdrawal(ACTOR, w.id, "随机拒绝")
                    else:
                        withdrawals.record_result(
                            ACTOR, PayoutResult(w.out_detail_no, SUCCEEDED if kind == "pay" else FAILED)
                        )
                except Conflict:
                    db.session.rollback()
                    assert status != "requested" or kind in ("pay", "fail")
                    continue
                w = withdrawals.get_withdrawal(w.id)
                if status != w.status and w.status in ("rejected", "failed"):
                    model_available[w.agent_id] += w.amount_fen
                if status != w.status and w.status == "paid":
                    model_paid[w.agent_id] += w.net_fen
        assert check_money_ledger_balanced() == []
        for agent_id in ids + recruits:
            balances = withdrawals.agent_balances(agent_id)
            assert balances.available_fen == model_available[agent_id]
            assert balances.pending_fen == model_pending[agent_id]
            assert balances.paid_fen == model_paid.get(agent_id, 0)
            assert balances.debt_fen == model_debt.get(agent_id, 0)
        open_amounts = sum(
            w.amount_fen for w in withdrawals.list_withdrawals(limit=1000) if w.status in ("requested", "approved")
        )
        assert ledger.balance(money.ALLIANCE, money.ALLIANCE_OWNER_ID, money.PAYOUTS_IN_TRANSIT) == open_amounts
        db.session.remove()
