"""Agents hand out or sell their consigned benefit codes to members (/a/benefits): once per request, only their
own consignments, the code lands in the member's wallet; a sale records the price and moves no platform money."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from server.domain.errors import NotFound
from server.extensions import db
from server.models import Agent, BenefitAgentHandout, BenefitCode, BenefitGrant, MoneyTransaction
from server.services import benefit_consignment, benefit_handouts, benefit_wallet
from tests.agent_portal.support import CITY_MEMBER_PHONE, CITY_PHONE, OUTSIDER_PHONE, build_network, sign_in
from tests.benefit_ops_support import add_codes, make_purchase, make_sku, make_supplier, set_agent_price
from tests.builders import ACTOR


def text_of(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


@pytest.fixture
def consigned(app):
    network = build_network(app)
    with app.app_context():
        sku = make_sku("咖啡月卡")
        set_agent_price(sku, db.session.get(Agent, network.city).level_id, 1_200)
        add_codes(make_purchase(make_supplier(), sku, 3, 1_000, date.today()), 3, date.today() + timedelta(60))
        consignment = benefit_consignment.consign_benefits(ACTOR, network.city, sku.id, 2)
        network.consignment_id = consignment.id
        db.session.remove()
    return network


def test_an_agent_hands_out_once_per_request_and_only_its_own_consigned_codes(app, consigned):
    with app.app_context():
        money_before = db.session.scalar(select(func.count()).select_from(MoneyTransaction))
        first = benefit_handouts.hand_out(consigned.city, consigned.consignment_id, CITY_MEMBER_PHONE, "req-1")
        again = benefit_handouts.hand_out(consigned.city, consigned.consignment_id, CITY_MEMBER_PHONE, "req-1")
        assert again.id == first.id and db.session.scalar(select(func.count()).select_from(BenefitAgentHandout)) == 1
        code = db.session.get(BenefitCode, first.code_id)
        assert (code.member_id, code.agent_id, code.status) == (first.member_id, consigned.city, "issued")
        grant = db.session.get(BenefitGrant, first.grant_id)
        assert (grant.channel, grant.source_id) == ("agent", f"{consigned.city}:req-1")
        assert [item.id for item in benefit_wallet.wallet(first.member_id)["held"]] == [code.id]

        sold = benefit_handouts.hand_out(
            consigned.city, consigned.consignment_id, CITY_MEMBER_PHONE, "req-2", price_fen=1_800
        )
        assert sold.price_fen == 1_800 and sold.code_id != first.code_id
        assert db.session.scalar(select(func.count()).select_from(MoneyTransaction)) == money_before
        with pytest.raises(NotFound):  # another agent's consignment: not found
            benefit_handouts.hand_out(consigned.outsider, consigned.consignment_id, CITY_MEMBER_PHONE, "x-1")
        outcome = benefit_consignment.consignment_outcomes(consigned.city)[0]
        assert (outcome["handed_on"], outcome["with_agent"]) == (2, 0)
        db.session.remove()


def test_the_agent_gives_a_code_from_the_portal_page_in_chinese(app, client, consigned):
    sign_in(app, client, CITY_PHONE)
    page = client.get("/a/benefits").get_data(as_text=True)
    assert "发放或售出一张" in page and "会员手机号" in page
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    key = re.search(r'name="request_key" type="hidden" value="([^"]+)"', page).group(1)
    url = f"/a/benefits/{consigned.consignment_id}/hand-out"
    form = {"csrf_token": token, "request_key": key, "phone": CITY_MEMBER_PHONE, "price": "18.00"}
    for _ in range(2):  # a double tap: one sale
        assert client.post(url, data=form).status_code == 302
    after = text_of(client.get("/a/benefits"))
    assert "已售出：权益已进入会员的卡包。" in after and "售价 ¥18.00" in after and "139****9002" in after
    unknown = client.post(url, data={**form, "request_key": "k" * 16, "phone": "13700000000"})
    assert unknown.status_code == 302 and "没有使用此手机号的会员。" in text_of(client.get("/a/benefits"))
    with app.app_context():
        assert [row.price_fen for row in db.session.scalars(select(BenefitAgentHandout))] == [1_800]
        db.session.remove()

    client.post("/a/logout")
    sign_in(app, client, OUTSIDER_PHONE)
    assert client.post(url, data={**form, "request_key": "o" * 16}).status_code in (302, 400)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(BenefitAgentHandout)) == 1
        db.session.remove()


@pytest.mark.timeout(180)
def test_the_hand_out_form_on_a_phone(app, browser, consigned):
    from tests.agent_portal.support import session_token_for
    from tests.browser import save_screenshot
    from tests.live_server import live_server

    token = session_token_for(app, consigned.city)
    with live_server(app) as base:
        context = browser.new_context(
            viewport={"width": 390, "height": 844}, device_scale_factor=2, locale="zh-CN", is_mobile=True
        )
        context.add_cookies([{"name": "agent_session", "value": token, "url": f"{base}/a/"}])
        page = context.new_page()
        page.goto(f"{base}/a/benefits")
        form = page.locator("form.handout")
        form.locator("input[name=phone]").fill(CITY_MEMBER_PHONE)
        form.locator("button[type=submit]").click()
        page.wait_for_selector("#handouts")
        assert "已发放：权益已进入会员的卡包。" in page.text_content("body")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        save_screenshot(page, "agent-portal-benefits-handout-390")
        context.close()
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(BenefitAgentHandout)) == 1
        db.session.remove()
