"""The member's phone in headless Chromium: register from a poster, show the code, pay with it, go offline."""

from __future__ import annotations

import io
import time

import pytest
import requests
import zxingcpp
from PIL import Image
from sqlalchemy import select

from server.extensions import db
from server.models import Card, Member, Sale
from server.services import checkout, members, posters
from server.services.cards import card_check_code
from server.services.staff import terminal_for_token
from tests.browser import save_screenshot
from tests.builders import ACTOR, make_world
from tests.live_server import assert_error, live_server, next_key
from tests.member.support import last_login_code, register_phone

PHONE = "13712345678"
VIEWPORT = {"width": 390, "height": 844}


def decode_all(png: bytes) -> dict[str, str]:
    """Every barcode zxing-cpp finds in a screenshot, by format name."""
    image = Image.open(io.BytesIO(png)).convert("L")
    return {str(found.format).split(".")[-1]: found.text for found in zxingcpp.read_barcodes(image)}


def shown_code(page, not_equal: str | None = None) -> str:
    """The code the page shows now (waits for it to be drawn, and to differ from ``not_equal``)."""
    page.wait_for_function(
        "prev => { const el = document.getElementById('code-digits');"
        " return el && el.dataset.code && el.dataset.code !== prev; }",
        arg=not_equal or "",
    )
    return page.get_attribute("#code-digits", "data-code")


def identify_code(base: str, auth: dict, code: str) -> requests.Response:
    return requests.post(f"{base}/api/v1/identify", json={"code": code}, headers=auth, timeout=10)


@pytest.fixture
def scene(app):
    shift = {"seconds": 0.0}
    app.config["MEMBER_CODE_CLOCK"] = lambda: time.time() + shift["seconds"]
    with app.app_context():
        world = make_world()
        token = posters.poster_token(world.shop_a.merchant.id)
        db.session.remove()
    with live_server(app) as base:
        yield world, token, base, shift
    app.config.pop("MEMBER_CODE_CLOCK")


def test_register_show_code_pay_and_offline(app, browser, scene):
    world, poster_token, base, shift = scene
    context = browser.new_context(viewport=VIEWPORT, device_scale_factor=2, locale="zh-CN", is_mobile=True)
    page = context.new_page()
    page.clock.install()  # the page's timers and Date follow the test, like the server's member-code clock
    page.goto(f"{base}/m/join?m={poster_token}")
    assert "成为会员" in page.text_content("h1")
    assert "甲店" in page.text_content(".badge")
    page.fill("#phone", PHONE)
    page.click("#send-code")
    page.wait_for_selector("#send-status.ok")
    assert "137****5678" in page.text_content("#send-status")
    with app.app_context():
        code = last_login_code(PHONE)
        db.session.remove()
    page.fill("#code", code)
    page.check("#consent")
    save_screenshot(page, "member-join")
    page.click("#submit")
    page.wait_for_url(f"{base}/m/card")

    first = shown_code(page)
    assert len(first) == 18 and first.startswith("88")
    assert "积分" in page.text_content(".mc-points") and "普通会员" in page.text_content(".mc-level")
    shot = save_screenshot(page, "member-card", full_page=False)
    found = decode_all(shot.read_bytes())
    assert found.get("QR Code") == first, found
    assert found.get("Code 128") == first, found

    # the cashier scans it: identify through the terminal API, then a sale
    response = identify_code(base, world.shop_a.auth, first)
    assert response.status_code == 200, response.text
    body = {"identification_token": response.json()["identification"]["token"], "amount_fen": 12_800}
    sale = requests.post(
        f"{base}/api/v1/sales",
        json={**body, "redeem_points": 0},
        headers={**world.shop_a.auth, "Idempotency-Key": next_key()},
        timeout=10,
    )
    assert sale.status_code == 201, sale.text
    receipt_no, sale_id = sale.json()["sale"]["receipt_no"], sale.json()["sale"]["id"]
    assert identify_code(base, world.shop_b.auth, first).json()["error"] == "code_used"

    page.goto(f"{base}/m/history")
    assert receipt_no in page.text_content("#sales")
    assert "甲店" in page.text_content("#sales") and "128.00" in page.text_content("#sales")
    assert "+128" in page.text_content("#movements")
    save_screenshot(page, "member-history")

    # the QR on the paper receipt opens the e-receipt; another member's sale is not found
    page.goto(f"{base}/m/sales/{sale_id}")
    assert receipt_no in page.text_content("#receipt") and "实付" in page.text_content("#receipt")
    assert "¥128.00" in page.text_content("#receipt") and "¥¥" not in page.text_content("main")
    save_screenshot(page, "member-receipt")
    assert page.goto(f"{base}/m/sales/sal_not-mine").status == 404

    page.goto(f"{base}/m/merchants")
    assert "甲店" in page.text_content("#merchant-list") and "乙店" in page.text_content("#merchant-list")
    save_screenshot(page, "member-merchants")
    page.goto(f"{base}/m/merchants?trade=retail")
    assert "乙店" in page.text_content("#merchant-list") and "甲店" not in page.text_content("#merchant-list")

    # offline: the page keeps making codes the server accepts
    page.goto(f"{base}/m/card")
    before = shown_code(page)
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    context.set_offline(True)
    page.clock.fast_forward(31_000)
    shift["seconds"] += 31
    offline_code = shown_code(page, not_equal=before)
    page.wait_for_selector("#offline-note:not([hidden])")
    save_screenshot(page, "member-card-offline", full_page=False)
    context.set_offline(False)
    response = identify_code(base, world.shop_b.auth, offline_code)
    assert response.status_code == 200, response.text

    page.goto(f"{base}/m/privacy?lang=en")
    assert "What we store about you" in page.text_content("main")
    save_screenshot(page, "member-privacy-en")
    context.close()

    with app.app_context():
        member = db.session.scalar(select(Member))
        assert member.recruited_by_merchant_id == world.shop_a.merchant.id
        assert db.session.scalar(select(Sale.receipt_no)) == receipt_no
        dump = database_dump()
        db.session.remove()
    assert PHONE not in dump and "137****5678" in dump


def database_dump() -> str:
    """Every row of every table as text (plus SQLite's own SQL dump when on SQLite)."""
    parts = []
    connection = db.session.connection()
    if connection.dialect.name == "sqlite":
        parts.extend(connection.connection.driver_connection.iterdump())
    for table in db.metadata.sorted_tables:
        for row in connection.execute(table.select()):
            parts.append(repr(tuple(row)))
            parts.extend(bytes(value).hex() for value in row if isinstance(value, bytes | memoryview))
    return "\n".join(parts)


def test_bind_a_printed_card_report_it_lost_and_the_till_refuses_it(app, browser):
    """The printed card (older than the member's e-card) is the one labelled 实体卡 and blocked by 挂失."""
    with app.app_context():
        world = make_world()
        printed = members.create_cards(ACTOR, 1)[0]  # handed out at a shop before the member registered
        login = register_phone("13712340077")
        terminal = terminal_for_token(world.shop_a.token)
        for amount in (300_00, 200_00):  # a history with points and progress to show (silver needs ¥1,000.00)
            found = checkout.identify(terminal, phone="13712340077")
            checkout.record_sale(terminal, identification_token=found.token, amount_fen=amount)
        ecard_no = db.session.scalar(select(Card.card_no).where(Card.member_id == login.member.id))
        card_no, check = printed.card_no, card_check_code(printed.card_no)
        db.session.remove()
    with live_server(app) as base:
        context = browser.new_context(viewport=VIEWPORT, device_scale_factor=2, locale="zh-CN", is_mobile=True)
        context.add_cookies([{"name": "member_session", "value": login.session_token, "url": f"{base}/m/"}])
        page = context.new_page()

        page.goto(f"{base}/m/card")
        progress = page.text_content("#level-progress")
        assert "下一等级：银卡会员" in progress and "前再消费 ¥500.00" in progress, progress
        assert "500 积分" in page.text_content("#points-expiry") and "到期" in page.text_content("#points-expiry")
        save_screenshot(page, "member-card-progress")
        page.goto(f"{base}/m/history")
        assert "到期" in page.text_content("#points-expiry") and "银卡会员" in page.text_content("#level-progress")
        save_screenshot(page, "member-history-expiry")

        page.goto(f"{base}/m/cards")
        page.fill("input[name=bind-card_no]", f"{card_no[:4]} {card_no[4:8]} {card_no[8:12]} {card_no[12:]}")
        page.fill("input[name=bind-check_code]", check)
        page.click("#bind-form button[type=submit]")
        page.wait_for_selector(".flash.success")
        rows = page.locator("#my-cards .item")
        assert rows.count() == 2
        ecard_row, printed_row = rows.filter(has_text=ecard_no), rows.filter(has_text=card_no)
        assert "电子卡" in ecard_row.text_content() and ecard_row.locator("button").count() == 0
        assert "实体卡" in printed_row.text_content() and "挂失" in printed_row.locator("button").text_content()
        page.once("dialog", lambda dialog: dialog.accept())
        printed_row.locator("button").click()
        page.wait_for_selector(".flash.success")
        assert card_no in page.text_content(".flash.success")
        assert "已挂失" in page.locator("#my-cards .item").filter(has_text=card_no).text_content()
        save_screenshot(page, "member-cards-lost")
        context.close()

        refused = identify_code(base, world.shop_b.auth, card_no)
        assert_error(refused, 409, "card_blocked")
        still = identify_code(base, world.shop_b.auth, ecard_no)
        assert still.status_code == 200, still.text
