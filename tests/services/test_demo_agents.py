"""seed-demo builds a small agent network: a city agent, two county agents under it, merchants they service,
members they recruited, and last month's evaluation."""

from __future__ import annotations

from sqlalchemy import func, select

from server.extensions import db
from server.models import Agent, AgentEvaluation, Member, Merchant
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
