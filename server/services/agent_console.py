"""Read-only views of the agent network for the operator console: lists, the tree, the territory map,
evaluation runs and the preview of a level rule change (nothing here writes)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import func, select

from server.domain.agent_levels import PreviewMove, preview_moves
from server.domain.identifiers import normalize_mobile
from server.extensions import db
from server.models import Agent, AgentAlert, AgentEvaluation, AgentLevel, AgentTerritory, Member, Merchant, Region
from server.security.pii import phone_lookup_hash
from server.services.agents import level_rule, levels_by_rank
from server.services.queries import _page_of_objects, _where_equal, paginate


def list_agents(filters: dict, pagination) -> list[Agent]:
    """Agents by status, level, territory region, a name substring (``q``) or an exact phone, oldest first."""
    query = _where_equal(select(Agent), Agent, filters, ("status", "level_id", "upper_agent_id"))
    if filters.get("region_code"):
        held = select(AgentTerritory.agent_id).where(AgentTerritory.region_code == filters["region_code"])
        query = query.where(Agent.id.in_(held))
    if filters.get("q"):
        query = query.where(func.lower(Agent.name).contains(filters["q"].lower(), autoescape=True))
    if filters.get("phone"):
        query = query.where(Agent.phone_hash == phone_lookup_hash(normalize_mobile(filters["phone"])))
    return _page_of_objects(query.order_by(Agent.created_at, Agent.id), pagination)


def agent_names() -> dict[str, str]:
    """Every agent, id → name, by name (for upper agent and servicing agent choices)."""
    return dict(db.session.execute(select(Agent.id, Agent.name).order_by(Agent.name, Agent.id)).all())


def level_names() -> dict[str, str]:
    """Every agent level, id → name, lowest first."""
    return {level.id: level.name for level in levels_by_rank()}


def serviced_merchants(agent_id: str) -> list[Merchant]:
    """The merchants an agent services, by name."""
    return list(db.session.scalars(select(Merchant).where(Merchant.agent_id == agent_id).order_by(Merchant.name)))


def recruited_members_count(agent_id: str) -> int:
    """How many members the agent recruited (shown, never paid for)."""
    query = select(func.count()).select_from(Member).where(Member.recruited_by_agent_id == agent_id)
    return db.session.scalar(query) or 0


def subordinates(agent_id: str) -> list[Agent]:
    """An agent's direct subordinates, by name."""
    return list(db.session.scalars(select(Agent).where(Agent.upper_agent_id == agent_id).order_by(Agent.name)))


def alerts_of(agent_id: str, limit: int = 20) -> list[AgentAlert]:
    """An agent's latest alerts."""
    query = select(AgentAlert).where(AgentAlert.agent_id == agent_id).order_by(AgentAlert.created_at.desc())
    return list(db.session.scalars(query.limit(limit)))


def region_names(codes) -> dict[str, str]:
    """Region code → name for ``codes``."""
    codes = {code for code in codes if code}
    if not codes:
        return {}
    return dict(db.session.execute(select(Region.code, Region.name).where(Region.code.in_(codes))).all())


def region_path(code: str | None) -> str:
    """A region with the regions above it, e.g. ``广东省 深圳市 南山区``."""
    names = []
    seen = 0
    while code and seen < 4:
        region = db.session.get(Region, code)
        if region is None:
            break
        names.append(region.name)
        code, seen = region.parent_code, seen + 1
    return " ".join(reversed(names))


def region_chain(code: str | None) -> list[str]:
    """The codes from the province down to ``code`` (empty when unknown)."""
    chain = []
    while code and len(chain) < 4:
        region = db.session.get(Region, code)
        if region is None:
            return []
        chain.insert(0, region.code)
        code = region.parent_code
    return chain


def regions_under(parent_code: str | None) -> list[Region]:
    """The regions right under ``parent_code`` (None: the provinces), by code."""
    query = select(Region).where(Region.parent_code == parent_code if parent_code else Region.parent_code.is_(None))
    return list(db.session.scalars(query.order_by(Region.code)))


@dataclass
class TreeNode:
    """An agent and its subordinates, for the hierarchy page."""

    agent: Agent
    children: list[TreeNode] = field(default_factory=list)


def hierarchy() -> list[TreeNode]:
    """The whole network as a forest: top agents (city agents) with their subordinates (county agents)."""
    agents = list(db.session.scalars(select(Agent).order_by(Agent.name, Agent.id)))
    nodes = {agent.id: TreeNode(agent) for agent in agents}
    roots = []
    for agent in agents:
        parent = nodes.get(agent.upper_agent_id) if agent.upper_agent_id else None
        (parent.children if parent else roots).append(nodes[agent.id])
    return roots


@dataclass
class MapRow:
    """A region held by agents: its place (province → city → county) and who holds it, exclusively or not."""

    code: str
    path: str
    depth: int
    holders: list[tuple[Agent, bool]]


def territory_map(province: str | None = None) -> list[MapRow]:
    """Every held region in code order (province, city, county), with the agents holding each."""
    query = select(AgentTerritory, Agent).join(Agent, Agent.id == AgentTerritory.agent_id)
    if province:
        query = query.where(AgentTerritory.region_code.startswith(province[:2]))
    held: dict[str, list[tuple[Agent, bool]]] = defaultdict(list)
    for territory, agent in db.session.execute(query.order_by(AgentTerritory.region_code, Agent.name)):
        held[territory.region_code].append((agent, territory.exclusive))
    rows = []
    for code in sorted(held):
        depth = 0 if code.endswith("0000") else 1 if code.endswith("00") else 2
        rows.append(MapRow(code, region_path(code), depth, held[code]))
    return rows


@dataclass
class EvaluationRun:
    """One period's evaluation: how many agents, and how many moved up, down or stayed."""

    period: str
    evaluated: int
    upgraded: int
    downgraded: int
    kept: int
    started_at: object


def evaluation_runs() -> list[EvaluationRun]:
    """Every evaluated period, latest first."""
    rows = db.session.execute(
        select(AgentEvaluation.period, AgentEvaluation.outcome, func.count(), func.min(AgentEvaluation.created_at))
        .group_by(AgentEvaluation.period, AgentEvaluation.outcome)
        .order_by(AgentEvaluation.period.desc())
    ).all()
    runs: dict[str, EvaluationRun] = {}
    for period, outcome, count, started in rows:
        run = runs.setdefault(period, EvaluationRun(period, 0, 0, 0, 0, started))
        run.evaluated += count
        setattr(run, outcome, getattr(run, outcome) + count)
        run.started_at = min(run.started_at, started)
    return list(runs.values())


def evaluations_of_period(period: str, filters: dict, pagination) -> list:
    """A period's results, agent by agent (rows of evaluation and agent), by agent name."""
    query = select(AgentEvaluation, Agent).join(Agent, Agent.id == AgentEvaluation.agent_id)
    query = query.where(AgentEvaluation.period == period)
    if filters.get("outcome"):
        query = query.where(AgentEvaluation.outcome == filters["outcome"])
    return paginate(query.order_by(Agent.name, Agent.id), pagination)


def list_alerts(filters: dict, pagination) -> list:
    """Alerts by kind and period, newest first (rows of alert and agent)."""
    query = select(AgentAlert, Agent).join(Agent, Agent.id == AgentAlert.agent_id)
    for name in ("kind", "period", "agent_id"):
        if filters.get(name):
            query = query.where(getattr(AgentAlert, name) == filters[name])
    if filters.get("state") == "open":
        query = query.where(AgentAlert.acknowledged_at.is_(None))
    elif filters.get("state") == "acknowledged":
        query = query.where(AgentAlert.acknowledged_at.is_not(None))
    return paginate(query.order_by(AgentAlert.created_at.desc(), AgentAlert.id), pagination)


def latest_figures() -> tuple[str | None, dict[str, dict], dict[str, list[int]]]:
    """The latest evaluated period and each agent's figures and subordinates' active days of it."""
    period = db.session.scalar(select(func.max(AgentEvaluation.period)))
    if period is None:
        return None, {}, {}
    figures, days = {}, {}
    for evaluation in db.session.scalars(select(AgentEvaluation).where(AgentEvaluation.period == period)):
        figures[evaluation.agent_id] = dict(evaluation.figures)
        days[evaluation.agent_id] = list(evaluation.figures.get("subordinate_active_days") or [])
    return period, figures, days


def preview_level_change(level: AgentLevel, proposed_rule) -> tuple[str | None, list[PreviewMove]]:
    """Who would qualify for another rank if ``level`` had ``proposed_rule``, on the latest period's figures."""
    current = [level_rule(item) for item in levels_by_rank()]
    proposed = [proposed_rule if rule.rank == level.rank else rule for rule in current]
    period, figures, days = latest_figures()
    return period, preview_moves(current, proposed, figures, days)
