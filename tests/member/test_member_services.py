"""Login codes, rate limits, physical cards, privacy (export, close account), posters, CLI outbox."""

from __future__ import annotations

import io
import json
import re
from datetime import timedelta

import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import func, select

from server.cli import main as cli_main
from server.domain.errors import (
    CardBlocked,
    CardCheckFailed,
    Conflict,
    IdentificationExpired,
    LoginCodeInvalid,
    MemberNotFound,
)
from server.domain.ledger import ALLIANCE_FORFEITED
from server.domain.lots import NEVER_EXPIRES
from server.extensions import db
from server.models import Card, LedgerAccount, LedgerEntry, LoginCode, Member, Sale
from server.ratelimit import limiter
from server.services import checkout, finance, member_login, member_portal, members, points
from server.services.cards import card_check_code
from server.services.staff import terminal_for_token
from tests.builders import ACTOR, make_world
from tests.live_server import assert_error
from tests.member.support import last_login_code, register_phone


@pytest.fixture(autouse=True)
def _fresh_limits():
    limiter.reset()
    yield
    limiter.reset()


def test_login_code_is_hashed_single_use_and_attempts_are_limited(ctx):
    make_world()
    member_login.request_login_code("+86 139-0000-1234")
    code = last_login_code("13900001234")
    stored = db.session.scalars(select(LoginCode)).one()
    assert code not in stored.code_hash
    with pytest.raises(MemberNotFound):  # not registered yet, and login does not register
        member_login.log_in("13900001234", code)
    login = member_login.log_in("13900001234", code, register=True, consent=True)
    assert login.registered and login.member.phone_masked == "139****1234"
    with pytest.raises(LoginCodeInvalid):  # used up
        member_login.log_in("13900001234", code)

    member_login.request_login_code("13900001234")
    good = last_login_code("13900001234")
    wrong = "000000" if good != "000000" else "111111"
    for _ in range(5):
        with pytest.raises(LoginCodeInvalid):
            member_login.log_in("13900001234", wrong)
    with pytest.raises(LoginCodeInvalid):  # burnt after five wrong guesses, even the right code
        member_login.log_in("13900001234", good)


def _csrf(client, path="/m/login"):
    return re.search(rb'data-csrf="([^"]+)"', client.get(path).data).group(1).decode()


def test_login_code_requests_are_rate_limited_per_phone_with_retry_after(app, client):
    with app.app_context():
        make_world()
        db.session.remove()
    token = _csrf(client)
    first = client.post("/m/api/login-code", json={"phone": "13900005555"}, headers={"X-CSRFToken": token})
    assert first.status_code == 200
    again = client.post("/m/api/login-code", json={"phone": "13900005555"}, headers={"X-CSRFToken": token})
    body = assert_error(again, 429, "rate_limited")
    assert 1 <= int(again.headers["Retry-After"]) <= 60 and body["status"] == 429
    assert body["message"] == "请求过于频繁，请稍后再试。"  # the page's JSON call shows it to the member
    other = client.post("/m/api/login-code", json={"phone": "13900006666"}, headers={"X-CSRFToken": token})
    assert other.status_code == 200
    no_csrf = client.post("/m/api/login-code", json={"phone": "13900007777"})
    assert assert_error(no_csrf, 400, "csrf_failed")["message"] == "页面已过期，请刷新页面后再试。"


def test_login_form_needs_csrf(app, client):
    with app.app_context():
        make_world()
        db.session.remove()
    response = client.post("/m/login", data={"phone": "13900001111", "code": "123456"})
    assert response.status_code == 400 and "页面已过期".encode() in response.data


def test_login_attempts_are_limited_per_phone_however_it_is_typed(app, client, monkeypatch):
    from server import ratelimit

    monkeypatch.setitem(ratelimit.LIMITS, "login:phone", "1/minute")
    with app.app_context():
        make_world()
        db.session.remove()
    csrf = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', client.get("/m/login").data).group(1)
    form = {"code": "123456", "csrf_token": csrf.decode()}
    assert client.post("/m/login", data={**form, "phone": "13900001212"}).status_code == 200  # wrong code: the form
    again = client.post("/m/login", data={**form, "phone": "+86 139-0000-1212"})
    assert again.status_code == 429 and int(again.headers["Retry-After"]) >= 1


def test_identify_is_rate_limited_per_terminal(app, client, monkeypatch):
    from server import ratelimit

    monkeypatch.setitem(ratelimit.LIMITS, "identify:terminal", "3/minute")
    with app.app_context():
        world = make_world()
        members.register_member(ACTOR, "13900008888")
        db.session.remove()
    for _ in range(3):
        response = client.post("/api/v1/identify", json={"phone": "13900008888"}, headers=world.shop_a.auth)
        assert response.status_code == 200
    limited = client.post("/api/v1/identify", json={"phone": "13900008888"}, headers=world.shop_a.auth)
    assert_error(limited, 429, "rate_limited")
    assert int(limited.headers["Retry-After"]) >= 1
    assert client.post("/api/v1/identify", json={"phone": "13900008888"}, headers=world.shop_b.auth).status_code == 200


def test_bind_physical_card_needs_its_check_code_and_lost_blocks_it(ctx):
    make_world()
    login = register_phone("13900002222")
    loose = members.create_cards(ACTOR, 1)[0]
    with pytest.raises(CardCheckFailed):
        member_portal.bind_physical_card(login.member.id, loose.card_no, "000000")
    bound = member_portal.bind_physical_card(login.member.id, loose.card_no, card_check_code(loose.card_no))
    assert bound.member_id == login.member.id and bound.status == "active"
    member_portal.report_my_card_lost(login.member.id, loose.card_no)
    assert db.session.get(Card, loose.id).status == "lost"


def test_a_printed_card_older_than_the_member_is_physical_and_reporting_it_lost_blocks_only_it(ctx):
    world = make_world()
    printed = members.create_cards(ACTOR, 1)[0]  # printed and handed out before the member registered
    login = register_phone("13900002424")
    member_portal.bind_physical_card(login.member.id, printed.card_no, card_check_code(printed.card_no))
    view = member_portal.card_view(login.member.id)
    kinds = {card.card_no: (card.kind, view.is_electronic(card)) for card in view.cards}
    ecard = view.electronic_card
    assert ecard is not None and ecard.card_no != printed.card_no
    assert kinds == {ecard.card_no: ("electronic", True), printed.card_no: ("physical", False)}
    assert view.cards[0] is ecard  # the e-card first

    with pytest.raises(Conflict):  # an e-card has nothing to lose; the phone is what may be lost
        member_portal.report_my_card_lost(login.member.id, ecard.card_no)
    terminal = terminal_for_token(world.shop_a.token)
    opened = checkout.identify(terminal, code=printed.card_no)  # the finder is at a till right now
    member_portal.report_my_card_lost(login.member.id, printed.card_no)
    assert db.session.get(Card, printed.id).status == "lost" and db.session.get(Card, ecard.id).status == "active"
    with pytest.raises(IdentificationExpired):  # the sale opened with the card cannot finish either
        checkout.record_sale(terminal, identification_token=opened.token, amount_fen=5_000)
    with pytest.raises(CardBlocked):
        checkout.identify(terminal, code=printed.card_no)
    assert checkout.identify(terminal, code=ecard.card_no).who.member.id == login.member.id


def test_cards_page_binds_a_physical_card_that_can_then_be_reported_lost(app, client):
    with app.app_context():
        make_world()
        loose = members.create_cards(ACTOR, 1)[0]  # older than the member's e-card
        login = register_phone("13900002323")
        card_no, check = loose.card_no, card_check_code(loose.card_no)
        db.session.remove()
    client.set_cookie("member_session", login.session_token, path="/m")
    page = client.get("/m/cards").data.decode()
    listed = page.split('id="my-cards"')[1].split("</section>")[0]
    assert "电子卡" in listed and "实体卡" not in listed and "挂失" not in listed  # the e-card cannot be reported lost
    csrf = re.search(r'name="bind-csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    bound = client.post("/m/cards", data={"bind-card_no": card_no, "bind-check_code": check, "bind-csrf_token": csrf})
    assert bound.status_code == 302
    listed = client.get("/m/cards").data.decode().split('id="my-cards"')[1].split("</section>")[0]
    rows = listed.split('<div class="item">')[1:]
    assert len(rows) == 2 and card_no not in rows[0] and "电子卡" in rows[0] and "挂失" not in rows[0]
    assert card_no in rows[1] and "实体卡" in rows[1] and f'name="lost-card_no" value="{card_no}"' in rows[1]
    lost = client.post("/m/cards", data={"lost-card_no": card_no, "lost-csrf_token": csrf})
    assert lost.status_code == 302
    with app.app_context():
        assert db.session.scalar(select(Card.status).where(Card.card_no == card_no)) == "lost"
        assert db.session.scalar(select(Card.status).where(Card.kind == "electronic")) == "active"


def test_export_and_close_account_forfeit_points_through_the_ledger(ctx):
    make_world()
    login = register_phone("13900003333")
    members.adjust_points(ACTOR, login.member.id, 500, "welcome")
    exported = member_portal.export_my_data(login.member.id)
    assert exported["member"]["phone"] == "13900003333" and exported["points_balance"] == 500
    json.dumps(exported)

    assert member_portal.close_account(login.member.id) == 500
    member = db.session.get(Member, login.member.id)
    assert member.status == "closed" and member.phone_ciphertext == b"" and member.phone_masked == "***"
    assert db.session.get(LedgerAccount, member.points_account_id).balance == 0
    forfeited = db.session.scalar(select(LedgerAccount).where(LedgerAccount.kind == ALLIANCE_FORFEITED))
    assert forfeited.balance == 500
    assert db.session.scalar(select(func.sum(LedgerEntry.amount))) == 0  # every transaction balanced
    assert points.lot_mismatches() == [] and points.member_lots(member.id) == []  # the lots went with the points
    assert finance.points_report()["points_forfeited"] == 500
    assert {card.status for card in db.session.scalars(select(Card).where(Card.member_id == member.id))} == {
        "cancelled"
    }
    assert member_portal.active_devices(member.id) == []
    again = register_phone("13900003333")  # the number may register again, as a new member
    assert again.member.id != member.id


def test_points_expiry_lists_every_expiry_date_with_its_points(ctx):
    make_world()
    login = register_phone("13900004444")
    member_id = login.member.id
    assert member_portal.points_expiry(member_id) == {"dates": [], "never": 0}
    for points_added in (300, 200, 50, 20):
        members.adjust_points(ACTOR, member_id, points_added, "welcome")
    today = points.alliance_today()
    soon, later = today + timedelta(days=10), today + timedelta(days=400)
    for lot, expires_on in zip(points.member_lots(member_id), (soon, later, NEVER_EXPIRES, later), strict=True):
        lot.expires_on = expires_on
    db.session.commit()
    expected = {
        "dates": [
            {"expires_on": soon, "points": 300, "soon": True},  # within the notice days (30): the SMS says so too
            {"expires_on": later, "points": 220, "soon": False},
        ],
        "never": 50,
    }
    assert member_portal.points_expiry(member_id) == expected
    assert member_portal.history(member_id)["expiry"] == expected


def test_level_progress_counts_the_window_spend_to_the_next_level(app, ctx):
    world = make_world()
    login = register_phone("13900004545")
    terminal = terminal_for_token(world.shop_a.token)
    for amount in (30_000, 20_000):
        found = checkout.identify(terminal, phone="13900004545")
        checkout.record_sale(terminal, identification_token=found.token, amount_fen=amount)
    first_sale = db.session.scalars(select(Sale).order_by(Sale.occurred_at)).first()
    shown = member_portal.level_progress(member_portal.card_view(login.member.id))
    silver = world.levels["silver"]
    assert shown.level.id == silver.id and shown.window_days == 365
    assert shown.progress.spend_fen == 50_000 and shown.progress.left_fen == silver.upgrade_spend_fen - 50_000
    assert shown.progress.deadline == first_sale.occurred_at + timedelta(days=365)

    client = app.test_client()
    client.set_cookie("member_session", login.session_token, path="/m")
    for path in ("/m/card", "/m/history"):
        page = client.get(path).data.decode()
        assert "下一等级：银卡会员" in page and f"再消费 ¥{(silver.upgrade_spend_fen - 50_000) // 100:,}.00" in page
        assert "积分有效期" in page


def test_member_errors_are_chinese_pages_and_the_json_api_keeps_its_errors(app, client, monkeypatch):
    for path in ("/m/no-such-page", "/m/sales/sal_nothing/more"):
        page = client.get(path)
        assert page.status_code == 404 and page.mimetype == "text/html"
        assert "页面不存在" in page.data.decode() and "not found" not in page.data.decode().lower()
    assert client.post("/m/no-such-page").status_code == 404
    with app.app_context():
        make_world()
        login = register_phone("13900004646")
        db.session.remove()
    client.set_cookie("member_session", login.session_token, path="/m")
    receipt = client.get("/m/sales/sal_not-mine")
    assert receipt.status_code == 404 and "页面不存在" in receipt.data.decode()
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)  # as in production: no traceback to the page

    def broken(member_id):
        raise RuntimeError("database went away")

    monkeypatch.setattr(member_portal, "history", broken)
    failed = client.get("/m/history")
    assert failed.status_code == 500 and failed.mimetype == "text/html" and "出错了" in failed.data.decode()
    assert "database went away" not in failed.data.decode()
    assert_error(client.get("/api/v1/no-such-thing"), 404, "not_found")
    token = re.search(r'data-csrf="([^"]+)"', client.get("/m/login").data.decode()).group(1)
    refused = client.post("/m/api/login-code", json={"phone": "12"}, headers={"X-CSRFToken": token})
    assert_error(refused, 422, "invalid_request")  # the page script reads the API's error shape
    english = client.get("/m/no-such-page?lang=en")
    assert english.status_code == 404 and "Page not found" in english.data.decode()


def test_poster_qr_opens_registration_and_records_the_recruiter(app, client):
    with app.app_context():
        world = make_world()
        db.session.remove()
    url = f"/api/v1/merchants/{world.shop_a.merchant.id}/poster?format=png"
    assert_error(client.get(url, headers=world.shop_b.owner_auth), 404, "not_found")
    response = client.get(url, headers=world.staff_auth("admin"))
    assert response.status_code == 200 and response.mimetype == "image/png"
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(response.data)))
    assert decoded and decoded[0].text == response.headers["X-Poster-URL"]
    token = decoded[0].text.split("m=")[1]
    join = client.get(f"/m/join?m={token}")
    assert join.status_code == 200
    assert f"推荐商家：{world.shop_a.merchant.name}".encode() in join.data  # the page names the recruiter
    assert "推荐商家".encode() not in client.get("/m/join?m=unknown").data
    svg = client.get(url.replace("png", "svg"), headers=world.shop_a.owner_auth)
    assert svg.status_code == 200 and svg.data.startswith(b"<svg")
    page = client.get(url.replace("png", "html"), headers=world.staff_auth("admin"))
    assert "扫码成为会员".encode() in page.data
    with app.app_context():
        login = register_phone("13900004444", poster_token=token)
        assert login.member.recruited_by_merchant_id == world.shop_a.merchant.id
        db.session.remove()


def test_sms_outbox_cli_prints_masked_phones(app):
    with app.app_context():
        make_world()
        member_login.request_login_code("13900009999")
        db.session.remove()
    runner = app.test_cli_runner()
    result = runner.invoke(cli_main, ["sms", "outbox"])
    assert result.exit_code == 0, result.output
    assert "139****9999" in result.output and "13900009999" not in result.output
    dispatched = runner.invoke(cli_main, ["sms", "dispatch"])
    assert dispatched.exit_code == 0 and "已发送 1 条短信" in dispatched.output
