"""The money ledger: balanced, idempotent by source key, guarded, corrected by reversal, reconciled."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, update

from server.domain import money_ledger as money
from server.domain.errors import InsufficientFunds
from server.extensions import db
from server.models import MoneyAccount, MoneyEntry, MoneyTransaction
from server.services import money_ledger
from server.services.reconciliation import check_money_ledger_balanced
from tests.conftest import wipe

ACTOR = "test:money"


def test_a_posting_moves_balances_once_per_source_key(ctx):
    payable = money_ledger.account(money.MERCHANT, "mer_1", money.MERCHANT_COMMISSION_PAYABLE)
    pending = money_ledger.account(money.AGENT, "agt_1", money.PENDING)
    assert money_ledger.account(money.AGENT, "agt_1", money.PENDING) == pending  # found, not opened twice
    first = money_ledger.post(money.COMMISSION_EARNED, "k1", money.transfer(payable, pending, 250), ACTOR)
    again = money_ledger.post(money.COMMISSION_EARNED, "k1", money.transfer(payable, pending, 250), ACTOR)
    assert first.posted and not again.posted and again.transaction_id == first.transaction_id
    assert money_ledger.balances(money.AGENT, "agt_1") == {
        money.PENDING: 250,
        money.AVAILABLE: 0,
        money.PAID: 0,
        money.DEBT: 0,
    }
    assert money_ledger.balance(money.MERCHANT, "mer_1", money.MERCHANT_COMMISSION_PAYABLE) == -250
    assert db.session.scalar(select(func.count()).select_from(MoneyEntry)) == 2
    assert check_money_ledger_balanced() == []


def test_a_guarded_account_never_goes_negative_and_nothing_is_kept(ctx):
    pending = money_ledger.account(money.AGENT, "agt_1", money.PENDING)
    available = money_ledger.account(money.AGENT, "agt_1", money.AVAILABLE)
    with pytest.raises(InsufficientFunds):
        money_ledger.post(money.COMMISSION_RELEASED, "k", money.transfer(pending, available, 1), ACTOR)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(MoneyTransaction)) == 0


def test_unbalanced_postings_and_unknown_kinds_are_programming_errors(ctx):
    with pytest.raises(money.UnbalancedTransaction):
        money_ledger.post("x", "k", [money.Posting(1, 5)], ACTOR)
    with pytest.raises(money.UnknownAccountKind):
        money_ledger.account(money.MERCHANT, "mer_1", money.PENDING)


def test_a_correction_is_a_reversing_transaction_posted_at_most_once(ctx):
    fee = money_ledger.alliance_account(money.FEE_INCOME)
    pool = money_ledger.alliance_account(money.BONUS_POOL)
    posted = money_ledger.post("bonus_accrual", "pool:2026-11", money.transfer(fee, pool, 1_000), ACTOR)
    correction = money_ledger.reverse(posted.transaction_id, ACTOR)
    assert correction.posted and not money_ledger.reverse(posted.transaction_id, ACTOR).posted
    assert money_ledger.balance(money.ALLIANCE, money.ALLIANCE_OWNER_ID, money.BONUS_POOL) == 0
    assert db.session.get(MoneyTransaction, correction.transaction_id).reverses_id == posted.transaction_id
    assert db.session.scalar(select(func.count()).select_from(MoneyEntry)) == 4  # nothing edited, all appended


def test_debt_blocks_withdrawal_until_later_commission_nets_it(ctx):
    payable = money_ledger.account(money.MERCHANT, "mer_1", money.MERCHANT_COMMISSION_PAYABLE)
    available = money_ledger.account(money.AGENT, "agt_1", money.AVAILABLE)
    debt = money_ledger.account(money.AGENT, "agt_1", money.DEBT)
    money_ledger.post(money.COMMISSION_CLAWBACK, "claw", money.transfer(debt, payable, 300), ACTOR)
    assert money_ledger.has_debt(money.AGENT, "agt_1") and money_ledger.withdrawable_fen(money.AGENT, "agt_1") == 0
    money_ledger.post(money.COMMISSION_RELEASED, "rel", money.transfer(payable, available, 200), ACTOR)
    assert money_ledger.net_debt(money.AGENT, "agt_1", ACTOR, "net1") == 200
    assert money_ledger.balances(money.AGENT, "agt_1")[money.DEBT] == -100
    assert money_ledger.withdrawable_fen(money.AGENT, "agt_1") == 0
    money_ledger.post(money.COMMISSION_RELEASED, "rel2", money.transfer(payable, available, 500), ACTOR)
    assert money_ledger.net_debt(money.AGENT, "agt_1", ACTOR, "net2") == 100
    assert not money_ledger.has_debt(money.AGENT, "agt_1")
    assert money_ledger.withdrawable_fen(money.AGENT, "agt_1") == 400
    assert check_money_ledger_balanced() == []


def test_reconciliation_names_a_cached_balance_that_disagrees_with_its_entries(ctx):
    fee = money_ledger.alliance_account(money.FEE_INCOME)
    pool = money_ledger.alliance_account(money.BONUS_POOL)
    money_ledger.post("bonus_accrual", "k", money.transfer(fee, pool, 70), ACTOR)
    db.session.execute(update(MoneyAccount).where(MoneyAccount.id == pool).values(balance=71))
    found = check_money_ledger_balanced()
    assert any("cached balance 71, its entries sum to 70" in text for text in found)
    assert any("money accounts sum to 1" in text for text in found)


KINDS = [
    (money.MERCHANT, "mer_1", money.MERCHANT_COMMISSION_PAYABLE),
    (money.AGENT, "agt_1", money.PENDING),
    (money.AGENT, "agt_1", money.AVAILABLE),
    (money.AGENT, "agt_1", money.DEBT),
    (money.MEMBER, "mem_1", money.PENDING),
    (money.ALLIANCE, money.ALLIANCE_OWNER_ID, money.FEE_INCOME),
    (money.ALLIANCE, money.ALLIANCE_OWNER_ID, money.PAYOUTS_IN_TRANSIT),
]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.tuples(
            st.integers(0, len(KINDS) - 1),
            st.integers(0, len(KINDS) - 1),
            st.integers(-500, 500),
            st.integers(0, 5),  # source key (repeats: must not post twice)
        ),
        max_size=30,
    )
)
def test_random_postings_keep_every_invariant(app, operations):
    wipe(app)
    with app.app_context():
        ids = [money_ledger.account(*key) for key in KINDS]
        model = dict.fromkeys(ids, 0)
        seen = set()
        for source, target, fen, key in operations:
            postings = money.transfer(ids[source], ids[target], fen)
            try:
                with db.session.begin_nested():
                    result = money_ledger.post("test", f"key{key}", postings, ACTOR)
            except InsufficientFunds:
                continue
            assert result.posted == (key not in seen)
            if result.posted:
                seen.add(key)
                for posting in postings:
                    model[posting.account_id] += posting.amount
        for account_id, expected in model.items():
            found = db.session.get(MoneyAccount, account_id)
            db.session.refresh(found)
            assert found.balance == expected
            assert found.allow_negative or found.balance >= 0
        assert check_money_ledger_balanced() == []
        db.session.rollback()
