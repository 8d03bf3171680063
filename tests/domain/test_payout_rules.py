"""Tax withheld, withdrawal checks and the bonus pool's shares (pure rules)."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.domain.bonus_pool import Contribution, PoolPolicy, accrue, distribute, largest_remainder
from server.domain.errors import WithdrawalRefused
from server.domain.tax import TaxLine, tax_withheld, yearly_statement
from server.domain.withdrawals import WithdrawalPolicy, check_withdrawal, split_withdrawal

POLICY = WithdrawalPolicy(
    minimum_fen=10_000, daily_maximum_fen=100_000, fee_fixed_fen=100, fee_bp=50, tax_rate_bp=2_000
)


def test_tax_rounds_half_up_for_a_person_and_is_zero_for_a_company():
    assert tax_withheld(10_000, "person", 2_000) == 2_000
    assert tax_withheld(12_345, "person", 2_000) == 2_469  # 2469.0
    assert tax_withheld(12_347, "person", 2_000) == 2_469  # 2469.4 rounds down
    assert tax_withheld(12_348, "person", 2_000) == 2_470  # 2469.6 rounds up
    assert tax_withheld(10_025, "person", 200) == 201  # 200.5 rounds up
    assert tax_withheld(1_000_000, "company", 2_000) == 0
    with pytest.raises(ValueError):
        tax_withheld(100, "person", 9_000)
    with pytest.raises(ValueError):
        tax_withheld(100, "robot", 100)


@given(st.integers(1, 10**9), st.sampled_from(["person", "company"]), st.integers(0, 4_500))
def test_split_is_exact(amount, kind, rate):
    split = split_withdrawal(amount, kind, WithdrawalPolicy(fee_fixed_fen=3, fee_bp=37, tax_rate_bp=rate))
    assert split.fee_fen + split.tax_fen + split.net_fen == amount
    assert split.tax_fen == (0 if kind == "company" else (amount * rate + 5_000) // 10_000)


def test_withdrawal_refusals_name_their_reason():
    base = dict(agent_kind="person", available_fen=50_000, debt_fen=0, requested_today_fen=0, policy=POLICY)
    split = check_withdrawal(20_000, **base)
    assert (split.fee_fen, split.tax_fen, split.net_fen) == (200, 4_000, 15_800)
    for amount, changes, reason in [
        (20_000, {"debt_fen": 1}, "debt"),
        (9_999, {}, "minimum"),
        (50_001, {}, "available"),
        (20_000, {"requested_today_fen": 80_001}, "daily_maximum"),
        (0, {}, "amount"),
        (True, {}, "amount"),
    ]:
        with pytest.raises(WithdrawalRefused) as refused:
            check_withdrawal(amount, **{**base, **changes})
        assert refused.value.details["reason"] == reason
    with pytest.raises(WithdrawalRefused) as refused:
        check_withdrawal(10_000, **{**base, "policy": WithdrawalPolicy(minimum_fen=1, fee_fixed_fen=10_000)})
    assert refused.value.details["reason"] == "net"


def test_yearly_statement_sums_by_month_and_ignores_other_years():
    lines = [
        TaxLine(date(2026, 1, 5), 10_000, 2_000, 100, "W1"),
        TaxLine(date(2026, 1, 20), 20_000, 4_000, 100, "W2"),
        TaxLine(date(2026, 12, 31), 5_000, 1_000, 0, "W3"),
        TaxLine(date(2025, 12, 31), 99_999, 1, 0, "W0"),
    ]
    statement = yearly_statement("A1", "person", 2026, lines)
    assert statement.total.gross_fen == 35_000 and statement.total.tax_fen == 7_000
    assert statement.total.net_fen == 35_000 - 7_000 - 200 and statement.total.payouts == 3
    assert statement.months[1].gross_fen == 30_000 and statement.months[12].tax_fen == 1_000
    assert statement.months[6].payouts == 0 and len(statement.months) == 12
    assert [line.reference for line in statement.lines] == ["W1", "W2", "W3"]
    assert statement.effective_rate_bp == 2_000


def test_accrual_rounds_down_and_keeps_the_reserve():
    accrual = accrue(123_456, PoolPolicy(pool_share_bp=1_000, reserve_share_bp=2_000))
    assert accrual.accrued_fen == 12_345 and accrual.reserve_fen == 2_469 and accrual.pool_fen == 9_876
    assert accrue(-500, PoolPolicy()).accrued_fen == 0


def test_largest_remainder_gives_leftover_fen_to_largest_remainders_then_smaller_id():
    assert largest_remainder(100, {"a": 1, "b": 1, "c": 1}) == {"a": 34, "b": 33, "c": 33}
    assert largest_remainder(10, {"a": 1, "b": 2}) == {"a": 3, "b": 7}  # 3.33 / 6.67: b's .67 wins the fen
    assert largest_remainder(10, {"a": 0}) == {}
    assert largest_remainder(0, {"a": 5}) == {}


def test_distribution_weighs_own_gmv_by_health():
    shares = distribute(
        1_000,
        {"a": Contribution(100_000, 100), "b": Contribution(100_000, 50), "c": Contribution(900_000, 10)},
        PoolPolicy(min_health_score=20),
    )
    assert shares == {"a": 667, "b": 333}


contributions = st.dictionaries(
    st.text("abcdefgh", min_size=1, max_size=3),
    st.builds(Contribution, st.integers(-1_000, 10**9), st.integers(0, 100)),
    max_size=12,
)


@given(st.integers(0, 10**9), contributions, st.integers(1, 20))
def test_shares_sum_exactly_and_recruits_without_own_sales_change_nothing(amount, agents, recruits):
    policy = PoolPolicy()
    shares = distribute(amount, agents, policy)
    assert all(share > 0 for share in shares.values())
    assert sum(shares.values()) in (0, amount)
    if amount:
        contributing = any(c.serviced_gmv_fen > 0 and c.health_score > 0 for c in agents.values())
        assert (sum(shares.values()) == amount) == contributing
    # headcount: any number of new agents (recruits of anyone) with no serviced sales of their own
    with_recruits = {**agents, **{f"new{i}": Contribution(0, 100) for i in range(recruits)}}
    assert distribute(amount, with_recruits, policy) == shares


@given(st.integers(1, 10**7), contributions)
def test_a_share_never_falls_when_only_the_agents_own_gmv_rises(amount, agents):
    if not agents:
        return
    first = sorted(agents)[0]
    before = distribute(amount, agents, PoolPolicy()).get(first, 0)
    own = agents[first]
    grown = {**agents, first: Contribution(max(own.serviced_gmv_fen, 0) + 10**6, max(own.health_score, 1))}
    assert distribute(amount, grown, PoolPolicy()).get(first, 0) >= before
