"""The card business in Chromium at phone width (390 px) and desk width (1366 px), as a card issuer and an
administrator would use it (issue 15): create batches and download their print files (1), hand out a printed
card and replace a lost card with one (2), read a card's history (3), issue and revoke a personal API token
(4). Each page fits the screen and shows no English; screenshots go to test-artifacts/console-cards-*.png."""

from __future__ import annotations

import re

import pytest

from server.extensions import db
from server.services import cards, members
from tests.browser import save_screenshot
from tests.builders import ACTOR
from tests.conftest import wipe
from tests.console.support import PASSWORD, build_console_world
from tests.console.test_console_chinese import untranslated
from tests.console.test_console_layout_browser import LAYOUT_PROBLEMS
from tests.live_server import live_server

pytestmark = pytest.mark.timeout(300)
WIDTHS = (390, 1366)


@pytest.fixture(scope="module")
def site(database, browser):
    app = database.make_app()
    client = app.test_client()
    scene = build_console_world(app, client)
    with live_server(app) as base_url:
        yield app, scene, base_url
    wipe(app)


def _signed_in(browser, base_url: str, width: int, username: str):
    context = browser.new_context(viewport={"width": width, "height": 844 if width < 768 else 900}, locale="zh-CN")
    page = context.new_page()
    page.goto(f"{base_url}/console/sign-in")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#submit")
    page.wait_for_url(f"{base_url}/console/")
    return context, page


def _check(page, name: str) -> None:
    """The page fits the screen, shows no English, and is kept as a screenshot."""
    assert page.evaluate(LAYOUT_PROBLEMS) == [], name
    assert untranslated(page.content()) == [], name
    save_screenshot(page, name)


@pytest.mark.parametrize("width", WIDTHS)
def test_create_a_printed_and_a_chip_batch_and_download_the_print_files(site, browser, width):
    app, scene, base_url = site
    context, page = _signed_in(browser, base_url, width, "c-card_issuer")
    page.goto(f"{base_url}/console/card-batches")
    _check(page, f"console-cards-batches-{width}")
    page.fill("#count", "25")
    page.select_option("#kind", "printed")
    page.fill("#name", f"印刷卡 {width}")
    page.click(".batch-form #submit")
    page.wait_for_url(re.compile(r".*/console/card-batches/bat_[\w-]+$"))
    assert "批次已创建" in page.inner_text(".alert-success")
    assert page.locator(".encode-command").count() == 0  # nothing to encode
    assert page.inner_text(".batch-done") == "已发放：0 / 25"
    _check(page, f"console-cards-batch-printed-{width}")
    with page.expect_download() as pdf:
        page.click(".print-files >> text=PDF")
    assert pdf.value.suggested_filename.endswith(".pdf")
    with open(pdf.value.path(), "rb") as stream:
        assert stream.read(4) == b"%PDF"
    with page.expect_download() as csv_file:
        page.click(".print-files >> text=CSV")
    with open(csv_file.value.path(), encoding="utf-8") as stream:
        lines = stream.read().splitlines()
    assert len(lines) == 26  # header and 25 cards
    phone = f"1380000{width:04d}"
    with app.app_context():
        members.register_member(ACTOR, phone, "王小二")
        db.session.remove()
    page.fill("#card_no", lines[5].split(",")[2])  # the face number, as printed (or scanned from the barcode)
    page.fill("#phone", phone)
    page.click(".hand-out-form #submit")
    page.wait_for_selector(".alert-success")
    assert page.inner_text(".batch-done") == "已发放：1 / 25"
    _check(page, f"console-cards-batch-handed-out-{width}")

    page.goto(f"{base_url}/console/card-batches")
    page.fill("#count", "5")
    page.select_option("#kind", "chip")
    page.select_option("#level", "gold")
    page.click(".batch-form #submit")
    page.wait_for_url(re.compile(r".*/console/card-batches/bat_[\w-]+$"))
    batch_id = page.url.rsplit("/", 1)[1]
    command = page.inner_text(".encode-command")
    assert command == f"alliance-cards --server {base_url} encode --batch {batch_id}"
    _check(page, f"console-cards-batch-chip-{width}")
    context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_hand_out_a_printed_card_and_replace_a_lost_card_with_one(site, browser, width):
    app, scene, base_url = site
    phone = f"1370000{width:04d}"
    with app.app_context():
        batch = cards.create_batch(ACTOR, 3, kind="printed", name=f"补卡用 {width}")
        free, spare = (card.id for card in cards.list_batch_cards(batch.id, _first(3))[:2])
        member = members.register_member(ACTOR, phone, "孙小美")
        old = members.create_cards(ACTOR, 1)[0]
        members.bind_card(ACTOR, member.id, old.card_no)
        cards.report_lost(ACTOR, old.card_no, "钱包被偷")
        spare_no, old_id = cards.get_card(spare).card_no, old.id
        db.session.remove()
    context, page = _signed_in(browser, base_url, width, "c-support")

    page.goto(f"{base_url}/console/cards/{free}")
    assert "印刷卡" in page.inner_text("main")
    _check(page, f"console-cards-bind-{width}")
    page.fill("#phone", "13799999999")  # nobody's phone
    page.click(".bind-form #submit")
    assert "请先登记会员" in page.inner_text(".bind-form")
    page.fill("#phone", phone)
    page.click(".bind-form #submit")
    page.wait_for_selector(".alert-success")
    assert "正常" in page.inner_text("h1") and "孙*" in page.inner_text("main")

    page.goto(f"{base_url}/console/cards/{old_id}")
    page.fill("#new_card_no", spare_no)
    page.click(".replace-form #submit")
    page.wait_for_selector(".alert-success")
    assert spare_no in page.inner_text("h1") and "正常" in page.inner_text("h1")
    _check(page, f"console-cards-replaced-by-printed-{width}")
    context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_a_cards_history_tells_every_change_who_when_and_why(site, browser, width):
    app, scene, base_url = site
    with app.app_context():
        batch = cards.create_batch(ACTOR, 1, kind="printed", name=f"历史 {width}")
        card = cards.list_batch_cards(batch.id, _first(1))[0]
        member = members.register_member(ACTOR, f"1360000{width:04d}", "周芷若")
        members.bind_card(ACTOR, member.id, card.card_no)
        cards.freeze(ACTOR, card.card_no, "疑似被盗用")
        cards.unfreeze(ACTOR, card.card_no, "会员确认卡在身边")
        card_id = card.id
        db.session.remove()
    context, page = _signed_in(browser, base_url, width, "c-admin")
    page.goto(f"{base_url}/console/cards/{card_id}")
    page.click(".card-actions >> text=挂失")
    page.fill("#reason", "会员来电挂失")
    page.click("#confirm")
    page.wait_for_url(f"{base_url}/console/cards/{card_id}")
    rows = page.locator(".card-history tbody tr").all_inner_texts()
    assert len(rows) == 5, rows
    assert "创建了卡批次" in rows[0] and "绑定" in rows[1]
    assert "冻结" in rows[2] and "疑似被盗用" in rows[2]
    assert "会员确认卡在身边" in rows[3]
    assert "管理员 c-admin" in rows[4] and "挂失" in rows[4] and "会员来电挂失" in rows[4]
    assert not re.search(r"(staff|usr|mem)_", page.inner_text(".card-history"))  # names, not ids
    _check(page, f"console-cards-history-{width}")
    context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_issue_an_api_token_see_it_once_use_it_and_revoke_it(site, browser, width):
    app, scene, base_url = site
    context, page = _signed_in(browser, base_url, width, "c-card_issuer")
    page.goto(f"{base_url}/console/tokens")
    _check(page, f"console-cards-tokens-{width}")
    page.fill("#name", f"写卡台 {width}")
    page.select_option("#valid_days", "30")
    page.click(".token-form #submit")
    token = page.inner_text("#personal-token").strip()
    assert token.startswith("pt_")
    _check(page, f"console-cards-token-issued-{width}")
    api = context.request.get(f"{base_url}/api/v1/card-batches", headers={"Authorization": f"Bearer {token}"})
    assert api.status == 200
    page.goto(f"{base_url}/console/tokens")
    assert token not in page.content()
    row = page.locator(".token-list tr", has_text=f"写卡台 {width}")
    row.locator("text=吊销").click()
    page.fill("#reason", "写卡台换新电脑")
    _check(page, f"console-cards-token-revoke-{width}")
    page.click("#confirm")
    page.wait_for_selector(".alert-success")
    assert "已吊销" in page.locator(".token-list tr", has_text=f"写卡台 {width}").inner_text()
    api = context.request.get(f"{base_url}/api/v1/card-batches", headers={"Authorization": f"Bearer {token}"})
    assert api.status == 401
    context.close()


def _first(count: int):
    from server.console.paging import Page

    return Page(1, count)
