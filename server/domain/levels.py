"""Level rules: upgrade as soon as spend reaches a threshold, downgrade only at evaluation.

Spend is what a member paid in money (refunds deducted) over the alliance's rolling window. A member
keeps a level while the window spend stays at or above its ``keep_spend_fen``; right after an upgrade
the level is protected for ``protection_days`` and cannot drop.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class LevelRule:
    """The data of one level that the rules need."""

    id: str
    rank: int
    upgrade_spend_fen: int
    keep_spend_fen: int
    protection_days: int


def _by_rank(levels: list[LevelRule]) -> list[LevelRule]:
    return sorted(levels, key=lambda rule: rule.rank)


def reached_level(levels: list[LevelRule], spend_fen: int) -> LevelRule:
    """The highest level whose upgrade threshold ``spend_fen`` reaches."""
    ordered = _by_rank(levels)
    reached = [rule for rule in ordered if rule.upgrade_spend_fen <= spend_fen]
    return reached[-1] if reached else ordered[0]


def level_after_sale(current: LevelRule, levels: list[LevelRule], spend_fen: int) -> LevelRule:
    """Upgrade immediately when the window spend reaches a higher level; never downgrade here."""
    target = reached_level(levels, spend_fen)
    return target if target.rank > current.rank else current


def level_at_evaluation(
    current: LevelRule, levels: list[LevelRule], spend_fen: int, level_since: datetime, now: datetime
) -> LevelRule:
    """The level a periodic evaluation gives: upgrade, keep (protected or still qualifying) or drop."""
    upgraded = level_after_sale(current, levels, spend_fen)
    if upgraded is not current:
        return upgraded
    if now < level_since + timedelta(days=current.protection_days) or spend_fen >= current.keep_spend_fen:
        return current
    lower = [rule for rule in _by_rank(levels) if rule.rank < current.rank and rule.keep_spend_fen <= spend_fen]
    return lower[-1] if lower else _by_rank(levels)[0]
