"""Benefit retention maths (pure): cohorts by the month of a member's first benefit, return rates within
30 / 60 / 90 days, and the uplift over comparable members who received no benefit (docs/benefits.md,
"Analytics").

The service (``server/services/benefit_analytics.py``) counts members in the database, per cohort, group
(``treated`` / ``comparison``) and stratum (the member's level and city, both read from their last sale in the
90 days before the cohort month), and hands the counts here:

- ``members``: members of the group in the stratum;
- ``observed[h]``: of them, those whose window of ``h`` days has ended by the report's date (a window still
  open is not counted either way);
- ``returned[h]``: of the observed, those who made a sale within ``h`` days after their reference moment.

The comparison is *standardized to the treated members' mix*: within each stratum both groups are compared
like with like, and the comparison's rate is the average of its per-stratum rates weighted by how many
treated members each stratum holds. Treated members in a stratum without an observed comparison member
cannot be matched and are left out of the matched rate and the uplift (counted in ``unmatched``).
Rates are basis points rounded down; the uplift is matched treated rate minus comparison rate (may be
negative).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction

HORIZONS = (30, 60, 90)  # days after the reference moment
LOOKBACK_DAYS = 90  # "active": a sale in this many days before the cohort month
TREATED, COMPARISON = "treated", "comparison"
FIRST_MONTH, LAST_MONTH = date(2000, 1, 1), date(2099, 12, 1)  # the cohort months one may ask for


@dataclass(frozen=True)
class StratumCounts:
    """Counts of one group in one stratum of a cohort (``level`` / ``city`` empty: not active before)."""

    group: str
    level: str
    city: str
    members: int
    observed: dict[int, int] = field(default_factory=dict)
    returned: dict[int, int] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        """True when the members spent in the 90 days before the cohort month (they have a stratum)."""
        return bool(self.level)


@dataclass(frozen=True)
class HorizonRates:
    """One horizon of one cohort: every treated member, the matched treated, the comparison, the uplift."""

    days: int
    treated_observed: int
    treated_returned: int
    treated_rate_bp: int | None
    matched_observed: int
    matched_returned: int
    matched_rate_bp: int | None
    comparison_observed: int
    comparison_returned: int
    comparison_rate_bp: int | None  # standardized to the matched treated members' strata
    uplift_bp: int | None
    unmatched: int  # observed treated members in strata without an observed comparison member


@dataclass(frozen=True)
class CohortRetention:
    """A cohort (the month of the members' first benefit) with its group sizes and its rates per horizon."""

    month: date
    treated: int
    treated_active: int  # of them, those who spent in the 90 days before the month (could be matched)
    comparison: int
    horizons: tuple[HorizonRates, ...]

    def horizon(self, days: int) -> HorizonRates:
        """The rates of one horizon."""
        return next(rates for rates in self.horizons if rates.days == days)


def rate_bp(part: int | Fraction, whole: int | Fraction) -> int | None:
    """``part / whole`` in basis points, rounded down; None when nothing was observed."""
    if not whole:
        return None
    return int(Fraction(part) * 10_000 // Fraction(whole))


def month_start(day: date) -> date:
    """The first day of ``day``'s month."""
    return day.replace(day=1)


def next_month(month: date) -> date:
    """The first day of the month after ``month``."""
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def months_before(month: date, count: int) -> date:
    """The first day of the month ``count`` months before ``month``'s."""
    index = month.year * 12 + month.month - 1 - count
    return date(index // 12, index % 12 + 1, 1)


def cohort_months(first: date, last: date) -> list[date]:
    """The first days of the months from ``first``'s to ``last``'s, oldest first."""
    months, month = [], month_start(first)
    while month <= last:
        months.append(month)
        month = next_month(month)
    return months


def _horizon(days: int, treated: list[StratumCounts], comparison: list[StratumCounts]) -> HorizonRates:
    compared = {(row.level, row.city): row for row in comparison if row.active and row.observed.get(days)}
    matched = [row for row in treated if row.active and (row.level, row.city) in compared and row.observed.get(days)]
    matched_observed = sum(row.observed[days] for row in matched)
    standardized = Fraction(0)
    for row in matched:  # the comparison's rate in the stratum, weighted by the treated members observed there
        other = compared[(row.level, row.city)]
        standardized += Fraction(row.observed[days] * other.returned.get(days, 0), other.observed[days])
    matched_returned = sum(row.returned.get(days, 0) for row in matched)
    matched_rate = rate_bp(matched_returned, matched_observed)
    comparison_rate = rate_bp(standardized, matched_observed)
    used = {(row.level, row.city) for row in matched}
    treated_observed = sum(row.observed.get(days, 0) for row in treated)
    return HorizonRates(
        days=days,
        treated_observed=treated_observed,
        treated_returned=sum(row.returned.get(days, 0) for row in treated),
        treated_rate_bp=rate_bp(sum(row.returned.get(days, 0) for row in treated), treated_observed),
        matched_observed=matched_observed,
        matched_returned=matched_returned,
        matched_rate_bp=matched_rate,
        comparison_observed=sum(row.observed[days] for key, row in compared.items() if key in used),
        comparison_returned=sum(row.returned.get(days, 0) for key, row in compared.items() if key in used),
        comparison_rate_bp=comparison_rate,
        uplift_bp=None if matched_rate is None or comparison_rate is None else matched_rate - comparison_rate,
        unmatched=treated_observed - matched_observed,
    )


def cohort_retention(month: date, rows: Iterable[StratumCounts], horizons=HORIZONS) -> CohortRetention:
    """A cohort's rates from its per-group, per-stratum counts."""
    rows = list(rows)
    treated = [row for row in rows if row.group == TREATED]
    comparison = [row for row in rows if row.group == COMPARISON]
    return CohortRetention(
        month=month,
        treated=sum(row.members for row in treated),
        treated_active=sum(row.members for row in treated if row.active),
        comparison=sum(row.members for row in comparison if row.active),
        horizons=tuple(_horizon(days, treated, comparison) for days in horizons),
    )
