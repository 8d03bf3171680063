"""The periodic level evaluation: upgrades, protected keeps and downgrades by the rules."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import func, select, update

from server.domain.levels import LevelRule, UpgradeProgress, level_at_evaluation, upgrade_progress
from server.domain.statuses import LevelStatus, MemberStatus
from server.extensions import db
from server.models import Level, Member, Sale
from server.models.base import utcnow
from server.services import benefit_grants, worker_copies
from server.services.alliance import get_settings
from server.services.audit import audit
from server.services.unit_of_work import transactional

# What a sale adds to the spend the level rules count: paid in money, refunds deducted.
NET_SPEND_FEN = Sale.payable_fen - Sale.refunded_fen


LEVELS_COPY = worker_copies.PREFIX + "levels"
_LEVEL_COLUMNS = Level.__mapper__.column_attrs


def level_copies() -> dict[str, Level]:
    """Every level by id, lowest rank first: the worker's copy while current (``services/worker_copies.py``).

    The levels are detached copies, never to be changed (catalog loads a level to change it).
    """
    return worker_copies.copied(LEVELS_COPY, None, _level_copies)


def _level_copies() -> dict[str, Level]:
    return {
        level.id: Level(**{column.key: getattr(level, column.key) for column in _LEVEL_COLUMNS})
        for level in db.session.scalars(select(Level).order_by(Level.rank))
    }


def level_rule(level: Level) -> LevelRule:
    """The rule data of a level."""
    return LevelRule(
        level.id,
        level.rank,
        level.upgrade_spend_fen,
        level.keep_spend_fen,
        level.protection_days,
        retired=level.status == LevelStatus.RETIRED,
    )


def upgrade_progress_of(
    member_id: str, level: Level, now: datetime | None = None
) -> tuple[Level, UpgradeProgress] | None:
    """The next level above ``level`` and the member's progress to it (None at the top level)."""
    now = now or utcnow()
    window_days = get_settings().level_window_days
    levels = {row.id: row for row in db.session.scalars(select(Level))}
    spends = db.session.execute(
        select(Sale.occurred_at, NET_SPEND_FEN).where(
            Sale.member_id == member_id, Sale.occurred_at >= now - timedelta(days=window_days)
        )
    ).all()
    rules = [level_rule(row) for row in levels.values()]
    progress = upgrade_progress(level_rule(level), rules, [(at, fen) for at, fen in spends], now, window_days)
    return None if progress is None else (levels[progress.target.id], progress)


@transactional
def evaluate_levels(actor: str, now: datetime | None = None) -> Counter:
    """Re-evaluate every active member's level; return counts of upgraded / downgraded / kept."""
    now = now or utcnow()
    levels = {level.id: level for level in db.session.scalars(select(Level))}
    rules = {level_id: level_rule(level) for level_id, level in levels.items()}
    since = now - timedelta(days=get_settings().level_window_days)
    spend = (
        select(Sale.member_id, func.sum(NET_SPEND_FEN).label("spend"))
        .where(Sale.occurred_at >= since)
        .group_by(Sale.member_id)
        .subquery()
    )
    rows = db.session.execute(
        select(Member.id, Member.level_id, Member.level_since, func.coalesce(spend.c.spend, 0))
        .outerjoin(spend, spend.c.member_id == Member.id)
        .where(Member.status == MemberStatus.ACTIVE)
    )
    outcome: Counter = Counter()
    for member_id, level_id, level_since, window_spend in rows:
        current = rules[level_id]
        target = level_at_evaluation(current, list(rules.values()), window_spend, level_since, now)
        if target.id == current.id:
            outcome["kept"] += 1
            continue
        outcome["upgraded" if target.rank > current.rank else "downgraded"] += 1
        db.session.execute(
            update(Member)
            .where(Member.id == member_id)
            .values(level_id=target.id, level_since=now)
            .execution_options(synchronize_session=False)
        )
        audit(actor, "member.level_change", "member", member_id, old=levels[level_id].code, new=levels[target.id].code)
        if target.rank > current.rank:
            benefit_grants.level_up_gift(member_id, levels[target.id].code)
    return outcome
