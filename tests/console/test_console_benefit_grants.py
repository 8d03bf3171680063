"""Console pages of benefit distribution: a campaign added and activated, gift settings, a batch grant's dry run
and grant from an uploaded list."""

from __future__ import annotations

import io
from datetime import date, timedelta

from sqlalchemy import func, select

from server.extensions import db
from server.models import BenefitCampaign, BenefitGrant
from server.services import staff
from server.services.alliance import get_settings
from tests.benefits.helpers import vouchers
from tests.builders import ACTOR
from tests.console.support import PASSWORD, build_console_world, page_text, post_form, sign_in


def test_campaigns_gifts_and_a_batch_grant_from_the_console(app, client):
    build_console_world(app, client)
    with app.app_context():
        sku_id = vouchers("CONSOLE-10", quantity=5).id
        staff.create_staff_user(ACTOR, "c-benefits", "benefits_manager", PASSWORD)
        db.session.commit()
    assert sign_in(client, "c-benefits").status_code == 302
    page = "/console/benefits/campaigns"
    today = date.today()
    added = post_form(
        client,
        page,
        page,
        {
            "code": "NEWYEAR",
            "name": "新年领券",
            "sku_id": sku_id,
            "starts_on": today.isoformat(),
            "ends_on": (today + timedelta(days=7)).isoformat(),
            "total_budget": "50",
            "per_member_limit": "1",
            "min_level_rank": "",
            "agent_id": "",
        },
    )
    assert added.status_code == 302, page_text(added)
    with app.app_context():
        campaign = db.session.scalar(select(BenefitCampaign))
        assert (campaign.code, campaign.status, campaign.remaining) == ("NEWYEAR", "draft", 50)
        campaign_id = campaign.id
    post_form(client, page, f"{page}/{campaign_id}/status", {"status": "active"})
    gifts = post_form(
        client,
        page,
        page,
        {"registration_sku_id": sku_id, "level_up_sku_id": "", "birthday_sku_id": "", "expiry_notice_days": "5"},
    )
    assert gifts.status_code == 302, page_text(gifts)
    text = page_text(client.get(page))
    assert "新年领券" in text and "50 / 50" in text and "自动赠送" in text and "推送" in text
    pushed = post_form(client, page, f"{page}/{campaign_id}/push", {"status": "push"})  # to every eligible member
    assert pushed.status_code == 302
    assert "已推送给" in page_text(client.get(page))
    with app.app_context():
        assert db.session.get(BenefitCampaign, campaign_id).status == "active"
        settings = get_settings()
        assert (settings.registration_gift_sku_id, settings.benefit_expiry_notice_days) == (sku_id, 5)

    listing = "手机号\n13912345678\n13900000000\n".encode()
    batches = "/console/benefits/batches"
    for dry_run in (True, False):
        html = page_text(client.get(batches))
        csrf = html.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
        data = {"csrf_token": csrf, "sku_id": sku_id, "file": (io.BytesIO(listing), "list.csv")}
        if dry_run:
            data["dry_run"] = "y"
        response = client.post(batches, data=data, content_type="multipart/form-data")
        assert response.status_code == 200, page_text(response)
        assert "不是会员" in page_text(response)  # the skipped row's reason
    with app.app_context():
        assert (
            db.session.scalar(select(func.count()).select_from(BenefitGrant).where(BenefitGrant.channel == "batch"))
            == 1
        )
