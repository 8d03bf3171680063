"""Operators' everyday work in headless Chromium (issue 15 items 11-15), each at phone (390 px) and desk
(1366 px) width with screenshots in test-artifacts/console-ops-<task>-<width>.png.

One live server for the module; each test signs in its own browser context.
"""

from __future__ import annotations

import re
import time

import pyotp
import pytest

from server.extensions import db
from tests.browser import save_screenshot
from tests.builders import make_member
from tests.conftest import wipe
from tests.console.support import PASSWORD, build_console_world
from tests.live_server import live_server

pytestmark = pytest.mark.timeout(240)
WIDTHS = (1366, 390)


@pytest.fixture(scope="module")
def site(database, browser):
    """The console world plus thirty members (a list of two pages), served over HTTP."""
    app = database.make_app()
    client = app.test_client()
    scene = build_console_world(app, client)
    with app.app_context():
        make_member(phone="13800005678", name="张无忌")
        for n in range(30):
            make_member(phone=f"1370000{n:04d}", name=f"会员{n:02d}", with_card=False)
        db.session.remove()
    with live_server(app) as base_url:
        yield app, scene, base_url
    wipe(app)


def _signed_in(browser, base_url: str, username: str, password: str = PASSWORD):
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"pageerror: {exc}"))
    page.on("console", lambda msg: msg.type == "error" and problems.append(f"console: {msg.text}"))
    page.goto(f"{base_url}/console/sign-in")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#submit")
    page.wait_for_load_state()
    return context, page, problems


def _fits(page) -> None:
    """Nothing wider than the screen, exactly one menu entry lit."""
    width = page.evaluate("() => document.scrollingElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"{page.url}: {width}px wide"
    assert page.locator(".console-nav .nav-link.active").count() == 1, page.url


def _at_widths(page, name: str, check=None) -> None:
    """Check the page at desk and phone width, with a screenshot of each."""
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900 if width > 768 else 844})
        _fits(page)
        if check:
            check(width)
        save_screenshot(page, f"console-ops-{name}-{width}")
    page.set_viewport_size({"width": 1366, "height": 900})


def test_11_support_finds_members_by_phone_ending_reveals_with_a_reason_and_freezes(site, browser):
    app, scene, base_url = site
    context, page, problems = _signed_in(browser, base_url, "c-support")
    page.goto(f"{base_url}/console/members")
    page.fill(".member-search input[name=q]", "5678")
    page.click(".member-search button[type=submit]")
    page.wait_for_load_state()
    assert "5678" not in page.url  # the search was POSTed
    rows = page.locator("tbody tr").all_inner_texts()
    assert len(rows) == 2 and any("赵敏" in row for row in rows) and any("张无忌" in row for row in rows)
    _at_widths(page, "members-search")
    page.click("text=赵敏")
    page.wait_for_load_state()
    assert page.locator(".points-movements tbody tr").count() >= 3
    assert "甲店" in page.locator(".member-sales").inner_text()
    page.fill(".reveal-form input[name=reason]", "会员来电核对身份")
    page.click(".reveal-form [type=submit]")
    page.wait_for_load_state()
    assert page.locator("#full-phone").inner_text() == "13912345678"
    _at_widths(page, "member-detail")
    page.click(".member-freeze")
    page.wait_for_load_state()
    _at_widths(page, "member-freeze-confirm")
    page.fill("input[name=reason]", "疑似盗刷，会员要求冻结")
    page.click("form [type=submit].btn-danger, form button[type=submit]:has-text('冻结')")
    page.wait_for_load_state()
    assert page.locator(".member-frozen").is_visible()
    _at_widths(page, "member-frozen")
    page.click(".member-unfreeze")
    page.fill("input[name=reason]", "核实无误")
    page.click("form button[type=submit]:has-text('解冻')")
    page.wait_for_load_state()
    assert page.locator(".member-frozen").count() == 0
    context.close()
    assert problems == []


def test_12_admin_sees_the_window_the_members_price_and_retires_a_level(site, browser):
    app, scene, base_url = site
    context, page, problems = _signed_in(browser, base_url, "c-admin")
    page.goto(f"{base_url}/console/levels")
    page.fill("#example", "258.80")
    page.click("form:has(#example) button[type=submit]")
    page.wait_for_load_state()
    assert "example=258.80" in page.url
    assert page.locator(".level-window").inner_text().count("天") >= 1
    prices = page.locator(".member-price").all_inner_texts()
    assert prices and all(price.startswith("¥") for price in prices)
    _at_widths(page, "levels")
    silver = scene.world.levels["silver"]
    page.goto(f"{base_url}/console/levels/{silver.id}/edit")
    assert "折" in page.locator(".console-content form").inner_text()
    _at_widths(page, "level-edit")
    page.goto(f"{base_url}/console/levels?example=abc")
    assert page.locator(".invalid-filter").count() == 1
    _at_widths(page, "levels-invalid-example")
    page.goto(f"{base_url}/console/levels/{silver.id}/retire")
    _at_widths(page, "level-retire-confirm")
    page.fill("input[name=reason]", "银卡并入金卡")
    page.click("form button[type=submit]:has-text('停用')")
    page.wait_for_load_state()
    row = page.locator(f'.level-row[data-code="{silver.code}"]')
    assert "已停用" in row.inner_text()
    page.goto(f"{base_url}/console/levels/{silver.id}/reinstate")
    page.fill("input[name=reason]", "恢复银卡")
    page.click("form button[type=submit]:has-text('恢复')")
    page.wait_for_load_state()
    context.close()
    assert problems == []


def test_13_a_new_user_changes_the_password_and_finance_turns_on_totp(site, browser):
    app, scene, base_url = site
    context, page, problems = _signed_in(browser, base_url, "c-admin")
    page.goto(f"{base_url}/console/staff")
    page.fill("#username", "han.meimei")
    page.fill("#display_name", "韩梅梅")
    page.select_option("#role", "support")
    page.fill("#password", "password123")
    page.click("form button[type=submit]:has-text('创建'), form input[type=submit]")
    page.wait_for_load_state()
    assert "最常见的密码" in page.content()
    _at_widths(page, "staff-password-refused")
    page.fill("#username", "han.meimei")
    page.select_option("#role", "support")
    page.fill("#password", "given by the admin")
    page.click("form input[type=submit]")
    page.wait_for_load_state()
    context.close()

    context, page, more = _signed_in(browser, base_url, "han.meimei", "given by the admin")
    problems += more
    assert page.url.endswith("/console/account/password")
    _at_widths(page, "password-forced")
    page.fill("#current", "given by the admin")
    page.fill("#password", "my own quiet harbour")
    page.fill("#repeat", "my own quiet harbour")
    page.click("form input[type=submit]")
    page.wait_for_load_state()
    assert page.url.endswith("/console/")
    context.close()

    context, page, more = _signed_in(browser, base_url, "c-finance")
    problems += more
    page.goto(f"{base_url}/console/account/second-factor")
    secret = page.locator(".totp-secret").inner_text()
    assert page.locator(".totp-qr svg").count() == 1
    _at_widths(page, "totp-setup")
    page.fill("#code", pyotp.TOTP(secret).now())
    page.click("form input[type=submit]")
    page.wait_for_load_state()
    assert "已开启" in page.locator(".second-factor-state").inner_text()
    _at_widths(page, "account")
    context.close()

    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
    page = context.new_page()
    page.goto(f"{base_url}/console/sign-in")
    page.fill("#username", "c-finance")
    page.fill("#password", PASSWORD)
    page.click("#submit")
    page.wait_for_url(re.compile(r".*/console/sign-in/code.*"))
    for width in WIDTHS:  # the sign-in pages have no menu
        page.set_viewport_size({"width": width, "height": 844})
        assert page.evaluate("() => document.scrollingElement.scrollWidth") <= width
        save_screenshot(page, f"console-ops-sign-in-code-{width}")
    page.fill("#code", pyotp.TOTP(secret).at(time.time() + 30))  # the set-up code is used up: the next one
    page.click("#submit")
    page.wait_for_url(f"{base_url}/console/")
    context.close()
    assert problems == []


def test_14_the_poster_warns_without_public_base_url_and_prints_on_one_a4_or_a5_sheet(site, browser):
    app, scene, base_url = site
    merchant_id = scene.world.shop_a.merchant.id
    context, page, problems = _signed_in(browser, base_url, "c-admin")
    page.goto(f"{base_url}/console/merchants/{merchant_id}/poster")
    warning = page.locator(".poster-base-warning")
    assert warning.is_visible() and "127.0.0.1" in warning.inner_text() and "PUBLIC_BASE_URL" in warning.inner_text()
    _at_widths(page, "poster-a4")
    page.fill("#line", "本周入会即送 50 积分")
    page.select_option("#size", "a5")
    page.click(".poster-options button[type=submit]")
    page.wait_for_load_state()
    assert "本周入会即送 50 积分" in page.locator(".poster-sheet").inner_text()
    _at_widths(page, "poster-a5")
    for size in ("a4", "a5"):
        page.goto(f"{base_url}/console/merchants/{merchant_id}/poster?size={size}")
        page.emulate_media(media="print")
        assert not page.locator(".poster-base-warning").is_visible()  # the warning is not printed
        pdf = page.pdf(prefer_css_page_size=True, print_background=True)
        assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == 1, size  # one sheet
        save_screenshot(page, f"console-ops-poster-print-{size}")
        page.emulate_media(media="screen")
    context.close()
    assert problems == []


def test_15_invalid_filters_are_reported_and_the_pager_jumps(site, browser):
    app, scene, base_url = site
    context, page, problems = _signed_in(browser, base_url, "c-support")
    page.goto(f"{base_url}/console/members?status=sleeping")
    assert page.locator(".invalid-filter").count() == 1 and "sleeping" in page.locator(".invalid-filter").inner_text()
    _at_widths(page, "members-invalid-filter")
    page.goto(f"{base_url}/console/members")
    assert page.locator(".pager").is_visible()
    page.fill("#page-jump", "2")
    page.click(".page-jump button")
    page.wait_for_load_state()
    assert "page=2" in page.url and page.locator(".pagination .active").inner_text().strip() == "2"
    _at_widths(page, "members-page-2")
    page.click("text=首页")
    page.wait_for_load_state()
    assert "page=1" in page.url
    context.close()
    assert problems == []
