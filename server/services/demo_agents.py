"""The demo's agent network: a city agent with two county agents, the merchants they service and the members
they recruited, a month of their sales, evaluated for last month.

The month of history is recorded through the normal sale pipeline (identification, pricing, ledger, lots,
attribution snapshot) and then moved back into last month: ``sales.occurred_at`` / ``created_at``, the sales'
ledger transactions' ``created_at`` and the members' join date. Only timestamps move, so the ledger stays
balanced and every balance matches its entries; points lots keep today's earning date (they expire a little
later than real ones would). The 南山 agent's merchants sell well in the month's first half and little in
its last two weeks: the evaluation lifts the agent to 青铜 and raises a figure-drop alert.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select, update

from server.extensions import db
from server.models import Card, LedgerTransaction, Member, Sale, Terminal
from server.services import agents, catalog, checkout
from server.services.agent_evaluation import TREND_DAYS, evaluate_agents, period_of, previous_period_name
from server.services.alliance import get_settings
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
# last month's sales: (merchant index, member index, amount in fen, day offset, in the first or last two weeks)
DEMO_HISTORY = [
    *((index % 2, index % 3, 380_00 + 45_00 * index, index, "early") for index in range(14)),
    (0, 1, 45_00, 3, "late"),
    (1, 2, 38_00, 9, "late"),
    *((2, 3 + index % 2, 96_00 + 12_00 * index, 2 * index, "early" if index < 3 else "late") for index in range(6)),
]


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
    period = previous_period_name(alliance_today())
    seed_month_of_sales(period, merchant_ids, member_ids)
    evaluate_agents(actor, period)
    return ids


def seed_month_of_sales(period_name: str, merchant_ids: list[str], member_ids: list[str]) -> int:
    """Record ``DEMO_HISTORY`` through the sale pipeline, then move it into the month ``period_name``."""
    period = period_of(period_name, get_settings().timezone)
    middle = period.end - timedelta(days=TREND_DAYS)
    starts = {"early": middle - timedelta(days=TREND_DAYS), "late": middle}
    moved = []
    for merchant_index, member_index, amount_fen, day, half in DEMO_HISTORY:
        if merchant_index >= len(merchant_ids) or member_index >= len(member_ids):
            continue
        terminal = db.session.scalar(select(Terminal).where(Terminal.merchant_id == merchant_ids[merchant_index]))
        card_no = db.session.scalar(select(Card.card_no).where(Card.member_id == member_ids[member_index]))
        found = checkout.identify(terminal, code=card_no)
        sale = checkout.record_sale(terminal, identification_token=found.token, amount_fen=amount_fen).sale
        moved.append((sale.id, starts[half] + timedelta(days=day, hours=3 + day % 8)))
    for sale_id, when in moved:
        db.session.execute(update(Sale).where(Sale.id == sale_id).values(occurred_at=when, created_at=when))
        db.session.execute(
            update(LedgerTransaction).where(LedgerTransaction.sale_id == sale_id).values(created_at=when)
        )
    db.session.execute(
        update(Member).where(Member.id.in_(member_ids)).values(created_at=period.start - timedelta(days=30))
    )
    db.session.commit()
    return len(moved)
