"""Points lots: when earned points expire, which lots a spend uses, where a restore goes back to.

Policy: a lot earned on day E (alliance time) stays valid through its ``expires_on`` day and expires
the day after. ``months``: E plus N months (the day clamped to the month's end); ``year_end``: 31
December of the year after next (E in 2026 → 2028-12-31); ``never``: a far date, so nothing expires.

Spending (redemption, taking back earned points, a negative adjustment) uses the lots closest to expiry
first; ties go to the older lot (smaller id), so the choice is deterministic. A refund gives redeemed
points back to the lots the sale spent, the lot spent last first (the one with the latest expiry).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date

EXPIRY_POLICIES = ("months", "year_end", "never")
NEVER_EXPIRES = date(9999, 12, 31)


class LotsDoNotCover(ValueError):
    """The open lots hold fewer points than a spend needs: the lots and the balance disagree (a bug)."""


def expiry_date(earned_on: date, policy: str, months: int) -> date:
    """The last day on which points earned on ``earned_on`` may be spent."""
    if policy == "never":
        return NEVER_EXPIRES
    if policy == "year_end":
        return date(earned_on.year + 2, 12, 31)
    if policy != "months":
        raise ValueError(f"unknown points expiry policy {policy!r}")
    if months < 1:
        raise ValueError("the expiry period must be at least one month")
    month_index = earned_on.month - 1 + months
    year, month = earned_on.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(earned_on.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class OpenLot:
    """What a spend needs to know of a lot."""

    id: int
    expires_on: date
    remaining: int


def allocate_spend(lots: list[OpenLot], points: int, first: int | None = None) -> list[tuple[int, int]]:
    """``(lot_id, points)`` taking ``points`` from ``lots``, closest expiry first (lot ``first`` before all).

    Raises LotsDoNotCover when the lots hold too few points.
    """
    if points < 0:
        raise ValueError("a spend takes a non-negative number of points")
    order = sorted(lots, key=lambda lot: (lot.id != first, lot.expires_on, lot.id))
    taken: list[tuple[int, int]] = []
    left = points
    for lot in order:
        if left == 0:
            break
        take = min(left, lot.remaining)
        if take > 0:
            taken.append((lot.id, take))
            left -= take
    if left:
        raise LotsDoNotCover(f"open lots are {left} points short of {points}")
    return taken


@dataclass(frozen=True)
class SpentPart:
    """A part of a redemption: from which lot, how much, how much of it came back already."""

    spend_id: int
    lot_id: int
    expires_on: date
    points: int
    restored: int


@dataclass(frozen=True)
class Restore:
    """Points going back to one lot; ``expired`` of them go straight to breakage (the lot had expired)."""

    spend_id: int
    lot_id: int
    points: int
    expired: int


def plan_restore(parts: list[SpentPart], points: int, today: date) -> list[Restore]:
    """Give ``points`` back to the lots a sale spent, latest expiry first.

    A lot whose last valid day is before ``today`` has expired: what returns to it expires at once.
    """
    order = sorted(parts, key=lambda part: (part.expires_on, part.spend_id), reverse=True)
    plan: list[Restore] = []
    left = points
    for part in order:
        if left == 0:
            break
        back = min(left, part.points - part.restored)
        if back > 0:
            plan.append(Restore(part.spend_id, part.lot_id, back, back if part.expires_on < today else 0))
            left -= back
    if left:
        raise LotsDoNotCover(f"the sale spent {left} points fewer than a refund restores")
    return plan
