"""The member's invite page (裂变分享): link and QR code; a friend joining through it records the inviter and
an agent's recruit link records the agent — through the member pages and the login service."""

from __future__ import annotations

import base64
import html
import io
import re

import zxingcpp
from PIL import Image
from sqlalchemy import select

from server.extensions import db
from server.models import Card, LedgerAccount, Member
from server.services import agents, checkout, member_login, recruitment
from server.services.alliance import update_points_policy
from server.services.staff import terminal_for_token
from tests.builders import ACTOR, make_world, next_phone
from tests.member.support import last_login_code, register_phone


def join_with(app, client, path: str, phone: str):
    """Open ``path`` (a join link) and register ``phone`` through the form, as a friend's phone would."""
    page = client.get(path)
    assert page.status_code == 200
    text = page.data.decode()
    hidden = dict(re.findall(r'<input id="(i|agent|m)" name="\1" type="hidden" value="([^"]*)"', text))
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', text).group(1)
    with app.app_context():
        member_login.request_login_code(phone)
        code = last_login_code(phone)
        db.session.remove()
    data = {"csrf_token": csrf, "phone": phone, "code": code, "consent": "y", **hidden}
    return client.post("/m/join", data=data)


def test_the_invite_page_shows_a_qr_code_of_the_link_a_friend_joins_through(app, client):
    with app.app_context():
        make_world()
        login = register_phone("13900005151")
        inviter_id = login.member.id
        db.session.remove()
    client.set_cookie("member_session", login.session_token, path="/m")
    assert "邀请好友".encode() in client.get("/m/card").data
    page = client.get("/m/invite").data.decode()
    link = html.unescape(re.search(r'id="invite-link" readonly value="([^"]+)"', page).group(1))
    png = base64.b64decode(re.search(r'src="data:image/png;base64,([^"]+)"', page).group(1))
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert decoded and decoded[0].text == link
    assert "/m/join?i=" in link

    friend = app.test_client()
    joined = join_with(app, friend, link[link.index("/m/join") :], "13900005152")
    assert joined.status_code == 302, joined.data.decode()[:500]
    with app.app_context():
        member = db.session.query(Member).filter(Member.invited_by_member_id == inviter_id).one()
        assert member.phone_masked.endswith("5152")
        inviter = db.session.get(Member, inviter_id)
        assert db.session.get(LedgerAccount, inviter.points_account_id).balance == 0  # joining earns nothing
        db.session.remove()
    again = client.get("/m/invite").data.decode()
    assert re.search(r'id="invite-friends">1<', again)


def test_an_agents_recruit_link_records_the_agent(app, client):
    with app.app_context():
        make_world()
        agent = agents.create_agent(ACTOR, kind="person", name="海报代理", phone=next_phone())
        agents.update_agent(ACTOR, agent.id, status="active", status_reason="签约")
        link = recruitment.join_link("http://localhost", agent=recruitment.agent_token(agent.id))
        agent_id = agent.id
        db.session.remove()
    joined = join_with(app, client, link[link.index("/m/join") :], "13900005153")
    assert joined.status_code == 302
    with app.app_context():
        member = db.session.query(Member).filter(Member.recruited_by_agent_id == agent_id).one()
        assert member.invited_by_member_id is None
        db.session.remove()


def test_the_inviter_sees_the_reward_of_a_friends_purchase(app, client):
    with app.app_context():
        world = make_world()
        update_points_policy(ACTOR, invite_reward_points_per_yuan=1)
        login = register_phone("13900005161")
        link = recruitment.join_link("http://localhost", invite=recruitment.invite_token(login.member.id))
        db.session.remove()
    assert join_with(app, app.test_client(), link[link.index("/m/join") :], "13900005162").status_code == 302
    with app.app_context():
        friend = db.session.query(Member).filter(Member.invited_by_member_id == login.member.id).one()
        card_no = db.session.scalar(select(Card.card_no).where(Card.member_id == friend.id))
        terminal = terminal_for_token(world.shop_a.token)
        found = checkout.identify(terminal, code=card_no)
        sale = checkout.record_sale(terminal, identification_token=found.token, amount_fen=50_000).sale
        reward = sale.invite_reward_points
        db.session.remove()
    assert reward > 0
    client.set_cookie("member_session", login.session_token, path="/m")
    assert "好友消费奖励" in client.get("/m/history").data.decode()
    assert re.search(rf'id="invite-points">{reward}<', client.get("/m/invite").data.decode())
