"""Badges awarded by the monthly agent evaluation: pure rules over the period's evaluation records.

Each badge rewards the agent's own results in the period, never headcounts of sign-ups nor the volume of
its subordinates:

- ``star_of_month`` (月度之星): the highest serviced consumption net of refunds (``serviced_gmv_fen``)
  among agents whose health score is at least the policy's health floor; ties go to the lowest agent id;
  nobody gets it when the best figure is zero.
- ``recruiting_star`` (拓客之星): the most active recruited members (members the agent recruited who
  consumed in the period; bare sign-ups never count), same health floor and tie rule, nobody when zero.
- ``health_model`` (健康标兵): every agent with a health score of 100 and some serviced consumption.

Each award keeps the figures it was given for (``reason``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from server.domain.agent_network import ACTIVE_RECRUITED_MEMBERS, HEALTH_SCORE, SERVICED_GMV_FEN

FULL_HEALTH = 100


class AgentBadgeCode(StrEnum):
    """A badge an evaluation can award."""

    STAR_OF_MONTH = "star_of_month"
    RECRUITING_STAR = "recruiting_star"
    HEALTH_MODEL = "health_model"


@dataclass(frozen=True)
class EvaluationRecord:
    """What the badge rules read of one agent's evaluation: its figures and health score."""

    agent_id: str
    figures: Mapping[str, int]
    health_score: int


@dataclass(frozen=True)
class BadgeAward:
    """A badge for an agent, with the figures it was awarded for."""

    agent_id: str
    code: AgentBadgeCode
    reason: dict[str, int] = field(default_factory=dict)


def _best(records: list[EvaluationRecord], metric: str, health_floor: int) -> EvaluationRecord | None:
    """The record with the highest ``metric`` (> 0) among those at or above the health floor; lowest id on ties."""
    eligible = [r for r in records if r.health_score >= health_floor and r.figures.get(metric, 0) > 0]
    if not eligible:
        return None
    return min(eligible, key=lambda r: (-r.figures.get(metric, 0), r.agent_id))


def award_badges(records: Iterable[EvaluationRecord], health_floor: int) -> list[BadgeAward]:
    """The badges the period's evaluation records earn (see the module docstring for the rules)."""
    records = list(records)
    awards: list[BadgeAward] = []
    for code, metric in (
        (AgentBadgeCode.STAR_OF_MONTH, SERVICED_GMV_FEN),
        (AgentBadgeCode.RECRUITING_STAR, ACTIVE_RECRUITED_MEMBERS),
    ):
        best = _best(records, metric, health_floor)
        if best is not None:
            awards.append(
                BadgeAward(best.agent_id, code, {metric: best.figures[metric], HEALTH_SCORE: best.health_score})
            )
    for record in sorted(records, key=lambda r: r.agent_id):
        gmv = record.figures.get(SERVICED_GMV_FEN, 0)
        if record.health_score >= FULL_HEALTH and gmv > 0:
            awards.append(
                BadgeAward(
                    record.agent_id,
                    AgentBadgeCode.HEALTH_MODEL,
                    {HEALTH_SCORE: record.health_score, SERVICED_GMV_FEN: gmv},
                )
            )
    return awards


# badges only one agent holds per period (a later run never awards them to a second agent)
SINGLE_HOLDER = frozenset({AgentBadgeCode.STAR_OF_MONTH, AgentBadgeCode.RECRUITING_STAR})
