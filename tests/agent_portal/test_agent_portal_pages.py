"""The agent portal (/a/): sign-in with phone + SMS code, every page's content, and the walls between tenants:
an agent never sees another agent's data, the personal data of its subordinates' members, or operator pages."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from server.extensions import db
from server.models import Card, LoginCode, SmsMessage
from server.ratelimit import limiter
from server.security.pii import phone_lookup_hash
from server.services import agent_login, agents, cards, member_login, members, recruitment
from server.services.agent_evaluation import period_figures, period_of, previous_period_name
from server.services.agent_portal import current_period, running_figures
from server.services.alliance import get_settings
from server.services.points import alliance_today
from tests.agent_portal.support import (
    CITY_MEMBER_PHONE,
    CITY_PHONE,
    COUNTY_MEMBER_PHONE,
    COUNTY_PHONE,
    OUTSIDER_MEMBER_PHONE,
    OUTSIDER_PHONE,
    build_network,
    csrf_from,
    session_token_for,
    sign_in,
)
from tests.builders import ACTOR, next_phone
from tests.member.support import register_phone, sent_codes

PAGES = ("/a/level", "/a/evaluations", "/a/merchants", "/a/members", "/a/cards", "/a/team", "/a/alerts")


@pytest.fixture
def network(app):
    return build_network(app)


def text_of(response) -> str:
    html = response.get_data(as_text=True)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def every_page(client) -> str:
    texts = []
    for url in PAGES:
        response = client.get(url)
        assert response.status_code == 200, url
        texts.append(text_of(response))
    return " ".join(texts)


def test_sign_in_with_an_sms_code_and_read_every_page(app, client, network):
    assert client.get("/a/").headers["Location"].endswith("/a/login")
    assert client.get("/a/level").headers["Location"].startswith("/a/login?next=")
    login_page = text_of(client.get("/a/login"))
    assert "代理登录" in login_page and "获取验证码" in login_page
    response = sign_in(app, client, CITY_PHONE)
    assert response.status_code == 302 and response.headers["Location"].endswith("/a/level")
    assert "HttpOnly" in response.headers["Set-Cookie"] and "Path=/a" in response.headers["Set-Cookie"]
    level = text_of(client.get("/a/level"))
    assert "我的等级" in level and "新手" in level and "距离青铜" in level and "满足以下任一条件即可" in level
    assert "服务商户消费额" in level and "¥5,000.00" in level and "本月至今" in level
    evaluations = text_of(client.get("/a/evaluations"))
    assert "保级" in evaluations and "达到本级条件：保级。" in evaluations
    merchants = text_of(client.get("/a/merchants"))
    assert "乙店" in merchants and "本月" in merchants
    members = text_of(client.get("/a/members"))
    assert "共 2 位会员" in members and "王*明" in members and "139****9002" in members
    assert "本月已消费" in members and "尚未消费" in members
    assert "暂无寄售给您的卡" in text_of(client.get("/a/cards"))
    team = text_of(client.get("/a/team"))
    assert "南山县级代理" in team and "活跃天数" in team
    alerts = text_of(client.get("/a/alerts"))
    assert "近两周服务商户消费额下降" in alerts and "关于下级" in alerts and "关于您" in alerts
    cookie = client.get_cookie("agent_session", path="/a").value
    out = client.post("/a/logout", data={"csrf_token": csrf_from(client.get("/a/level").get_data(as_text=True))})
    assert out.status_code == 302
    assert client.get("/a/level").status_code == 302
    client.set_cookie("agent_session", cookie, path="/a")  # a copy of the session kept elsewhere: ended too
    assert client.get("/a/level").status_code == 302
    limiter.reset()  # a minute later (one code a minute per phone)
    assert sign_in(app, client, CITY_PHONE).status_code == 302  # signing in again opens a new one
    assert client.get("/a/level").status_code == 200


def test_the_portal_also_reads_in_english(app, client, network):
    sign_in(app, client, CITY_PHONE)
    page = text_of(client.get("/a/level?lang=en"))
    assert "Towards 青铜" in page and "Health score" in page


def test_the_running_figures_are_the_evaluations_own(app, network):
    """This month's figures come from the evaluation's aggregation (one home for each figure)."""
    with app.app_context():
        from server.models import Agent

        city = db.session.get(Agent, network.city)
        running = running_figures(city)
        assert running.figures["serviced_gmv_fen"] == 19_000  # ¥200 less the member's 5 % level discount
        assert running.figures["active_recruited_members"] == 1
        assert running.subordinate_days == [1]
        assert set(running.subordinates) == {network.county}
        for period in (current_period(), period_of(previous_period_name(alliance_today()), get_settings().timezone)):
            everyone = period_figures(period)
            for only in ([network.city], [network.city, network.county], [network.outsider]):
                assert period_figures(period, only=only) == {k: v for k, v in everyone.items() if k in only}
        db.session.remove()


def test_only_active_and_suspended_agents_can_sign_in(app, client, network):
    with app.app_context():
        applied = agents.create_agent(ACTOR, kind="person", name="申请中", phone="13600136199")
        db.session.remove()
    assert sign_in(app, client, CITY_PHONE).status_code == 302
    token = csrf_from(client.get("/a/login").get_data(as_text=True))
    # an applied agent and a stranger get the same answer, and no SMS is sent
    for phone in ("13600136199", "13812345678"):
        sent = client.post("/a/api/login-code", json={"phone": phone}, headers={"X-CSRFToken": token})
        assert sent.status_code == 200 and sent.json["sent"] is True
        with app.app_context():
            assert sent_codes(phone) == []
            queued = select(func.count()).where(SmsMessage.phone_hash == phone_lookup_hash(phone))
            assert db.session.scalar(queued) == 0
            db.session.remove()
    refused = client.post("/a/login", data={"csrf_token": token, "phone": "13600136199", "code": "123456"})
    assert refused.status_code == 200 and "验证码错误或已过期" in text_of(refused)
    # suspended: signs in, reads, and is told it is read-only
    with app.app_context():
        agents.update_agent(ACTOR, network.county, status="suspended", status_reason="review")
        db.session.remove()
    client.delete_cookie("agent_session", path="/a")
    assert sign_in(app, client, COUNTY_PHONE).status_code == 302
    level = client.get("/a/level")
    assert level.status_code == 200 and "您的代理账户已暂停" in text_of(level)
    # terminated: the session stops working at once, and no new code is sent
    with app.app_context():
        agents.update_agent(ACTOR, network.county, status="terminated", status_reason="contract ended")
        db.session.remove()
    assert client.get("/a/level").status_code == 302
    assert applied.id


def test_agent_codes_are_not_member_codes(app, client, network):
    """An agent who is also a member: each login has its own code; asking for one never burns the other."""
    with app.app_context():
        register_phone(CITY_PHONE)  # the city agent's phone is a member's too
        member_login.request_login_code(CITY_PHONE)
        member_code = sent_codes(CITY_PHONE)[-1]
        db.session.remove()
    assert sign_in(app, client, CITY_PHONE).status_code == 302  # an agent code sent and used meanwhile
    with app.app_context():
        purposes = db.session.scalars(
            select(LoginCode.purpose).where(LoginCode.phone_hash == phone_lookup_hash(CITY_PHONE))
        ).all()
        assert sorted(set(purposes)) == ["agent_login", "login"]
        assert member_login.log_in(CITY_PHONE, member_code).member.id  # the member's code still works
        db.session.remove()


def test_a_wrong_code_is_refused_and_counted(app, client, network):
    token = csrf_from(client.get("/a/login").get_data(as_text=True))
    client.post("/a/api/login-code", json={"phone": CITY_PHONE}, headers={"X-CSRFToken": token})
    with app.app_context():
        right = sent_codes(CITY_PHONE)[-1]
        db.session.remove()
    wrong = "000000" if right != "000000" else "111111"
    response = client.post("/a/login", data={"csrf_token": token, "phone": CITY_PHONE, "code": wrong})
    assert response.status_code == 200 and "验证码错误或已过期" in text_of(response)
    assert "agent_session" not in response.headers.get("Set-Cookie", "")
    with app.app_context():
        attempts = db.session.scalar(
            select(LoginCode.attempts).where(LoginCode.purpose == "agent_login").order_by(LoginCode.id.desc()).limit(1)
        )
        assert attempts == 1
        db.session.remove()


# --- tenant walls --------------------------------------------------------------------------------------


def test_an_agent_sees_only_its_own_merchants_members_and_alerts(app, client, network):
    sign_in(app, client, CITY_PHONE)
    seen = every_page(client)
    assert "乙店" in seen
    assert "甲店" not in seen  # the county agent's merchant: only as the subordinate's totals
    assert "丙店" not in seen and "外地代理" not in seen  # another network entirely
    for phone in (COUNTY_MEMBER_PHONE, OUTSIDER_MEMBER_PHONE):  # members of others: not even masked
        assert phone not in seen and f"{phone[:3]}****{phone[-4:]}" not in seen
    assert "李*民" not in seen and "赵*人" not in seen and "李县民" not in seen
    assert CITY_MEMBER_PHONE not in seen and "王小明" not in seen  # my own members: masked only

    client.post("/a/logout", data={"csrf_token": csrf_from(client.get("/a/level").get_data(as_text=True))})
    sign_in(app, client, COUNTY_PHONE)
    seen = every_page(client)
    assert "甲店" in seen and "李*民" in seen
    assert "乙店" not in seen and "深圳城市代理" not in seen and "王*明" not in seen  # nothing of the upper agent
    assert "您没有下级代理" in seen
    alerts = text_of(client.get("/a/alerts"))
    assert "关于您" in alerts and "关于下级" not in alerts

    client.post("/a/logout", data={"csrf_token": csrf_from(client.get("/a/level").get_data(as_text=True))})
    sign_in(app, client, OUTSIDER_PHONE)
    seen = every_page(client)
    assert "丙店" in seen and "赵*人" in seen
    assert not {"甲店", "乙店", "南山县级代理", "深圳城市代理", "李*民", "王*明"} & set(re.findall(r"\S+", seen))


def test_a_session_cannot_be_forged_or_moved_to_another_agent(app, client, network):
    token = session_token_for(app, network.city)
    client.set_cookie("agent_session", token, path="/a")
    assert client.get("/a/level").status_code == 200
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    client.set_cookie("agent_session", forged, path="/a")
    assert client.get("/a/level").status_code == 302
    with app.test_request_context():
        from itsdangerous import URLSafeTimedSerializer

        other_key = URLSafeTimedSerializer("not-the-key", salt="agent-portal-session")
        client.set_cookie("agent_session", other_key.dumps({"agent": network.outsider, "phone": ""}), path="/a")
    assert client.get("/a/level").status_code == 302
    # a changed phone ends the sessions opened with the old one
    client.set_cookie("agent_session", token, path="/a")
    with app.app_context():
        agents.update_agent(ACTOR, network.city, phone="13600136188")
        db.session.remove()
    assert client.get("/a/level").status_code == 302


def test_an_agent_session_opens_no_operator_page_or_api(app, client, network):
    sign_in(app, client, CITY_PHONE)
    console = client.get("/console/agents")
    assert console.status_code in (302, 401, 403, 404)
    if console.status_code == 302:
        assert "sign-in" in console.headers["Location"]
    for url in ("/api/v1/agents", f"/api/v1/agents/{network.county}", "/api/v1/agent-alerts", "/api/v1/members"):
        assert client.get(url).status_code == 401, url
    assert client.get("/m/card").status_code == 302  # nor the member pages


def test_agent_login_service_checks_the_status_at_every_request(app, network):
    with app.test_request_context():
        from server.models import Agent

        token = session_token_for(app, network.outsider)
        assert agent_login.agent_for_session(token).id == network.outsider
        assert agent_login.agent_for_session("") is None
        assert agent_login.agent_for_session("x" * 600) is None
        db.session.get(Agent, network.outsider).status = "applied"
        assert agent_login.agent_for_session(token) is None
        db.session.rollback()
        db.session.remove()


def test_consigned_cards_show_what_became_of_them_and_only_to_their_agent(app, client, network):
    with app.app_context():
        batch = cards.create_batch(ACTOR, 4, kind="printed", name="社区推广卡")
        numbers = sorted(db.session.scalars(select(Card.card_no).where(Card.batch_id == batch.id)))
        recruitment.consign_cards(ACTOR, batch.id, network.city, numbers[0], numbers[2])
        recruitment.consign_cards(ACTOR, batch.id, network.outsider, numbers[3], numbers[3])
        fresh = members.register_member(ACTOR, next_phone())
        members.bind_card(ACTOR, fresh.id, numbers[1])
    sign_in(app, client, CITY_PHONE)
    page = text_of(client.get("/a/cards"))
    assert "社区推广卡" in page and f"{numbers[0]} – {numbers[2]}" in page
    assert "张数 3" in page and "已被会员绑定 1" in page and numbers[3] not in page
