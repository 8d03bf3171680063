"""Level rules: upgrade at once on spend, keep while protected or qualifying, drop only at evaluation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.domain.levels import (
    LevelRule,
    level_after_sale,
    level_at_evaluation,
    reached_level,
    upgrade_progress,
)

NORMAL = LevelRule("normal", 0, upgrade_spend_fen=0, keep_spend_fen=0, protection_days=90)
SILVER = LevelRule("silver", 1, upgrade_spend_fen=100_000, keep_spend_fen=80_000, protection_days=90)
GOLD = LevelRule("gold", 2, upgrade_spend_fen=500_000, keep_spend_fen=400_000, protection_days=90)
DIAMOND = LevelRule("diamond", 3, upgrade_spend_fen=2_000_000, keep_spend_fen=1_600_000, protection_days=30)
# deliberately out of rank order: the rules sort by rank themselves
LEVELS = [GOLD, NORMAL, DIAMOND, SILVER]

SINCE = datetime(2026, 1, 1, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("spend", "expected"),
    [
        (0, NORMAL),
        (99_999, NORMAL),
        (100_000, SILVER),
        (499_999, SILVER),
        (500_000, GOLD),
        (2_000_000, DIAMOND),
        (10**12, DIAMOND),
        (-5_000, NORMAL),
    ],
)
def test_reached_level(spend, expected):
    assert reached_level(LEVELS, spend) == expected


def test_upgrade_after_sale_may_skip_ranks():
    assert level_after_sale(NORMAL, LEVELS, 100_000) == SILVER
    assert level_after_sale(NORMAL, LEVELS, 600_000) == GOLD
    assert level_after_sale(SILVER, LEVELS, 2_500_000) == DIAMOND


def test_sale_never_downgrades():
    assert level_after_sale(GOLD, LEVELS, 0) is GOLD
    assert level_after_sale(GOLD, LEVELS, 100_000) is GOLD
    assert level_after_sale(DIAMOND, LEVELS, 1) is DIAMOND


@given(
    current=st.sampled_from(LEVELS),
    spend=st.integers(min_value=-(10**7), max_value=10**8),
)
def test_level_after_sale_is_never_lower_and_never_above_reach(current, spend):
    after = level_after_sale(current, LEVELS, spend)
    assert after.rank >= current.rank
    assert after.rank == max(current.rank, reached_level(LEVELS, spend).rank)


def test_evaluation_upgrades():
    now = SINCE + timedelta(days=400)
    assert level_at_evaluation(NORMAL, LEVELS, 500_000, SINCE, now) == GOLD
    # also during protection: protection only stops drops
    assert level_at_evaluation(SILVER, LEVELS, 500_000, SINCE, SINCE + timedelta(days=1)) == GOLD


def test_protection_period_keeps_the_level():
    just_before_end = SINCE + timedelta(days=90) - timedelta(seconds=1)
    assert level_at_evaluation(GOLD, LEVELS, 0, SINCE, just_before_end) is GOLD
    # from the end of protection on, no spend means the lowest level
    assert level_at_evaluation(GOLD, LEVELS, 0, SINCE, SINCE + timedelta(days=90)) == NORMAL
    # each level has its own protection period
    assert level_at_evaluation(DIAMOND, LEVELS, 0, SINCE, SINCE + timedelta(days=29)) is DIAMOND
    assert level_at_evaluation(DIAMOND, LEVELS, 0, SINCE, SINCE + timedelta(days=30)) == NORMAL


def test_keep_threshold_keeps_the_level():
    later = SINCE + timedelta(days=200)
    assert level_at_evaluation(GOLD, LEVELS, 400_000, SINCE, later) is GOLD  # exactly the keep threshold
    assert level_at_evaluation(GOLD, LEVELS, 499_999, SINCE, later) is GOLD  # below upgrade, above keep
    assert level_at_evaluation(GOLD, LEVELS, 399_999, SINCE, later) == SILVER


@pytest.mark.parametrize(
    ("spend", "expected"),
    [(1_599_999, GOLD), (400_000, GOLD), (399_999, SILVER), (80_000, SILVER), (79_999, NORMAL), (0, NORMAL)],
)
def test_drop_lands_on_the_highest_level_still_kept(spend, expected):
    later = SINCE + timedelta(days=365)
    assert level_at_evaluation(DIAMOND, LEVELS, spend, SINCE, later) == expected


def test_lowest_level_stays_lowest():
    later = SINCE + timedelta(days=365)
    assert level_at_evaluation(NORMAL, LEVELS, 0, SINCE, later) is NORMAL


@given(
    current=st.sampled_from(LEVELS),
    spend=st.integers(min_value=0, max_value=3_000_000),
    days=st.integers(min_value=0, max_value=800),
)
def test_evaluation_properties(current, spend, days):
    now = SINCE + timedelta(days=days)
    after = level_at_evaluation(current, LEVELS, spend, SINCE, now)
    reached = reached_level(LEVELS, spend)
    if reached.rank > current.rank:
        assert after == reached
    elif days < current.protection_days or spend >= current.keep_spend_fen:
        assert after is current
    else:
        assert after.rank < current.rank
        assert spend >= after.keep_spend_fen
        # it is the highest lower level whose keep threshold is met
        assert all(rule.keep_spend_fen > spend for rule in LEVELS if after.rank < rule.rank < current.rank)


NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def test_progress_says_what_is_left_and_when_the_oldest_counted_spend_leaves_the_window():
    spends = [
        (NOW - timedelta(days=400), 300_000),  # outside the 365-day window: does not count
        (NOW - timedelta(days=300), 0),  # fully refunded: leaving changes nothing
        (NOW - timedelta(days=200), 30_000),
        (NOW - timedelta(days=10), 40_000),
    ]
    progress = upgrade_progress(NORMAL, LEVELS, spends, NOW, 365)
    assert progress.target is SILVER
    assert (progress.spend_fen, progress.left_fen) == (70_000, 30_000)
    assert progress.deadline == NOW - timedelta(days=200) + timedelta(days=365)
    assert progress.left_after_fen == 60_000  # the 300 yuan of 200 days ago no longer count


def test_progress_without_spend_has_no_deadline_and_at_the_top_there_is_none():
    progress = upgrade_progress(SILVER, LEVELS, [], NOW, 365)
    assert (progress.target, progress.spend_fen, progress.left_fen, progress.deadline) == (GOLD, 0, 500_000, None)
    assert upgrade_progress(DIAMOND, LEVELS, [(NOW, 10**7)], NOW, 365) is None


def test_progress_reached_but_not_yet_upgraded_leaves_nothing_to_spend():
    progress = upgrade_progress(NORMAL, LEVELS, [(NOW - timedelta(days=1), 150_000)], NOW, 365)
    assert (progress.target, progress.left_fen, progress.deadline) == (SILVER, 0, None)
