"""What an agent reads in its portal (/a/): its level and progress, evaluations, merchants' sales, the members
it recruited (masked), its subordinates' activity and its alerts. Read-only.

Every query is scoped to the signed-in agent: its own rows, its serviced merchants, the members it recruited
itself, and only aggregate figures of its direct subordinates (never their members). The figures are the
evaluation's own (``server/services/agent_evaluation.py``): the latest evaluation's record, and the current
month so far computed by the same aggregation.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import exists, func, or_, select

from server.domain.agent_levels import qualifies
from server.domain.agent_network import (
    ACTIVATED_CARDS,
    ACTIVE_DAYS,
    ACTIVE_RECRUITED_MEMBERS,
    HEALTH_SCORE,
    MERCHANTS_WITH_SALES,
    SERVICED_GMV_FEN,
)
from server.domain.identifiers import mask_name
from server.domain.statuses import AgentStatus
from server.extensions import db
from server.models import Agent, AgentAlert, AgentEvaluation, AgentLevel, Member, Merchant, Sale
from server.services.agent_evaluation import (
    Period,
    _consumption,
    _day_index,
    agent_health,
    evaluations_of,
    period_figures,
    period_of,
)
from server.services.agents import ensure_default_levels, level_rule
from server.services.alliance import get_settings
from server.services.points import alliance_today

FIGURE_KEYS = (SERVICED_GMV_FEN, ACTIVE_RECRUITED_MEMBERS, ACTIVATED_CARDS, ACTIVE_DAYS, MERCHANTS_WITH_SALES)
MONTHS_SHOWN = 6
MEMBERS_SHOWN = 200


def current_period() -> Period:
    """This month in the alliance's time zone (it has not ended: its figures are running)."""
    today = alliance_today()
    return period_of(f"{today.year:04d}-{today.month:02d}", get_settings().timezone)


@dataclass(frozen=True)
class RunningFigures:
    """An agent's figures of the month so far and its direct subordinates' (agent id → figures)."""

    period: str
    figures: dict
    subordinate_days: list[int]
    subordinates: dict[str, dict] = field(default_factory=dict)


def running_figures(agent: Agent) -> RunningFigures:
    """The month so far, by the evaluation's aggregation (agents without activity have zero figures)."""
    period = current_period()
    team = db.session.execute(select(Agent.id, Agent.status).where(Agent.upper_agent_id == agent.id)).all()
    everyone = period_figures(period, only=[agent.id, *(sub_id for sub_id, _status in team)])
    mine = dict.fromkeys(FIGURE_KEYS, 0) | everyone.get(agent.id, {})
    mine[HEALTH_SCORE] = agent_health(mine)
    subordinates, days = {}, []
    for sub_id, status in team:
        subordinates[sub_id] = dict.fromkeys(FIGURE_KEYS, 0) | everyone.get(sub_id, {})
        if status == AgentStatus.ACTIVE:  # as the evaluation counts them: active subordinates only
            days.append(subordinates[sub_id][ACTIVE_DAYS])
    return RunningFigures(period.name, mine, sorted(days, reverse=True), subordinates)


@dataclass(frozen=True)
class Dimension:
    """One condition of the next level: the latest evaluation's figure, this month's so far, the minimum."""

    metric: str
    minimum: int
    evaluated: int | None
    running: int
    met: bool


@dataclass(frozen=True)
class Overview:
    """The agent's level, the next one and how far it is on every dimension."""

    agent: Agent
    level: AgentLevel
    next_level: AgentLevel | None
    levels: list[AgentLevel]
    latest: AgentEvaluation | None
    running: RunningFigures
    dimensions: list[Dimension]
    combine: str
    current_dimensions: list[Dimension]


def _dimensions(level: AgentLevel, latest: AgentEvaluation | None, running: RunningFigures) -> list[Dimension]:
    rule = level_rule(level)
    _ok, now = qualifies(rule, running.figures, running.subordinate_days)
    before = []
    if latest is not None:
        before = qualifies(rule, latest.figures, latest.figures.get("subordinate_active_days", []))[1]
    rows = []
    for index, reason in enumerate(now):
        evaluated = before[index]["figure"] if index < len(before) else None
        rows.append(Dimension(reason["metric"], reason["minimum"], evaluated, reason["figure"], reason["met"]))
    return rows


def overview(agent: Agent) -> Overview:
    """My level, the next level's conditions with the latest evaluation's and this month's figures."""
    levels = ensure_default_levels()
    level = next((row for row in levels if row.id == agent.level_id), levels[0])
    next_level = next((row for row in levels if row.rank > level.rank), None)
    history = evaluations_of(agent.id)
    latest = history[0] if history else None
    running = running_figures(agent)
    return Overview(
        agent=agent,
        level=level,
        next_level=next_level,
        levels=levels,
        latest=latest,
        running=running,
        dimensions=_dimensions(next_level, latest, running) if next_level else [],
        combine=next_level.combine if next_level else "all",
        current_dimensions=_dimensions(level, latest, running),
    )


def evaluations(agent: Agent) -> list[tuple[AgentEvaluation, AgentLevel, AgentLevel]]:
    """My evaluations, latest first, with the level before and after."""
    levels = {level.id: level for level in ensure_default_levels()}
    return [(row, levels[row.level_before_id], levels[row.level_after_id]) for row in evaluations_of(agent.id)]


@dataclass(frozen=True)
class MerchantSales:
    """A serviced merchant's consumption (net of refunds) and sales count by day this month and by month."""

    merchant: Merchant
    days: list[tuple[date, int, int]]
    months: list[tuple[str, int, int]]
    month_total_fen: int


def merchant_sales(agent: Agent) -> list[MerchantSales]:
    """The merchants I service and their sales totals: per day this month, per month for the last six."""
    period = current_period()
    first = date.fromisoformat(f"{period.name}-01")
    start_month = first
    for _ in range(MONTHS_SHOWN - 1):
        start_month = (start_month - timedelta(days=1)).replace(day=1)
    start = period_of(start_month.strftime("%Y-%m"), get_settings().timezone)
    merchants = list(db.session.scalars(select(Merchant).where(Merchant.agent_id == agent.id).order_by(Merchant.name)))
    day = _day_index(Sale.occurred_at, period.utc_offset_seconds)
    rows = db.session.execute(
        select(Sale.merchant_id, day, func.coalesce(func.sum(_consumption()), 0), func.count())
        .join(Merchant, Merchant.id == Sale.merchant_id)
        .where(Merchant.agent_id == agent.id, Sale.occurred_at >= start.start, Sale.occurred_at < period.end)
        .group_by(Sale.merchant_id, day)
    ).all()
    by_merchant: dict[str, list[tuple[date, int, int]]] = defaultdict(list)
    for merchant_id, day_number, amount, count in rows:
        by_merchant[merchant_id].append((date(1970, 1, 1) + timedelta(days=int(day_number)), int(amount), int(count)))
    result = []
    for merchant in merchants:
        days = sorted(by_merchant.get(merchant.id, []), reverse=True)
        months: dict[str, list[int]] = {}
        for when, amount, count in days:
            totals = months.setdefault(when.strftime("%Y-%m"), [0, 0])
            totals[0] += amount
            totals[1] += count
        this_month = [row for row in days if row[0] >= first]
        result.append(
            MerchantSales(
                merchant=merchant,
                days=this_month,
                months=[(name, *totals) for name, totals in sorted(months.items(), reverse=True)],
                month_total_fen=sum(row[1] for row in this_month),
            )
        )
    return result


@dataclass(frozen=True)
class RecruitedMember:
    """A member I recruited as I may see it: masked name and phone, when they joined, whether they consumed."""

    masked_name: str
    masked_phone: str
    joined_on: date
    consumed: bool
    consumed_this_month: bool


def recruited_members(agent: Agent) -> tuple[int, list[RecruitedMember]]:
    """How many members I recruited, and the newest of them (masked)."""
    period = current_period()
    ever = exists().where(Sale.member_id == Member.id)
    lately = exists().where(Sale.member_id == Member.id, Sale.occurred_at >= period.start)
    mine = Member.recruited_by_agent_id == agent.id
    total = db.session.scalar(select(func.count()).select_from(Member).where(mine)) or 0
    rows = db.session.execute(
        select(Member.display_name, Member.phone_masked, Member.created_at, ever, lately)
        .where(mine)
        .order_by(Member.created_at.desc(), Member.id)
        .limit(MEMBERS_SHOWN)
    ).all()
    zone = ZoneInfo(get_settings().timezone)
    return total, [
        RecruitedMember(mask_name(name), phone, created.astimezone(zone).date(), bool(a), bool(b))
        for name, phone, created, a, b in rows
    ]


@dataclass(frozen=True)
class Subordinate:
    """A direct subordinate's activity: level, status, this month's active days and serviced consumption."""

    agent: Agent
    level: AgentLevel
    figures: dict
    latest: AgentEvaluation | None


def subordinates(agent: Agent, running: RunningFigures | None = None) -> list[Subordinate]:
    """My direct subordinates with aggregate figures only (nothing about their members)."""
    running = running or running_figures(agent)
    levels = {level.id: level for level in ensure_default_levels()}
    result = []
    for sub in db.session.scalars(select(Agent).where(Agent.upper_agent_id == agent.id).order_by(Agent.created_at)):
        latest = db.session.scalar(
            select(AgentEvaluation)
            .where(AgentEvaluation.agent_id == sub.id)
            .order_by(AgentEvaluation.period.desc())
            .limit(1)
        )
        figures = running.subordinates.get(sub.id, dict.fromkeys(FIGURE_KEYS, 0))
        result.append(Subordinate(sub, levels[sub.level_id], figures, latest))
    return result


def alerts(agent: Agent) -> list[tuple[AgentAlert, str]]:
    """Alerts about me and about my direct subordinates (with the name of the agent each is about)."""
    rows = db.session.execute(
        select(AgentAlert, Agent.name)
        .join(Agent, Agent.id == AgentAlert.agent_id)
        .where(or_(AgentAlert.agent_id == agent.id, AgentAlert.upper_agent_id == agent.id))
        .order_by(AgentAlert.created_at.desc(), AgentAlert.id)
        .limit(100)
    ).all()
    return [(alert, name) for alert, name in rows]


def badges(agent: Agent) -> list[AgentLevel]:
    """The level badges I have held: my current level's and those of every level an evaluation gave me."""
    levels = {level.id: level for level in ensure_default_levels()}
    held = {agent.level_id}
    held.update(db.session.scalars(select(AgentEvaluation.level_after_id).where(AgentEvaluation.agent_id == agent.id)))
    return sorted((levels[level_id] for level_id in held if level_id in levels), key=lambda level: level.rank)
