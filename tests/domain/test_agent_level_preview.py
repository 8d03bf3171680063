"""The preview of a level rule change: who would qualify for another rank on the same figures (pure)."""

from __future__ import annotations

from server.domain.agent_levels import Condition, LevelRule, PreviewMove, preview_moves

CURRENT = (
    LevelRule(0),
    LevelRule(1, (Condition("serviced_gmv_fen", 500_000),), min_health_score=60),
    LevelRule(2, (Condition("serviced_gmv_fen", 2_000_000), Condition("active_subordinates", 2, 12))),
)
FIGURES = {
    "a": {"serviced_gmv_fen": 600_000, "health_score": 90},
    "b": {"serviced_gmv_fen": 400_000, "health_score": 90},
    "c": {"serviced_gmv_fen": 3_000_000, "health_score": 90},
}


def test_nobody_moves_when_the_rules_stay():
    assert preview_moves(CURRENT, CURRENT, FIGURES) == []


def test_a_lower_threshold_lifts_and_a_higher_one_drops_on_the_same_figures():
    lower = (CURRENT[0], LevelRule(1, (Condition("serviced_gmv_fen", 300_000),), min_health_score=60), CURRENT[2])
    assert preview_moves(CURRENT, lower, FIGURES) == [PreviewMove("b", 0, 1)]
    higher = (CURRENT[0], LevelRule(1, (Condition("serviced_gmv_fen", 700_000),), min_health_score=60), CURRENT[2])
    assert preview_moves(CURRENT, higher, FIGURES) == [PreviewMove("a", 1, 0)]


def test_team_conditions_use_the_subordinates_active_days():
    looser = (
        *CURRENT[:2],
        LevelRule(2, (Condition("serviced_gmv_fen", 2_000_000), Condition("active_subordinates", 1, 12))),
    )
    days = {"c": [15, 3]}
    assert preview_moves(CURRENT, CURRENT, FIGURES, days) == []
    assert preview_moves(CURRENT, looser, FIGURES, days) == [PreviewMove("c", 1, 2)]


def test_a_health_minimum_blocks_whatever_the_volume():
    strict = (CURRENT[0], LevelRule(1, (Condition("serviced_gmv_fen", 500_000),), min_health_score=95), CURRENT[2])
    assert preview_moves(CURRENT, strict, FIGURES) == [PreviewMove("a", 1, 0), PreviewMove("c", 1, 0)]
