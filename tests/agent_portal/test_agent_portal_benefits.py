"""The agent portal's consigned benefits (/a/benefits): the agent sees its consignments, what it owes, what it
handed on and where codes were redeemed, codes masked to their last four; never another agent's."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from server.extensions import db
from server.models import Agent, BenefitCode
from server.services import benefit_consignment
from tests.agent_portal.support import CITY_PHONE, OUTSIDER_PHONE, build_network, sign_in
from tests.benefit_ops_support import add_codes, make_purchase, make_sku, make_supplier, set_agent_price
from tests.builders import ACTOR


@pytest.fixture
def network(app):
    return build_network(app)


def text_of(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


def test_an_agent_sees_its_consigned_benefits_masked_and_only_its_own(app, client, network):
    with app.app_context():
        sku = make_sku("咖啡月卡")
        set_agent_price(sku, db.session.get(Agent, network.city).level_id, 1_200)
        codes = add_codes(make_purchase(make_supplier(), sku, 3, 1_000, date.today()), 3, date.today() + timedelta(60))
        benefit_consignment.consign_benefits(ACTOR, network.city, sku.id, 2)
        held = db.session.scalars(select(BenefitCode).where(BenefitCode.agent_id == network.city)).all()
        held[0].status, held[0].redeemed_at = "redeemed", held[0].issued_at
        held[0].redeemed_merchant_id = network.shop_b
        db.session.commit()
        secrets = [code.lookup_hash for code in codes]
        last4 = [code.last4 for code in held]
        db.session.remove()
    sign_in(app, client, CITY_PHONE)
    response = client.get("/a/benefits")
    assert response.status_code == 200
    page = text_of(response)
    assert "咖啡月卡" in page and "应付金额 ¥24.00" in page and "已核销 1" in page
    assert all(f"****{tail}" in page for tail in last4)
    assert not any(lookup in response.get_data(as_text=True) for lookup in secrets)
    assert "铺货权益" in text_of(client.get("/a/level"))

    client.post("/a/logout")
    sign_in(app, client, OUTSIDER_PHONE)
    assert "还没有铺给您的权益" in text_of(client.get("/a/benefits"))
