"""The agent portal in headless Chromium on a phone (390 px) and at a desk (1366 px): sign in with the SMS
code as a person does, read every page; screenshots go to test-artifacts/ for people to review."""

from __future__ import annotations

import pytest

from server.extensions import db
from tests.agent_portal.support import CITY_PHONE, build_network
from tests.browser import save_screenshot
from tests.live_server import live_server
from tests.member.support import last_login_code

PHONE_VIEWPORT = {"width": 390, "height": 844}
DESK_VIEWPORT = {"width": 1366, "height": 900}
PAGES = {"level": "我的等级", "evaluations": "我的考核", "merchants": "我的商户", "members": "我发展的会员"}
PAGES |= {"team": "我的团队", "alerts": "预警", "cards": "寄售卡"}


@pytest.fixture
def portal(app):
    build_network(app)
    with live_server(app) as base:
        yield base


def sign_in_on_the_page(app, page, base: str) -> None:
    page.goto(f"{base}/a/")
    page.wait_for_url(f"{base}/a/login")
    assert "代理登录" in page.text_content("h1")
    page.fill("#phone", CITY_PHONE)
    page.click("#send-code")
    page.wait_for_selector("#send-status.ok")
    assert "136****6100" in page.text_content("#send-status")
    with app.app_context():
        code = last_login_code(CITY_PHONE)
        db.session.remove()
    page.fill("#code", code)
    page.click("#submit")
    page.wait_for_url(f"{base}/a/level")


@pytest.mark.timeout(180)
@pytest.mark.parametrize(
    ("width", "viewport", "mobile"), [("390", PHONE_VIEWPORT, True), ("1366", DESK_VIEWPORT, False)]
)
def test_the_portal_on_a_phone_and_at_a_desk(app, browser, portal, width, viewport, mobile):
    base = portal
    context = browser.new_context(
        viewport=viewport, device_scale_factor=2 if mobile else 1, locale="zh-CN", is_mobile=mobile
    )
    page = context.new_page()
    try:
        page.goto(f"{base}/a/login")
        save_screenshot(page, f"agent-portal-login-{width}")
        sign_in_on_the_page(app, page, base)
        for name, heading in PAGES.items():
            page.goto(f"{base}/a/{name}")
            assert heading in page.text_content("main"), name
            assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"], (
                f"{name} scrolls sideways"
            )
            if name == "level":
                page.click("#next-level h2")  # visible and laid out
                assert "距离青铜" in page.text_content("#next-level h2")
            save_screenshot(page, f"agent-portal-{name}-{width}")
        tabs = page.query_selector("nav.tabs")
        box = tabs.bounding_box()
        if mobile:  # the tab bar sits at the bottom of the phone's screen
            assert box["y"] + box["height"] >= viewport["height"] - 2
        else:  # at a desk, under the header
            assert box["y"] < 120
    finally:
        context.close()
