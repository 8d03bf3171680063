"""A small agent network for the portal's tests: a city agent with a county agent under it, an outsider,
merchants each services, members each recruited, sales last month (evaluated, with an alert) and this month."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import Flask

from server.extensions import db
from server.services import agents, catalog, checkout, regions
from server.services.agent_evaluation import evaluate_agents, previous_period_name
from server.services.points import alliance_today
from tests.builders import ACTOR, make_member, make_shop, make_world
from tests.clock import frozen_clock
from tests.member.support import last_login_code

CITY_PHONE = "13600136100"
COUNTY_PHONE = "13600136101"
OUTSIDER_PHONE = "13600136102"
COUNTY_MEMBER_PHONE = "13900139001"
CITY_MEMBER_PHONE = "13900139002"
OUTSIDER_MEMBER_PHONE = "13900139003"


@dataclass
class Network:
    city: str
    county: str
    outsider: str
    shop_a: str  # serviced by the county agent
    shop_b: str  # serviced by the city agent
    shop_c: str  # serviced by the outsider
    sale_id: str


def _sell(shop, card, amount_fen, when=None):
    if when is None:
        found = checkout.identify(shop.terminal, code=card.card_no)
        return checkout.record_sale(shop.terminal, identification_token=found.token, amount_fen=amount_fen)
    with frozen_clock(when):
        return _sell(shop, card, amount_fen)


def _agent(name, phone, upper=None, region="440300"):
    agent = agents.create_agent(
        ACTOR, kind="person", name=name, phone=phone, upper_agent_id=upper, territories=[{"region_code": region}]
    )
    agents.update_agent(ACTOR, agent.id, status="active", status_reason="contract signed")
    return agent.id


def build_network(app: Flask) -> Network:
    """The network above, committed; the app context is left clean."""
    with app.app_context():
        regions.load_regions()
        world = make_world()
        shop_c = make_shop("丙店")
        city = _agent("深圳城市代理", CITY_PHONE)
        county = _agent("南山县级代理", COUNTY_PHONE, upper=city, region="440305")
        outsider = _agent("外地代理", OUTSIDER_PHONE, region="110101")
        for shop, agent_id in ((world.shop_a, county), (world.shop_b, city), (shop_c, outsider)):
            catalog.update_merchant(ACTOR, shop.merchant.id, agent_id=agent_id)
        county_member, county_card = make_member(phone=COUNTY_MEMBER_PHONE, name="李县民")
        city_member, city_card = make_member(phone=CITY_MEMBER_PHONE, name="王小明")
        outsider_member, outsider_card = make_member(phone=OUTSIDER_MEMBER_PHONE, name="赵外人")
        idle_member, _ = make_member(name="钱未购", with_card=False)  # recruited by the city agent, never consumed
        recruits = ((county_member, county), (city_member, city), (outsider_member, outsider), (idle_member, city))
        for member, agent_id in recruits:
            agents.record_recruitment(ACTOR, member.id, agent_id)
        today = alliance_today()
        month_start = datetime(today.year, today.month, 1, 4, tzinfo=UTC)
        early_last_month = (month_start - timedelta(days=1)).replace(day=3)
        for day in range(4):  # early last month only: the last two weeks fell (a figure_drop alert)
            _sell(world.shop_a, county_card, 12_300, early_last_month + timedelta(days=day))
            _sell(world.shop_b, city_card, 45_600, early_last_month + timedelta(days=day))
        _sell(shop_c, outsider_card, 77_700, early_last_month)
        evaluate_agents(ACTOR, previous_period_name(today))
        sale = _sell(world.shop_a, county_card, 8_800)  # this month so far
        _sell(world.shop_b, city_card, 20_000)
        merchants = (world.shop_a.merchant.id, world.shop_b.merchant.id, shop_c.merchant.id)
        network = Network(city, county, outsider, *merchants, sale.sale.id)
        db.session.remove()
    return network


def csrf_from(html: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


def sign_in(app, client, phone: str):
    """Sign ``phone`` in to the portal as a person does: ask for a code, read it from the SMS log, submit it."""
    page = client.get("/a/login").get_data(as_text=True)
    token = csrf_from(page)
    sent = client.post("/a/api/login-code", json={"phone": phone}, headers={"X-CSRFToken": token})
    assert sent.status_code == 200, sent.get_data(as_text=True)
    with app.app_context():
        code = last_login_code(phone)
        db.session.remove()
    return client.post("/a/login", data={"csrf_token": token, "phone": phone, "code": code})


def session_token_for(app, agent_id: str) -> str:
    """A valid session cookie value for ``agent_id`` (for tests that do not need the SMS round trip)."""
    with app.test_request_context():
        from server.models import Agent
        from server.models.base import utcnow
        from server.services.agent_login import _serializer

        agent = db.session.get(Agent, agent_id)
        token = _serializer().dumps({"agent": agent.id, "phone": agent.phone_hash[:16], "at": utcnow().timestamp()})
        db.session.remove()
    return token
