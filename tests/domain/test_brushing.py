"""Each anti-brushing rule with a scenario that trips it and one that must not (pure functions, no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from server.domain.brushing import (
    AGENT_CONCENTRATION,
    KINDS,
    REFUND_AFTER_LEVEL_UP,
    ROUND_AMOUNTS,
    SAME_CARD_BURST,
    TERMINAL_VELOCITY,
    RuleParameterError,
    SaleRecord,
    checked_parameters,
    default_parameters,
    run_rule,
)

T0 = datetime(2026, 11, 5, 4, 0, tzinfo=UTC)


def sale(n: int, minutes: float = 0, **fields) -> SaleRecord:
    values = {
        "id": f"sal{n:03d}",
        "occurred_at": T0 + timedelta(minutes=minutes),
        "local_day": "2026-11-05",
        "merchant_id": "mer1",
        "terminal_id": "trm1",
        "member_id": f"mem{n:03d}",
        "card_id": f"crd{n:03d}",
        "amount_fen": 3_456,
    }
    return SaleRecord(**(values | fields))


def test_same_card_more_than_n_times_in_m_minutes_trips():
    sales = [sale(i, minutes=2 * i, card_id="crdX", merchant_agent_id="agt1") for i in range(4)]
    (finding,) = run_rule(SAME_CARD_BURST, {"max_sales": 3, "minutes": 10}, sales)
    assert (finding.subject_type, finding.subject_id, finding.merchant_id) == ("card", "crdX", "mer1")
    assert finding.sale_ids == ("sal000", "sal001", "sal002", "sal003")
    assert finding.agent_id == "agt1" and finding.window == "2026-11-05"


def test_same_card_spread_out_or_at_other_merchants_does_not_trip():
    spread = [sale(i, minutes=6 * i, card_id="crdX") for i in range(4)]  # 4 sales over 18 minutes: 2 per 10
    elsewhere = [sale(i, minutes=i, card_id="crdX", merchant_id=f"mer{i}") for i in range(4)]
    exactly_n = [sale(i, minutes=i, card_id="crdX") for i in range(3)]
    for sales in (spread, elsewhere, exactly_n):
        assert run_rule(SAME_CARD_BURST, {"max_sales": 3, "minutes": 10}, sales) == []


def test_round_amounts_above_the_threshold_trip():
    sales = [sale(i, minutes=30 * i, amount_fen=200_000) for i in range(3)] + [sale(9, amount_fen=200_050)]
    (finding,) = run_rule(ROUND_AMOUNTS, {"min_amount_fen": 100_000, "multiple_fen": 10_000, "min_count": 3}, sales)
    assert (finding.subject_type, finding.subject_id) == ("merchant", "mer1")
    assert finding.sale_ids == ("sal000", "sal001", "sal002")


def test_round_amounts_below_the_threshold_or_not_round_or_too_few_do_not_trip():
    params = {"min_amount_fen": 100_000, "multiple_fen": 10_000, "min_count": 3}
    small = [sale(i, amount_fen=50_000) for i in range(5)]
    uneven = [sale(i, amount_fen=123_456) for i in range(5)]
    two = [sale(i, amount_fen=200_000) for i in range(2)]
    other_days = [sale(i, amount_fen=200_000, local_day=f"2026-11-0{i + 1}") for i in range(3)]
    for sales in (small, uneven, two, other_days):
        assert run_rule(ROUND_AMOUNTS, params, sales) == []


def test_refund_of_a_sale_that_lifted_a_level_trips():
    lifted = sale(1, lifted_level=True, refunded_fen=10_000, refunded_at=T0 + timedelta(days=2))
    lifted = SaleRecord(**(lifted.__dict__ | {"recruiting_agent_id": "agtR", "merchant_agent_id": "agtM"}))
    (finding,) = run_rule(REFUND_AFTER_LEVEL_UP, {"within_days": 7}, [lifted])
    assert (finding.subject_type, finding.subject_id, finding.sale_ids) == ("member", "mem001", ("sal001",))
    assert finding.agent_id == "agtR"  # the recruiting agent before the merchant's


def test_refunds_without_a_level_lift_or_late_and_lifts_without_refund_do_not_trip():
    plain_refund = sale(1, refunded_fen=10_000, refunded_at=T0 + timedelta(hours=1))
    late = sale(2, lifted_level=True, refunded_fen=10_000, refunded_at=T0 + timedelta(days=8))
    kept = sale(3, lifted_level=True)
    assert run_rule(REFUND_AFTER_LEVEL_UP, {"within_days": 7}, [plain_refund, late, kept]) == []


def test_sales_concentrated_at_the_recruiting_agents_merchants_trip():
    own = [sale(i, recruiting_agent_id="agtA", merchant_agent_id="agtA") for i in range(9)]
    other = [sale(20, recruiting_agent_id="agtA", merchant_agent_id="agtB", merchant_id="mer2")]
    (finding,) = run_rule(AGENT_CONCENTRATION, {"share_bp": 8_000, "min_sales": 5}, own + other)
    assert (finding.subject_type, finding.subject_id, finding.window) == ("agent", "agtA", "2026-11")
    assert len(finding.sale_ids) == 9 and finding.details["share_bp"] == 9_000


def test_spread_sales_or_too_few_do_not_trip_concentration():
    params = {"share_bp": 8_000, "min_sales": 5}
    spread = [sale(i, recruiting_agent_id="agtA", merchant_agent_id="agtA") for i in range(5)] + [
        sale(10 + i, recruiting_agent_id="agtA", merchant_agent_id=None) for i in range(5)
    ]
    few = [sale(i, recruiting_agent_id="agtA", merchant_agent_id="agtA") for i in range(4)]
    not_recruited = [sale(i, merchant_agent_id="agtA") for i in range(10)]
    for sales in (spread, few, not_recruited):
        assert run_rule(AGENT_CONCENTRATION, params, sales) == []


def test_one_terminals_velocity_trips():
    sales = [sale(i, minutes=i / 4, merchant_agent_id="agtM") for i in range(31)]  # 31 sales in 7.5 minutes
    (finding,) = run_rule(TERMINAL_VELOCITY, {"max_sales": 30, "minutes": 10}, sales)
    assert (finding.subject_type, finding.subject_id, finding.agent_id) == ("terminal", "trm1", "agtM")
    assert len(finding.sale_ids) == 31


def test_a_steady_terminal_does_not_trip():
    steady = [sale(i, minutes=i) for i in range(60)]  # one a minute: 11 in any 10 minutes
    two_terminals = [sale(i, minutes=i / 4, terminal_id=f"trm{i % 2}") for i in range(40)]
    for sales in (steady, two_terminals):
        assert run_rule(TERMINAL_VELOCITY, {"max_sales": 30, "minutes": 10}, sales) == []


def test_findings_are_the_same_whatever_the_order_of_the_sales():
    sales = [sale(i, minutes=i, card_id="crdX") for i in range(5)]
    assert run_rule(SAME_CARD_BURST, {}, sales) == run_rule(SAME_CARD_BURST, {}, list(reversed(sales)))


def test_parameters_are_checked_against_the_kind():
    assert set(KINDS) == {SAME_CARD_BURST, ROUND_AMOUNTS, REFUND_AFTER_LEVEL_UP, AGENT_CONCENTRATION, TERMINAL_VELOCITY}
    assert checked_parameters(SAME_CARD_BURST, {"max_sales": 5}) == default_parameters(SAME_CARD_BURST) | {
        "max_sales": 5
    }
    for bad in ({"nope": 1}, {"max_sales": 0}, {"max_sales": True}, {"minutes": "10"}, {"minutes": 1.5}):
        with pytest.raises(RuleParameterError):
            checked_parameters(SAME_CARD_BURST, bad)
