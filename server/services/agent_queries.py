"""Read-only lists of the agent network for the API and (later) the console and the agent portal."""

from __future__ import annotations

from sqlalchemy import func, select

from server.models import Agent, AgentAlert, AgentEvaluation, AgentLevel, AgentTerritory
from server.services.queries import _page_of_objects, _where_equal


def list_agents(filters: dict, pagination) -> list[Agent]:
    """Agents by status, level, upper agent, territory region and a name substring (``q``), oldest first."""
    query = _where_equal(select(Agent), Agent, filters, ("status", "level_id", "upper_agent_id"))
    if filters.get("region_code"):
        held = select(AgentTerritory.agent_id).where(AgentTerritory.region_code == filters["region_code"])
        query = query.where(Agent.id.in_(held))
    if filters.get("q"):
        query = query.where(func.lower(Agent.name).contains(filters["q"].lower(), autoescape=True))
    return _page_of_objects(query.order_by(Agent.created_at, Agent.id), pagination)


def list_evaluations(agent_id: str, pagination) -> list[AgentEvaluation]:
    """An agent's evaluations, latest period first."""
    query = select(AgentEvaluation).where(AgentEvaluation.agent_id == agent_id)
    return _page_of_objects(query.order_by(AgentEvaluation.period.desc()), pagination)


def list_levels(pagination) -> list[AgentLevel]:
    """Every agent level, lowest rank first (the five defaults appear with the first agent or level written)."""
    return _page_of_objects(select(AgentLevel).order_by(AgentLevel.rank), pagination)


def list_alerts(filters: dict, pagination) -> list[AgentAlert]:
    """Early-warning alerts by agent, kind and period, newest first."""
    query = _where_equal(select(AgentAlert), AgentAlert, filters, ("agent_id", "kind", "period"))
    return _page_of_objects(query.order_by(AgentAlert.created_at.desc(), AgentAlert.id), pagination)
