"""The invite page on a phone in headless Chromium: the QR code read from a screenshot is the invite link."""

from __future__ import annotations

import io

import zxingcpp
from PIL import Image

from server.extensions import db
from tests.browser import save_screenshot
from tests.builders import make_world
from tests.live_server import live_server
from tests.member.support import register_phone


def test_the_invite_page_on_a_phone(app, browser):
    with app.app_context():
        make_world()
        login = register_phone("13900005171")
        db.session.remove()
    with live_server(app) as base:
        context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, locale="zh-CN")
        context.add_cookies([{"name": "member_session", "value": login.session_token, "url": f"{base}/m/"}])
        page = context.new_page()
        page.goto(f"{base}/m/card")
        page.click("#invite-link-nav")
        page.wait_for_selector("#invite-qr")
        assert "邀请好友" in page.text_content(".brand")
        link = page.input_value("#invite-link")
        png = save_screenshot(page, "member-invite").read_bytes()
        found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)).convert("L"))
        assert [code.text for code in found] == [link]
        assert link.startswith(f"{base}/m/join?i=")
        context.close()
