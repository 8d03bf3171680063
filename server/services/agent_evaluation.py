"""The periodic agent evaluation: figures by SQL aggregation, the level rules, early-warning alerts.

``evaluate_agents(actor, "2026-11")`` evaluates every active agent for a month that has ended, in one
transaction under an advisory lock (``server/services/locks.py``): one ``agent_evaluations`` row per agent
and period with every figure, the health score, the level before and after and the reasons. Running it again
(or from two workers at once) adds nothing: an agent already evaluated for the period is left as it is.

Figures (one aggregation per kind over the whole network, grouped by agent):

- serviced: sales at merchants the agent serviced *when the sale happened* (``sales.servicing_agent_id``,
  snapshotted by ``server/services/sales/attribution.py``): consumption net of refunds (paid + points
  value − refunded), sales, refunds, merchants with sales, and the days with sales;
- recruited: sales by members the agent had recruited at sale time (``sales.recruiting_agent_id``):
  members who consumed, cards first used in the period, and the days with sales;
- team: each direct subordinate's active days, for the ``active_subordinates`` condition;
- health (``server/domain/agent_levels.py``): refund rate from the serviced sales; complaints opened in the
  period against the agent or its merchants and how many were answered in time, violations, and confirmed
  anti-brushing flags (``server/services/complaints.py``, ``server/services/brushing.py``).

Badges (``server/services/agent_badges.py``): after the records are written, the period's badges are
awarded in the same transaction (月度之星, 拓客之星, 健康标兵; never twice).

Early warnings: serviced consumption in the period's last 14 days fell by ``alert_drop_bp`` (default 30 %)
against the 14 days before, or the health score is under ``alert_health_below``; each new alert texts the
agent and its upper agent (``server/services/agent_alert_sms.py``).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, and_, cast, distinct, func, insert, select, union_all, update

from server.domain.agent_levels import (
    EvaluationPolicy,
    HealthInputs,
    LevelState,
    drop_alert,
    evaluate_level,
    health_score,
)
from server.domain.agent_network import (
    ACTIVATED_CARDS,
    ACTIVE_DAYS,
    ACTIVE_RECRUITED_MEMBERS,
    HEALTH_SCORE,
    MERCHANTS_WITH_SALES,
    SERVICED_GMV_FEN,
)
from server.domain.errors import Conflict, InvalidRequest
from server.domain.statuses import AgentAlertKind, AgentEvaluationOutcome, AgentStatus
from server.extensions import db
from server.models import Agent, AgentAlert, AgentEvaluation, AgentLevel, AuditLog, Sale
from server.models.base import utcnow
from server.services import locks
from server.services.agent_alert_sms import queue_alert_sms
from server.services.agent_badges import award_period_badges
from server.services.agents import ensure_default_levels, get_policy, level_rule
from server.services.alliance import get_settings
from server.services.brushing import confirmed_flags_by_agent
from server.services.complaints import complaint_figures, violations_by_agent
from server.services.unit_of_work import transactional

PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
TREND_DAYS = 14
LOCK_NAME = "agents:evaluate"


@dataclass(frozen=True)
class Period:
    """A calendar month in the alliance's time zone, as ``[start, end)`` in UTC."""

    name: str
    start: datetime
    end: datetime
    utc_offset_seconds: int


def period_of(name: str, timezone: str) -> Period:
    """The month ``YYYY-MM`` in ``timezone``."""
    match = PERIOD.match(name or "")
    if not match:
        raise InvalidRequest("A period is a month written YYYY-MM.", field="period")
    year, month = int(match.group(1)), int(match.group(2))
    if year < 2000:
        raise InvalidRequest("A period is a month written YYYY-MM.", field="period")
    zone = ZoneInfo(timezone)
    start = datetime(year, month, 1, tzinfo=zone)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=zone)
    return Period(name, start.astimezone(UTC), end.astimezone(UTC), int(start.utcoffset().total_seconds()))


def previous_period_name(today: date) -> str:
    """The month before ``today``'s."""
    last = today.replace(day=1) - timedelta(days=1)
    return f"{last.year:04d}-{last.month:02d}"


def months_between(earlier: str, later: str) -> int:
    """How many months ``later`` is after ``earlier`` (both YYYY-MM)."""
    return (int(later[:4]) - int(earlier[:4])) * 12 + int(later[5:]) - int(earlier[5:])


def _day_index(column, offset_seconds: int):
    """The local day number of a UTC timestamp column (for counting distinct days on either backend)."""
    if db.session.get_bind().dialect.name == "postgresql":
        epoch = func.extract("epoch", column)
        return func.floor((epoch + offset_seconds) / 86_400)
    return cast((cast(func.strftime("%s", column), Integer) + offset_seconds) / 86_400, Integer)


def _consumption():
    return Sale.payable_fen + Sale.redeem_value_fen - Sale.refunded_fen


def period_figures(period: Period, only: Collection[str] | None = None) -> dict[str, dict[str, int]]:
    """Every agent's figures of the period (agents without any activity are absent: all zero); ``only``
    limits them to these agents (the agent portal's running figures of one agent and its team)."""
    in_period = and_(Sale.occurred_at >= period.start, Sale.occurred_at < period.end)
    serviced_by = Sale.servicing_agent_id.is_not(None) if only is None else Sale.servicing_agent_id.in_(list(only))
    recruited_by = Sale.recruiting_agent_id.is_not(None) if only is None else Sale.recruiting_agent_id.in_(list(only))
    figures: dict[str, dict[str, int]] = defaultdict(dict)
    serviced = (
        select(
            Sale.servicing_agent_id,
            func.coalesce(func.sum(_consumption()), 0),
            func.coalesce(func.sum(Sale.payable_fen + Sale.redeem_value_fen), 0),
            func.coalesce(func.sum(Sale.refunded_fen), 0),
            func.count(),
            func.count(distinct(Sale.merchant_id)),
        )
        .where(serviced_by, in_period)
        .group_by(Sale.servicing_agent_id)
    )
    for agent_id, gmv, paid, refunded, sales, merchants in db.session.execute(serviced):
        figures[agent_id].update(
            {
                SERVICED_GMV_FEN: int(gmv),
                "consumption_fen": int(paid),
                "refunded_fen": int(refunded),
                "sales": int(sales),
                MERCHANTS_WITH_SALES: int(merchants),
            }
        )
    recruited = (
        select(Sale.recruiting_agent_id, func.count(distinct(Sale.member_id)))
        .where(recruited_by, in_period)
        .group_by(Sale.recruiting_agent_id)
    )
    for agent_id, members in db.session.execute(recruited):
        figures[agent_id][ACTIVE_RECRUITED_MEMBERS] = int(members)
    first_use = (
        select(Sale.recruiting_agent_id.label("agent_id"), Sale.card_id, func.min(Sale.occurred_at).label("first"))
        .where(recruited_by, Sale.card_id.is_not(None), Sale.occurred_at < period.end)
        .group_by(Sale.recruiting_agent_id, Sale.card_id)
        .subquery()
    )
    activated = (
        select(first_use.c.agent_id, func.count())
        .where(first_use.c.first >= period.start)
        .group_by(first_use.c.agent_id)
    )
    for agent_id, cards in db.session.execute(activated):
        figures[agent_id][ACTIVATED_CARDS] = int(cards)
    day = _day_index(Sale.occurred_at, period.utc_offset_seconds)
    days = union_all(
        select(Sale.servicing_agent_id.label("agent_id"), day.label("day")).where(serviced_by, in_period),
        select(Sale.recruiting_agent_id.label("agent_id"), day.label("day")).where(recruited_by, in_period),
    ).subquery()
    active_days = select(days.c.agent_id, func.count(distinct(days.c.day))).group_by(days.c.agent_id)
    for agent_id, count in db.session.execute(active_days):
        figures[agent_id][ACTIVE_DAYS] = int(count)
    health_records(period, figures)
    return figures


def health_records(period: Period, figures: dict[str, dict[str, int]]) -> None:
    """Add each agent's complaints, complaints answered in time, violations and confirmed brushing flags."""
    for agent_id, counts in complaint_figures(period.start, period.end).items():
        figures[agent_id].update(counts)
    for agent_id, count in violations_by_agent(period.start, period.end).items():
        figures[agent_id]["violations"] = count
    for agent_id, count in confirmed_flags_by_agent(period.start, period.end).items():
        figures[agent_id]["brushing_flags"] = count


def trend_figures(period: Period) -> dict[str, tuple[int, int]]:
    """Each agent's serviced consumption in the 14 days before the period's last 14 days, and in those."""
    middle = period.end - timedelta(days=TREND_DAYS)
    start = middle - timedelta(days=TREND_DAYS)
    late = Sale.occurred_at >= middle
    query = (
        select(
            Sale.servicing_agent_id,
            func.coalesce(func.sum(_consumption()).filter(~late), 0),
            func.coalesce(func.sum(_consumption()).filter(late), 0),
        )
        .where(Sale.servicing_agent_id.is_not(None), Sale.occurred_at >= start, Sale.occurred_at < period.end)
        .group_by(Sale.servicing_agent_id)
    )
    return {agent_id: (int(before), int(after)) for agent_id, before, after in db.session.execute(query)}


def agent_health(figures: dict[str, int]) -> int:
    """The health score from an agent's figures: refunds, complaints and their answers, violations, flags."""
    return health_score(
        HealthInputs(
            sales=figures.get("sales", 0),
            consumption_fen=figures.get("consumption_fen", 0),
            refunded_fen=figures.get("refunded_fen", 0),
            complaints=figures.get("complaints", 0),
            complaints_answered_in_time=figures.get("complaints_answered_in_time", 0),
            violations=figures.get("violations", 0),
            brushing_flags=figures.get("brushing_flags", 0),
        )
    )


def previous_states(period: str) -> tuple[dict[str, AgentEvaluation], dict[str, str]]:
    """Each agent's latest evaluation before ``period``, and the period of its latest upgrade before it."""
    earlier = AgentEvaluation.period < period
    latest = (
        select(AgentEvaluation.agent_id, func.max(AgentEvaluation.period).label("period"))
        .where(earlier)
        .group_by(AgentEvaluation.agent_id)
        .subquery()
    )
    last = {
        row.agent_id: row
        for row in db.session.scalars(
            select(AgentEvaluation).join(
                latest,
                and_(AgentEvaluation.agent_id == latest.c.agent_id, AgentEvaluation.period == latest.c.period),
            )
        )
    }
    upgrades = select(AgentEvaluation.agent_id, func.max(AgentEvaluation.period)).where(
        earlier, AgentEvaluation.outcome == AgentEvaluationOutcome.UPGRADED
    )
    upgraded = dict(db.session.execute(upgrades.group_by(AgentEvaluation.agent_id)).all())
    return last, upgraded


def _add_alert(
    agent: Agent, period: str, kind: str, figure: str, before: int | None, after: int, health_line: int
) -> bool:
    """Add the alert unless the agent has it for the period already, and queue its texts with it."""
    exists = db.session.scalar(
        select(AgentAlert.id).where(
            AgentAlert.agent_id == agent.id, AgentAlert.period == period, AgentAlert.kind == kind
        )
    )
    if exists:
        return False
    alert = AgentAlert(
        agent_id=agent.id,
        upper_agent_id=agent.upper_agent_id,
        period=period,
        kind=kind,
        figure=figure,
        value_before=before,
        value_after=after,
    )
    db.session.add(alert)
    queue_alert_sms(alert, health_line)
    return True


@transactional
def evaluate_agents(actor: str, period_name: str, now: datetime | None = None) -> dict:
    """Evaluate every active agent for the month ``period_name`` (idempotent; the month must have ended)."""
    settings = get_settings()
    period = period_of(period_name, settings.timezone)
    if period.end > (now or utcnow()):
        raise Conflict("The period has not ended yet.", field="period")
    locks.lock(LOCK_NAME)
    policy_row = get_policy()
    policy = EvaluationPolicy(
        grace_periods=policy_row.grace_periods,
        protection_periods=policy_row.protection_periods,
        fast_track_periods=policy_row.fast_track_periods,
        health_floor=policy_row.health_floor,
    )
    levels = ensure_default_levels()
    rules = [level_rule(level) for level in levels]
    by_id = {level.id: level for level in levels}
    by_rank = {level.rank: level for level in levels}
    active = select(Agent.id, Agent.upper_agent_id, Agent.level_id).where(Agent.status == AgentStatus.ACTIVE)
    agents = db.session.execute(active.order_by(Agent.id)).all()
    done = set(db.session.scalars(select(AgentEvaluation.agent_id).where(AgentEvaluation.period == period.name)))
    later = set(db.session.scalars(select(AgentEvaluation.agent_id).where(AgentEvaluation.period > period.name)))
    all_figures = period_figures(period)
    trends = trend_figures(period)
    last, upgraded = previous_states(period.name)
    subordinate_days: dict[str, list[int]] = defaultdict(list)
    for other in agents:
        if other.upper_agent_id:
            subordinate_days[other.upper_agent_id].append(all_figures.get(other.id, {}).get(ACTIVE_DAYS, 0))
    summary = {"period": period.name, "evaluated": 0, "upgraded": 0, "downgraded": 0, "kept": 0, "alerts": 0}
    summary["already_evaluated"] = len(done)
    records, alerts, moved = [], [], []
    zero = dict.fromkeys(
        (SERVICED_GMV_FEN, ACTIVE_RECRUITED_MEMBERS, ACTIVATED_CARDS, ACTIVE_DAYS, MERCHANTS_WITH_SALES), 0
    )
    for agent in agents:
        if agent.id in done or agent.id in later:
            continue
        figures = zero | all_figures.get(agent.id, {})
        figures[HEALTH_SCORE] = agent_health(figures)
        team = subordinate_days.get(agent.id, [])
        figures["subordinate_active_days"] = sorted(team, reverse=True)
        level = by_id.get(agent.level_id, levels[0])
        previous = last.get(agent.id)
        state = LevelState(
            rank=level.rank,
            periods_since_upgrade=months_between(upgraded[agent.id], period.name) if agent.id in upgraded else None,
            periods_below=previous.periods_below if previous else 0,
            periods_exceeding=previous.periods_exceeding if previous else 0,
        )
        decision = evaluate_level(rules, figures, state, policy, team)
        after = by_rank[decision.rank_after]
        records.append(
            {
                "agent_id": agent.id,
                "period": period.name,
                "figures": figures,
                "health_score": figures[HEALTH_SCORE],
                "level_before_id": level.id,
                "level_after_id": after.id,
                "outcome": str(decision.outcome),
                "reasons": [*decision.reasons, {"qualified_rank": decision.qualified_rank}],
                "periods_below": decision.periods_below,
                "periods_exceeding": decision.periods_exceeding,
                "created_at": utcnow(),
            }
        )
        if after.id != level.id:
            moved.append((agent.id, level, after))
        summary["evaluated"] += 1
        summary[str(decision.outcome)] += 1
        if figures[HEALTH_SCORE] < policy_row.alert_health_below:
            alerts.append((agent, AgentAlertKind.HEALTH_LOW, HEALTH_SCORE, None, figures[HEALTH_SCORE]))
        before, after_value = trends.get(agent.id, (0, 0))
        if drop_alert(before, after_value, policy_row.alert_drop_bp):
            alerts.append((agent, AgentAlertKind.FIGURE_DROP, SERVICED_GMV_FEN, before, after_value))
    if records:
        db.session.execute(insert(AgentEvaluation), records)
    _apply_level_changes(actor, period.name, moved)
    for agent, kind, figure, before, after_value in alerts:
        summary["alerts"] += _add_alert(
            agent, period.name, kind, figure, before, after_value, policy_row.alert_health_below
        )
    summary["badges"] = award_period_badges(period.name, policy.health_floor) if records else 0
    return summary


def _apply_level_changes(actor: str, period: str, moved: list[tuple[str, AgentLevel, AgentLevel]]) -> None:
    """Move agents to their new levels, a statement per level and chunk, and audit each change (in bulk)."""
    changed_at = utcnow()
    by_level: dict[str, list[str]] = defaultdict(list)
    for agent_id, _before, after in moved:
        by_level[after.id].append(agent_id)
    for level_id, agent_ids in by_level.items():
        for start in range(0, len(agent_ids), 1000):
            db.session.execute(
                update(Agent)
                .where(Agent.id.in_(agent_ids[start : start + 1000]))
                .values(level_id=level_id, level_since=changed_at),
                execution_options={"synchronize_session": "evaluate"},  # agents already loaded see it
            )
    if moved:
        entries = [
            {
                "actor": actor,
                "action": "agent.level",
                "object_type": "agent",
                "object_id": agent_id,
                "details": {"period": period, "level": after.code, "before": before.code},
                "created_at": changed_at,
            }
            for agent_id, before, after in moved
        ]
        db.session.execute(insert(AuditLog), entries)


def evaluations_of(agent_id: str) -> list[AgentEvaluation]:
    """An agent's evaluations, latest period first."""
    query = select(AgentEvaluation).where(AgentEvaluation.agent_id == agent_id)
    return list(db.session.scalars(query.order_by(AgentEvaluation.period.desc())))
