"""Retention maths on hand-computed cohorts (server/domain/benefit_retention.py)."""

from __future__ import annotations

from datetime import date

from server.domain.benefit_retention import (
    COMPARISON,
    TREATED,
    StratumCounts,
    cohort_months,
    cohort_retention,
    months_before,
    rate_bp,
)


def counts(group, level, city, returns_after_days, observed=(30, 60, 90)):
    """A stratum from its members' days to their first return (None: never came back)."""
    n = len(returns_after_days)
    return StratumCounts(
        group,
        level,
        city,
        n,
        {h: n if h in observed else 0 for h in (30, 60, 90)},
        {
            h: sum(1 for d in returns_after_days if d is not None and d <= h) if h in observed else 0
            for h in (30, 60, 90)
        },
    )


def test_one_stratum_returns_at_20_45_80_120_days_against_the_comparison():
    cohort = cohort_retention(
        date(2026, 1, 1),
        [
            counts(TREATED, "gold", "4403", [20, 45, 80, 120]),
            counts(TREATED, "", "", [20]),  # received a benefit but spent nothing before: cannot be matched
            counts(COMPARISON, "gold", "4403", [20, 120, None, None]),
            counts(COMPARISON, "silver", "1101", [5, 5, 5]),  # no treated member there: not used
        ],
    )
    assert (cohort.treated, cohort.treated_active, cohort.comparison) == (5, 4, 7)
    d30, d60, d90 = cohort.horizon(30), cohort.horizon(60), cohort.horizon(90)
    assert [d30.treated_rate_bp, d60.treated_rate_bp, d90.treated_rate_bp] == [4000, 6000, 8000]  # of 5
    assert [d30.matched_rate_bp, d60.matched_rate_bp, d90.matched_rate_bp] == [2500, 5000, 7500]  # of 4
    assert [d30.comparison_rate_bp, d60.comparison_rate_bp, d90.comparison_rate_bp] == [2500, 2500, 2500]
    assert [d30.uplift_bp, d60.uplift_bp, d90.uplift_bp] == [0, 2500, 5000]
    assert (d90.comparison_observed, d90.comparison_returned, d90.unmatched) == (4, 1, 1)


def test_the_comparison_is_weighted_by_the_treated_members_strata():
    cohort = cohort_retention(
        date(2026, 1, 1),
        [
            counts(TREATED, "gold", "4403", [20, 45, 80, 120]),
            counts(TREATED, "silver", "4401", [45, None]),
            counts(COMPARISON, "gold", "4403", [20, 120, None, None]),
            counts(COMPARISON, "silver", "4401", [45, 70, None, None, None]),
        ],
    )
    d30, d60, d90 = cohort.horizon(30), cohort.horizon(60), cohort.horizon(90)
    assert [d30.matched_rate_bp, d60.matched_rate_bp, d90.matched_rate_bp] == [1666, 5000, 6666]  # 1, 3, 4 of 6
    # 30: (4 × 1/4 + 2 × 0/5) / 6; 60: (4 × 1/4 + 2 × 1/5) / 6; 90: (4 × 1/4 + 2 × 2/5) / 6
    assert [d30.comparison_rate_bp, d60.comparison_rate_bp, d90.comparison_rate_bp] == [1666, 2333, 3000]
    assert [d30.uplift_bp, d60.uplift_bp, d90.uplift_bp] == [0, 2667, 3666]  # pooled 90 days would say 3333


def test_a_window_still_open_counts_neither_way():
    cohort = cohort_retention(
        date(2026, 5, 1),
        [
            counts(TREATED, "gold", "4403", [20, None], observed=(30,)),
            counts(COMPARISON, "gold", "4403", [None, None, None, 10], observed=(30,)),
        ],
    )
    assert cohort.horizon(30).uplift_bp == 5000 - 2500
    assert cohort.horizon(60).matched_rate_bp is None and cohort.horizon(60).uplift_bp is None
    assert cohort.horizon(90).treated_observed == 0


def test_rates_and_months():
    assert months_before(date(2026, 3, 1), 11) == date(2025, 4, 1) and months_before(date(2026, 1, 1), 1) == date(
        2025, 12, 1
    )
    assert rate_bp(1, 3) == 3333 and rate_bp(0, 0) is None
    assert cohort_months(date(2025, 11, 20), date(2026, 2, 3)) == [
        date(2025, 11, 1),
        date(2025, 12, 1),
        date(2026, 1, 1),
        date(2026, 2, 1),
    ]
