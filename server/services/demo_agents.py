"""The demo's agent network: a city agent with two county agents, the merchants they service and the members
they recruited, evaluated for last month."""

from __future__ import annotations

from datetime import date

from server.services import agents, catalog
from server.services.agent_evaluation import evaluate_agents, previous_period_name
from server.services.points import alliance_today
from server.services.regions import load_regions

DEMO_AGENTS = {
    "city": dict(
        kind="company", name="深圳市联盟代理有限公司", contact_name="周建国", phone="13600136000", region="440300"
    ),
    "nanshan": dict(kind="person", name="赵敏（南山区代理）", phone="13600136001", region="440305"),
    "futian": dict(kind="person", name="孙浩（福田区代理）", phone="13600136002", region="440304"),
}
# merchant index → (servicing agent, region code); member index → recruiting agent
DEMO_SERVICE = {0: ("nanshan", "440305"), 1: ("nanshan", "440305"), 2: ("futian", "440304")}
DEMO_RECRUITS = {0: "nanshan", 1: "nanshan", 2: "nanshan", 3: "futian", 4: "futian"}


def seed_agent_network(actor: str, merchant_ids: list[str], member_ids: list[str]) -> dict[str, str]:
    """Create the demo network; returns the agents' ids by their demo key."""
    load_regions()
    ids: dict[str, str] = {}
    for key, spec in DEMO_AGENTS.items():
        spec = dict(spec)
        region = spec.pop("region")
        agent = agents.create_agent(
            actor,
            **spec,
            upper_agent_id=ids.get("city"),
            territories=[{"region_code": region}],
            contract_start=date(alliance_today().year, 1, 1),
        )
        agents.update_agent(actor, agent.id, status="active", status_reason="演示合同已签署")
        ids[key] = agent.id
    for index, (key, region) in DEMO_SERVICE.items():
        if index < len(merchant_ids):
            catalog.update_merchant(actor, merchant_ids[index], agent_id=ids[key], region_code=region)
    for index, key in DEMO_RECRUITS.items():
        if index < len(member_ids):
            agents.record_recruitment(actor, member_ids[index], ids[key])
    evaluate_agents(actor, previous_period_name(alliance_today()))
    return ids
