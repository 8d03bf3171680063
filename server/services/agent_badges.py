"""Badges awarded by the monthly evaluation (rules in ``server/domain/agent_badges.py``), and their lists.

``award_period_badges`` runs inside ``evaluate_agents``'s transaction after the period's records are
written: it reads every record of the period and stores the awards not yet stored. An agent never gets a
badge twice for a period (unique agent, period and code), and a badge held by one agent per period is never
given to a second one by a later run.
"""

from __future__ import annotations

from sqlalchemy import select

from server.domain.agent_badges import SINGLE_HOLDER, EvaluationRecord, award_badges
from server.extensions import db
from server.models import AgentBadge, AgentEvaluation


def award_period_badges(period: str, health_floor: int) -> int:
    """Store the badges the period's evaluation records earn that are not stored yet; how many were added."""
    rows = db.session.execute(
        select(AgentEvaluation.agent_id, AgentEvaluation.figures, AgentEvaluation.health_score).where(
            AgentEvaluation.period == period
        )
    )
    records = [
        EvaluationRecord(agent_id, {k: v for k, v in (figures or {}).items() if isinstance(v, int)}, health)
        for agent_id, figures, health in rows
    ]
    stored = db.session.execute(select(AgentBadge.agent_id, AgentBadge.code).where(AgentBadge.period == period)).all()
    held = {(agent_id, code) for agent_id, code in stored}
    held_codes = {code for _agent_id, code in stored}
    added = 0
    for award in award_badges(records, health_floor):
        if (award.agent_id, award.code) in held or (award.code in SINGLE_HOLDER and award.code in held_codes):
            continue
        db.session.add(AgentBadge(agent_id=award.agent_id, period=period, code=str(award.code), reason=award.reason))
        added += 1
    return added


def badges_of(agent_id: str) -> list[AgentBadge]:
    """An agent's awarded badges, latest period first."""
    query = select(AgentBadge).where(AgentBadge.agent_id == agent_id)
    return list(db.session.scalars(query.order_by(AgentBadge.period.desc(), AgentBadge.code)))
