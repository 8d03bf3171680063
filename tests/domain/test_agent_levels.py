"""Agent levels: each condition kind, all-of/any-of, upgrade, downgrade with grace and protection, fast
track, the health score and its floor, early-warning drops."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.domain.agent_levels import (
    HEALTH_WEIGHTS,
    Condition,
    EvaluationPolicy,
    HealthInputs,
    LevelRule,
    LevelState,
    drop_alert,
    evaluate_level,
    health_parts,
    health_score,
    qualifies,
)
from server.domain.agent_network import (
    ACTIVATED_CARDS,
    ACTIVE_DAYS,
    ACTIVE_RECRUITED_MEMBERS,
    ACTIVE_SUBORDINATES,
    HEALTH_SCORE,
    MERCHANTS_WITH_SALES,
    SERVICED_GMV_FEN,
)
from server.domain.statuses import AgentEvaluationOutcome as Outcome

RULES = [
    LevelRule(0),
    LevelRule(1, (Condition(SERVICED_GMV_FEN, 1_000),)),
    LevelRule(2, (Condition(SERVICED_GMV_FEN, 2_000),)),
    LevelRule(3, (Condition(SERVICED_GMV_FEN, 3_000),)),
    LevelRule(4, (Condition(SERVICED_GMV_FEN, 4_000),)),
]
POLICY = EvaluationPolicy(grace_periods=1, protection_periods=3, fast_track_periods=2, health_floor=60)


def figures(gmv: int = 0, health: int = 100, **more) -> dict:
    return {SERVICED_GMV_FEN: gmv, HEALTH_SCORE: health, **more}


@pytest.mark.parametrize(
    "metric",
    [SERVICED_GMV_FEN, ACTIVE_RECRUITED_MEMBERS, ACTIVATED_CARDS, ACTIVE_DAYS, MERCHANTS_WITH_SALES, HEALTH_SCORE],
)
def test_each_condition_kind_compares_its_figure(metric):
    rule = LevelRule(1, (Condition(metric, 5),))
    assert qualifies(rule, {metric: 5})[0]
    assert not qualifies(rule, {metric: 4})[0]
    assert qualifies(rule, {metric: 4})[1] == [{"metric": metric, "figure": 4, "minimum": 5, "met": False}]


def test_team_condition_counts_direct_subordinates_active_enough():
    """黄金 needs ≥ 3 direct subordinates each active on ≥ 12 days (about 3 a week)."""
    rule = LevelRule(3, (Condition(ACTIVE_SUBORDINATES, 3, parameter=12),))
    assert qualifies(rule, {}, [12, 15, 20])[0]
    assert not qualifies(rule, {}, [12, 15, 11, 3])[0]


def test_all_of_and_any_of():
    conditions = (Condition(SERVICED_GMV_FEN, 100), Condition(ACTIVE_DAYS, 10))
    both, one = {SERVICED_GMV_FEN: 100, ACTIVE_DAYS: 10}, {SERVICED_GMV_FEN: 100, ACTIVE_DAYS: 2}
    assert qualifies(LevelRule(1, conditions, "all"), both)[0]
    assert not qualifies(LevelRule(1, conditions, "all"), one)[0]
    assert qualifies(LevelRule(1, conditions, "any"), one)[0]
    assert not qualifies(LevelRule(1, conditions, "any"), {})[0]


def test_a_level_minimum_health_score():
    rule = LevelRule(1, (Condition(SERVICED_GMV_FEN, 1),), min_health_score=80)
    assert not qualifies(rule, figures(5, health=79))[0]
    assert qualifies(rule, figures(5, health=80))[0]


def test_upgrade_one_level_at_a_time():
    decision = evaluate_level(RULES, figures(3_500), LevelState(0), POLICY)
    assert (decision.rank_after, decision.outcome) == (1, Outcome.UPGRADED)
    assert decision.qualified_rank == 3


def test_health_below_the_floor_blocks_an_upgrade_whatever_the_volume():
    decision = evaluate_level(RULES, figures(10**9, health=59), LevelState(0), POLICY)
    assert (decision.rank_after, decision.outcome) == (0, Outcome.KEPT)
    assert "upgrade_blocked_by_health" in decision.reasons


def test_fast_track_after_consecutive_periods_beyond_the_next_level():
    first = evaluate_level(RULES, figures(3_500), LevelState(0), POLICY)
    assert first.rank_after == 1 and first.periods_exceeding == 1
    # still exceeding the next level (2) from rank 1: second consecutive period → straight to 3
    second = evaluate_level(RULES, figures(3_500), LevelState(1, periods_exceeding=first.periods_exceeding), POLICY)
    assert (second.rank_after, second.reasons) == (3, ("fast_track",))


def test_no_fast_track_when_the_streak_breaks():
    decision = evaluate_level(RULES, figures(2_000), LevelState(1, periods_exceeding=1), POLICY)
    assert decision.rank_after == 2 and decision.periods_exceeding == 0


def test_downgrade_waits_out_the_grace_period():
    state = LevelState(3)
    first = evaluate_level(RULES, figures(500), state, POLICY)
    assert (first.rank_after, first.reasons) == (3, ("grace_period",))
    second = evaluate_level(RULES, figures(500), LevelState(3, periods_below=first.periods_below), POLICY)
    assert (second.rank_after, second.outcome) == (2, Outcome.DOWNGRADED)


def test_protection_period_after_an_upgrade():
    protected = evaluate_level(RULES, figures(0), LevelState(3, periods_since_upgrade=1, periods_below=5), POLICY)
    assert (protected.rank_after, protected.reasons) == (3, ("protected_after_upgrade",))
    over = evaluate_level(RULES, figures(0), LevelState(3, periods_since_upgrade=3, periods_below=5), POLICY)
    assert over.outcome == Outcome.DOWNGRADED and over.rank_after == 2


def test_a_recovered_agent_resets_its_grace():
    decision = evaluate_level(RULES, figures(3_000), LevelState(3, periods_below=1), POLICY)
    assert decision.periods_below == 0 and decision.rank_after == 3 and decision.reasons == ("conditions_met",)


@given(
    gmv=st.integers(0, 10_000),
    health=st.integers(0, 100),
    rank=st.integers(0, 4),
    below=st.integers(0, 5),
    exceeding=st.integers(0, 5),
    since=st.none() | st.integers(0, 5),
)
def test_evaluation_moves_within_bounds(gmv, health, rank, below, exceeding, since):
    """At most one level down; up only with health at the floor; never beyond what the figures qualify for."""
    state = LevelState(rank, since, below, exceeding)
    decision = evaluate_level(RULES, figures(gmv, health), state, POLICY)
    assert decision.rank_after >= rank - 1
    if decision.rank_after > rank:
        assert health >= POLICY.health_floor
        assert decision.rank_after <= decision.qualified_rank
    if decision.rank_after < rank:
        assert since is None or since >= POLICY.protection_periods


def test_health_score_parts_and_weights():
    assert sum(HEALTH_WEIGHTS.values()) == 100
    assert health_score(HealthInputs()) == 100
    assert health_score(HealthInputs(sales=1000, complaints=5, complaints_answered_in_time=5)) == 85
    assert health_parts(HealthInputs(consumption_fen=10_000, refunded_fen=1_000))["refunds"] == 12  # 10 % of 20 %
    assert health_parts(HealthInputs(violations=1, brushing_flags=1))["violations"] == 10
    assert health_parts(HealthInputs(sales=10, complaints=2, complaints_answered_in_time=1))["response"] == 7


@given(
    sales=st.integers(0, 10**6),
    complaints=st.integers(0, 10**4),
    consumption=st.integers(0, 10**10),
    refunded=st.integers(0, 10**10),
    violations=st.integers(0, 50),
    answered=st.integers(0, 10**4),
)
def test_health_score_is_0_to_100(sales, complaints, consumption, refunded, violations, answered):
    score = health_score(HealthInputs(sales, complaints, consumption, refunded, violations, 0, answered))
    assert 0 <= score <= 100


def test_drop_alert_at_thirty_percent():
    assert drop_alert(10_000, 7_000, 3_000)
    assert not drop_alert(10_000, 7_001, 3_000)
    assert not drop_alert(0, 0, 3_000)
