"""The agent portal's commission, withdrawal and statement pages; one browser check of the withdrawal form."""

from __future__ import annotations

import re

import pytest

from server.agent_portal.views import SESSION_COOKIE as SESSION_COOKIE_NAME
from server.extensions import db
from server.models import Withdrawal
from server.services import agents, withdrawals
from tests.agent_portal.support import csrf_from, session_token_for
from tests.live_server import live_server
from tests.payouts.support import ACTOR, fund, make_agent, owe


def active_agent(app, fen: int = 100_000) -> str:
    with app.app_context():
        agent = make_agent(name="钱代理", fund_fen=fen)
        agents.update_agent(ACTOR, agent.id, status="active", status_reason="签约")
        agent_id = agent.id
        db.session.remove()
    return agent_id


def signed_in(app, client, agent_id):
    client.set_cookie(SESSION_COOKIE_NAME, session_token_for(app, agent_id), path="/a")
    return client


def form_fields(html: str) -> dict:
    return {
        "csrf_token": csrf_from(html),
        "request_key": re.search(r'id="request_key" name="request_key" type="hidden" value="([^"]+)"', html).group(1),
    }


def test_request_twice_with_one_form_is_one_withdrawal_and_pages_show_it(app, client):
    agent_id = active_agent(app)
    signed_in(app, client, agent_id)
    page = client.get("/a/withdrawals").get_data(as_text=True)
    assert "可提现" in page and "¥1,000.00" in page
    body = {**form_fields(page), "amount": "300.00", "channel": "bank_file", "payee_name": "钱多多"}
    body |= {"account_number": "6222 0202 0011 2233 445", "bank": "中国工商银行"}
    for _ in range(2):  # a double tap sends the same form twice
        answer = client.post("/a/withdrawals", data=body, follow_redirects=True).get_data(as_text=True)
    assert "提现申请已提交" in answer and "待审核" in answer and "**** **** 3445" in answer
    with app.app_context():
        assert len(withdrawals.list_withdrawals(agent_id=agent_id)) == 1
        db.session.remove()
    money = client.get("/a/money").get_data(as_text=True)
    assert "¥700.00" in money and "¥300.00" in money and "申请提现" in money
    too_much = {**body, **form_fields(client.get("/a/withdrawals").get_data(as_text=True)), "amount": "800"}
    refused = client.post("/a/withdrawals", data=too_much).get_data(as_text=True)
    assert "金额超过可提现余额" in refused
    statement = client.get("/a/statements").get_data(as_text=True)
    period = re.search(r"/a/statements/(\d{4}-\d{2})\.pdf", statement).group(1)
    pdf = client.get(f"/a/statements/{period}.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    csv_text = client.get(f"/a/statements/{period}.csv").data.decode("utf-8-sig")
    assert "申请提现" in csv_text and "-300.00" in csv_text
    tax = client.get(f"/a/tax/{period[:4]}.csv").data.decode("utf-8-sig")
    assert "代扣税款" in tax
    assert client.get("/a/tax/2026.pdf").data.startswith(b"%PDF")
    assert client.get("/a/statements/2026-13.csv").status_code == 404


def test_debt_blocks_the_form(app, client):
    agent_id = active_agent(app)
    with app.app_context():
        owe(agent_id, 500)
        db.session.remove()
    signed_in(app, client, agent_id)
    page = client.get("/a/withdrawals").get_data(as_text=True)
    body = {**form_fields(page), "amount": "100", "channel": "wechat", "payee_name": "钱多多"}
    answer = client.post("/a/withdrawals", data={**body, "account_number": "o-openid-99"}).get_data(as_text=True)
    assert "佣金欠款" in answer
    with app.app_context():
        assert db.session.query(Withdrawal).count() == 0
        fund(agent_id, 1)  # keep the helper honest: funding works while in debt
        db.session.remove()


@pytest.mark.timeout(120)
def test_the_withdrawal_form_in_a_browser(app, browser):
    agent_id = active_agent(app)
    with live_server(app) as base:
        context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True)
        host = base.split("//")[1].split(":")[0]
        context.add_cookies(
            [{"name": SESSION_COOKIE_NAME, "value": session_token_for(app, agent_id), "domain": host, "path": "/a"}]
        )
        page = context.new_page()
        try:
            page.goto(f"{base}/a/withdrawals")
            assert "¥1,000.00" in page.text_content("#withdrawable")
            page.fill("#amount", "250")
            page.select_option("#channel", "wechat")
            page.fill("#payee_name", "钱多多")
            page.fill("#account_number", "o-openid-browser")
            page.click("#withdrawal-form button[type=submit]")
            page.wait_for_selector("#withdrawal-list .status-requested")
            assert "¥250.00" in page.text_content("#withdrawal-list")
            assert page.evaluate("document.documentElement.scrollWidth") <= 390
        finally:
            context.close()
