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
    retired: bool = False  # a retired level keeps its members but takes no new ones


def _by_rank(levels: list[LevelRule]) -> list[LevelRule]:
    return sorted(levels, key=lambda rule: rule.rank)


def open_levels(levels: list[LevelRule], current: LevelRule) -> list[LevelRule]:
    """The levels a member at ``current`` may move to: those not retired, and the one they hold."""
    return [rule for rule in levels if not rule.retired or rule.id == current.id]


def reached_level(levels: list[LevelRule], spend_fen: int) -> LevelRule:
    """The highest level whose upgrade threshold ``spend_fen`` reaches."""
    ordered = _by_rank(levels)
    reached = [rule for rule in ordered if rule.upgrade_spend_fen <= spend_fen]
    return reached[-1] if reached else ordered[0]


def level_after_sale(current: LevelRule, levels: list[LevelRule], spend_fen: int) -> LevelRule:
    """Upgrade immediately when the window spend reaches a higher level; never downgrade here."""
    target = reached_level(open_levels(levels, current), spend_fen)
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
    levels = open_levels(levels, current)
    lower = [rule for rule in _by_rank(levels) if rule.rank < current.rank and rule.keep_spend_fen <= spend_fen]
    return lower[-1] if lower else _by_rank(levels)[0]


@dataclass(frozen=True)
class UpgradeProgress:
    """How far a member is from the next level.

    ``left_fen`` more spent before ``deadline`` reaches ``target`` (0: reached, the upgrade comes with the
    next sale or evaluation). At ``deadline`` the oldest counted spend leaves the rolling window and
    ``left_after_fen`` is left; ``deadline`` is None when nothing counted would leave (nothing spent yet).
    """

    target: LevelRule
    spend_fen: int
    left_fen: int
    deadline: datetime | None
    left_after_fen: int


def upgrade_progress(
    current: LevelRule, levels: list[LevelRule], spends: list[tuple[datetime, int]], now: datetime, window_days: int
) -> UpgradeProgress | None:
    """Progress to the level above ``current`` from the member's ``(time, net spend)`` sales; None at the top.

    A sale counts while it is younger than ``window_days`` (the same window as :func:`level_after_sale`).
    """
    higher = [rule for rule in _by_rank(open_levels(levels, current)) if rule.rank > current.rank]
    if not higher:
        return None
    target, window = higher[0], timedelta(days=window_days)
    counted = sorted((at, fen) for at, fen in spends if at >= now - window)
    spend = sum(fen for _, fen in counted)
    left = max(0, target.upgrade_spend_fen - spend)
    leaving = next((at for at, fen in counted if fen > 0), None)
    if left == 0 or leaving is None:
        return UpgradeProgress(target, spend, left, None, left)
    still_counted = sum(fen for at, fen in counted if at > leaving)
    return UpgradeProgress(target, spend, left, leaving + window, max(0, target.upgrade_spend_fen - still_counted))
