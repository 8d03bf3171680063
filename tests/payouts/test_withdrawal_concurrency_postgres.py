"""On PostgreSQL, concurrent withdrawals of the same available money produce what a serial run produces."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import func, select

from server.domain import money_ledger as money
from server.domain.errors import WithdrawalRefused
from server.extensions import db
from server.models import Withdrawal
from server.services import money_ledger as ledger
from server.services import withdrawals
from server.services.reconciliation import check_money_ledger_balanced
from tests.api.test_concurrency_postgres import run_at_once
from tests.payouts.support import ACTOR, BANK, make_agent

pytestmark = pytest.mark.postgres


def race(pg_app, agent_id: str, amounts: list[int], keys: list[str]) -> Counter:
    def ask(index: int):
        with pg_app.app_context():
            try:
                return withdrawals.request_withdrawal(ACTOR, agent_id, amounts[index], keys[index], **BANK).id
            except WithdrawalRefused as refused:
                return refused.details["reason"]
            finally:
                db.session.remove()

    results = run_at_once(len(amounts), ask)
    assert not [r for r in results if isinstance(r, Exception)], results
    return Counter("ok" if str(r).startswith("wdr_") else r for r in results)


def test_twelve_requests_for_the_same_money_never_overdraw(pg_app):
    with pg_app.app_context():
        agent_id = make_agent(fund_fen=100_000).id
        db.session.remove()
    outcome = race(pg_app, agent_id, [30_000] * 12, [f"k{i}" for i in range(12)])
    assert outcome == {"ok": 3, "available": 9}  # serially: 3 fit in 100,000, the 4th finds 10,000
    with pg_app.app_context():
        balances = withdrawals.agent_balances(agent_id)
        assert (balances.available_fen, balances.in_transit_fen) == (10_000, 90_000)
        assert ledger.balance(money.ALLIANCE, money.ALLIANCE_OWNER_ID, money.PAYOUTS_IN_TRANSIT) == 90_000
        assert check_money_ledger_balanced() == []
        db.session.remove()


def test_the_same_request_sent_eight_times_at_once_is_one_withdrawal_and_the_daily_maximum_holds(pg_app):
    with pg_app.app_context():
        agent_id = make_agent(fund_fen=1_000_000).id
        withdrawals.update_payout_policy(ACTOR, withdrawal_daily_maximum_fen=50_000)
        db.session.remove()
    assert race(pg_app, agent_id, [20_000] * 8, ["same"] * 8) == {"ok": 8}
    outcome = race(pg_app, agent_id, [20_000] * 8, [f"d{i}" for i in range(8)])
    assert outcome == {"ok": 1, "daily_maximum": 7}  # 20,000 + 20,000 fit under 50,000; a third does not
    with pg_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Withdrawal)) == 2
        assert withdrawals.agent_balances(agent_id).available_fen == 960_000
        assert check_money_ledger_balanced() == []
        db.session.remove()
