"""Gift with a purchase (满赠) rules at the till (pure): which rule a sale qualifies for, and the limit's period.

A sale qualifies for a merchant's rule that is on, whose window holds the sale's moment, and whose minimum the
sale's payable amount reaches. Of several, the one with the highest minimum wins (the richest gift the sale
earned; ties: the newest rule). One gift per sale. A member's limit counts the gifts of that rule since the
start of the period (the alliance's calendar day, ISO week starting Monday, or month).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from server.domain.statuses import GiftLimitPeriod


@dataclass(frozen=True)
class GiftRuleFacts:
    """What the choice reads of a rule."""

    id: str
    min_payable_fen: int
    starts_at: datetime
    ends_at: datetime | None
    active: bool
    created_at: datetime


def qualifying_rule(rules: list[GiftRuleFacts], payable_fen: int, moment: datetime) -> GiftRuleFacts | None:
    """The rule a sale paying ``payable_fen`` at ``moment`` earns a gift by, or None."""
    eligible = [
        rule
        for rule in rules
        if rule.active
        and rule.starts_at <= moment
        and (rule.ends_at is None or moment < rule.ends_at)
        and payable_fen >= rule.min_payable_fen
    ]
    if not eligible:
        return None
    return max(eligible, key=lambda rule: (rule.min_payable_fen, rule.created_at, rule.id))


def period_start(period: str, today: date) -> date:
    """The first day of the limit's period containing ``today``."""
    if period == GiftLimitPeriod.DAY:
        return today
    if period == GiftLimitPeriod.WEEK:
        return today - timedelta(days=today.weekday())
    if period == GiftLimitPeriod.MONTH:
        return today.replace(day=1)
    raise ValueError(f"unknown gift limit period {period!r}")
