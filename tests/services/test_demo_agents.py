"""seed-demo builds a small agent network: a city agent, two county agents under it, merchants they service,
members they recruited, and last month's evaluation."""

from __future__ import annotations

from sqlalchemy import func, select

from server.extensions import db
from server.models import Agent, AgentAlert, AgentEvaluation, LedgerEntry, Member, Merchant, Sale
from server.services import points
from server.services.demo import seed_demo


def test_the_demo_has_an_agent_network(ctx):
    seed_demo()
    agents = {agent.name: agent for agent in db.session.scalars(select(Agent))}
    city = agents["深圳市联盟代理有限公司"]
    counties = [agent for agent in agents.values() if agent.upper_agent_id == city.id]
    assert len(agents) == 3 and len(counties) == 2
    assert all(agent.status == "active" and agent.territories for agent in agents.values())
    serviced = db.session.scalars(select(Merchant.agent_id).where(Merchant.agent_id.is_not(None))).all()
    assert set(serviced) == {agent.id for agent in counties}
    recruiter = Member.recruited_by_agent_id
    recruited = db.session.scalars(select(recruiter).where(recruiter.is_not(None)))
    assert set(recruited) == {agent.id for agent in counties}
    assert db.session.scalar(select(func.count()).select_from(AgentEvaluation)) == 3


def test_the_demo_agents_have_a_month_of_history_a_level_change_and_an_alert(ctx):
    seed_demo()
    nanshan = db.session.scalar(select(Agent).where(Agent.name.like("赵敏%")))
    record = db.session.scalar(select(AgentEvaluation).where(AgentEvaluation.agent_id == nanshan.id))
    assert record.outcome == "upgraded" and record.figures["serviced_gmv_fen"] >= 500_000
    assert record.figures["active_recruited_members"] == 3 and record.figures["active_days"] > 10
    alerts = db.session.scalars(select(AgentAlert).where(AgentAlert.agent_id == nanshan.id)).all()
    assert [alert.kind for alert in alerts] == ["figure_drop"]
    backdated = db.session.scalars(select(Sale).where(Sale.servicing_agent_id == nanshan.id)).all()
    assert len(backdated) == 16 and all(sale.occurred_at < record.created_at.replace(day=1) for sale in backdated)
    assert not points.lot_mismatches()  # only timestamps moved: every balance still matches its lots
    entries = db.session.scalar(select(func.coalesce(func.sum(LedgerEntry.amount), 0)))
    assert entries == 0  # the ledger stays balanced
