"""The benefit wallet on a phone in headless Chromium: a voucher's QR code read from the screenshot is its code,
a third party's 卡密 opens on tap (audited) and is marked used by the member, a campaign is claimed from the page."""

from __future__ import annotations

import io
from datetime import timedelta

import zxingcpp
from PIL import Image
from sqlalchemy import func, select

from server.domain import voucher_codes
from server.extensions import db
from server.models import AuditLog, BenefitGrant
from server.models.base import utcnow
from server.services import benefit_grants, benefit_imports
from tests.benefits.helpers import MANAGER, csv_file, third_party, vouchers
from tests.browser import save_screenshot
from tests.builders import make_world
from tests.live_server import live_server
from tests.member.support import register_phone


def test_the_benefit_wallet_on_a_phone(app, browser):
    with app.app_context():
        make_world()
        voucher = vouchers("WALLET-10", quantity=3)
        video, _, purchase = third_party(quantity=1)
        benefit_imports.import_file(MANAGER, purchase.id, csv_file([("VIDEO00000001", "PASS-7788", "")]), "v.csv")
        now = utcnow()
        campaign = benefit_grants.create_campaign(
            MANAGER,
            code="WINTER",
            name="冬季领券",
            sku_id=voucher.id,
            starts_at=now - timedelta(hours=1),
            ends_at=now + timedelta(days=3),
            total_budget=10,
        )
        benefit_grants.set_campaign_status(MANAGER, campaign.id, "active")
        login = register_phone("13900005191")
        benefit_grants.grant_batch(MANAGER, video.id, "vip.csv", b"13900005191\n")
        db.session.remove()
    with live_server(app) as base:
        context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, locale="zh-CN")
        context.add_cookies([{"name": "member_session", "value": login.session_token, "url": f"{base}/m/"}])
        page = context.new_page()
        page.goto(f"{base}/m/benefits")
        assert "我的权益" in page.text_content(".brand")
        page.click("#campaigns button[type=submit]")  # claim the campaign's voucher
        page.wait_for_selector(".flash.success")
        assert "甲店" in page.text_content("#wallet")  # where the voucher is accepted
        voucher_item = page.locator("#wallet .benefit", has_text="满100减10")
        voucher_item.locator("button.reveal").click()
        voucher_item.locator(".qr svg").wait_for()
        shown = voucher_item.locator(".code-text").text_content()
        assert voucher_codes.is_valid(shown)
        card_item = page.locator("#wallet .benefit", has_text="视频月卡")
        assert "请按权益说明" in card_item.locator(".where").text_content()  # used with the supplier, not at a till
        assert voucher_item.locator("button.reveal").is_hidden()
        card_item.locator("button.reveal").click()
        card_item.locator(".secret-text").wait_for()
        assert card_item.locator(".code-text").text_content() == "VIDEO00000001"
        assert card_item.locator(".secret-text").text_content() == "PASS-7788"
        voucher_item.scroll_into_view_if_needed()
        png = save_screenshot(page, "member-benefits", full_page=False).read_bytes()
        found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)).convert("L"))
        assert voucher_codes.normalize(shown) in [code.text for code in found]
        card_item.locator("form.mark-used button").click()  # used with the supplier: the member says so
        page.wait_for_selector(".flash.success")
        assert "视频月卡" not in page.text_content("#wallet")
        assert "已使用" in page.locator(".item", has_text="视频月卡").text_content()
        context.close()
    with app.app_context():
        assert db.session.scalar(select(func.count()).where(AuditLog.action == "benefit_code.reveal")) == 2
        assert db.session.scalar(select(func.count()).where(AuditLog.action == "benefit_code.member_used")) == 1
        assert db.session.scalar(select(func.count()).where(BenefitGrant.channel == "campaign")) == 1
        db.session.remove()
