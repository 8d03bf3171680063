"""A valuable voucher in the wallet on a phone (headless Chromium, 390 px): shown only as a one-time code whose
QR code, read from the screenshot, the till's resolver accepts once; the page fetches the next code when the
30-second step runs out."""

from __future__ import annotations

import io

import zxingcpp
from PIL import Image

from server.domain import dynamic_vouchers
from server.extensions import db
from server.services import benefit_grants, benefit_stock, voucher_lookup
from tests.benefits.helpers import vouchers
from tests.browser import save_screenshot
from tests.builders import make_world
from tests.live_server import live_server
from tests.member.support import register_phone

STEP_START = 1_796_000_010  # a 30-second step boundary (2026-11-30)


def test_the_wallet_shows_a_refreshing_one_time_code_for_a_valuable_voucher(app, browser):
    clock = {"now": STEP_START + 29}  # one second left in the step: the page asks again after it
    app.config["MEMBER_CODE_CLOCK"] = lambda: clock["now"]
    try:
        with app.app_context():
            make_world()
            sku = vouchers("BIG-WALLET", quantity=1)
            benefit_grants.set_gift_settings(
                "staff:t",
                registration_sku_id=None,
                level_up_sku_id=None,
                birthday_sku_id=None,
                dynamic_voucher_min_fen=1_000,
            )
            login = register_phone("13900005192")
            (code_id,) = benefit_stock.allocate(sku.id, member_id=login.member.id)
            db.session.remove()
        with live_server(app) as base:
            context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, locale="zh-CN")
            context.add_cookies([{"name": "member_session", "value": login.session_token, "url": f"{base}/m/"}])
            page = context.new_page()
            page.goto(f"{base}/m/benefits")
            item = page.locator("#wallet .benefit", has_text="BIG-WALLET")
            item.locator("button.reveal").click()
            item.locator(".qr svg").wait_for()
            first = item.locator(".code-text").text_content()
            assert first.startswith("V ") and "截图转给他人无效" in item.text_content()
            png = save_screenshot(page, "member-benefits-dynamic-voucher", full_page=False).read_bytes()
            scanned = [found.text for found in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)).convert("L"))]
            printed = first.replace(" ", "")
            assert dynamic_vouchers.parse(first) is not None and printed in scanned
            clock["now"] = STEP_START + 35  # the next step: the page fetches its code by itself
            page.wait_for_function(
                "(shown) => document.querySelector('#wallet .benefit .code-text').textContent !== shown",
                arg=first,
                timeout=10_000,
            )
            context.close()
        with app.app_context():  # a step later the scanned code is still good at the till, once
            assert voucher_lookup.resolve_till_voucher_code(printed).id == code_id
            assert voucher_lookup.resolve_till_voucher_code(printed) is None
            db.session.rollback()
            db.session.remove()
    finally:
        app.config.pop("MEMBER_CODE_CLOCK")
