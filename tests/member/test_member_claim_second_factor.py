"""The second factor of high-value claims on the member's page (test client): a claim of a benefit worth the
setting or more asks for the SMS code just texted; wrong codes are counted and burn the code; the right one
claims once; a cheaper benefit needs no code."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from server.extensions import db
from server.models import BenefitGrant, SmsMessage
from server.models.base import utcnow
from server.services import benefit_fraud, benefit_grants
from tests.benefits.helpers import MANAGER, vouchers
from tests.builders import make_world
from tests.member.support import register_phone, sent_codes

PHONE = "13900005388"


def _campaign(code: str, sku) -> str:
    now = utcnow()
    campaign = benefit_grants.create_campaign(
        MANAGER,
        code=code,
        name=f"活动{code}",
        sku_id=sku.id,
        starts_at=now - timedelta(minutes=5),
        ends_at=now + timedelta(days=1),
        total_budget=10,
        per_member_limit=2,
    )
    benefit_grants.set_campaign_status(MANAGER, campaign.id, "active")
    return campaign.id


def _grants(app) -> int:
    with app.app_context():
        count = db.session.scalar(select(func.count()).select_from(BenefitGrant))
        db.session.remove()
    return count


def _csrf(page) -> str:
    return page.get_data(as_text=True).split('name="csrf_token" type="hidden" value="')[1].split('"')[0]


@pytest.fixture
def roomy_limits(app):
    """More claims and codes a minute than production allows, so the test may try many in a row."""
    saved = app.config["RATE_LIMITS"]
    app.config["RATE_LIMITS"] = {**saved, "benefit_claim:member": "100/minute", "benefit_claim_code:member": "9/minute"}
    yield
    app.config["RATE_LIMITS"] = saved


def test_a_valuable_claim_needs_the_sms_code_and_wrong_codes_are_limited(app, client, roomy_limits):
    with app.app_context():
        make_world()
        login = register_phone(PHONE)
        valuable = _campaign("BIG", vouchers("BIG-10", quantity=5))  # face value 10 yuan
        cheap = _campaign("SMALL", vouchers("SMALL-10", quantity=5))
        benefit_fraud.update_limits(MANAGER.key, {}, second_factor=1_000)  # from 10 yuan on: a code
        db.session.remove()
    client.set_cookie("member_session", login.session_token, path="/m")
    csrf = _csrf(client.get("/m/benefits"))

    asked = client.post(f"/m/benefits/campaigns/{valuable}/claim", data={"csrf_token": csrf})
    text = asked.get_data(as_text=True)
    assert asked.status_code == 200 and "验证码" in text and 'name="sms_code"' in text and "满100减10-BIG-10" in text
    assert _grants(app) == 0
    with app.app_context():
        [code] = sent_codes(PHONE)[-1:]
        texted = db.session.scalars(select(SmsMessage).where(SmsMessage.template == "benefit_claim_code")).all()
        assert len(texted) == 1 and code not in texted[0].text  # the outbox keeps it masked
        db.session.remove()

    wrong = "000000" if code != "000000" else "111111"
    refused = client.post(f"/m/benefits/campaigns/{valuable}/claim", data={"csrf_token": csrf, "sms_code": wrong})
    assert refused.status_code == 422 and "验证码错误或已过期" in refused.get_data(as_text=True)
    assert _grants(app) == 0
    claimed = client.post(f"/m/benefits/campaigns/{valuable}/claim", data={"csrf_token": csrf, "sms_code": code})
    assert claimed.status_code == 302 and _grants(app) == 1
    again = client.post(f"/m/benefits/campaigns/{valuable}/claim", data={"csrf_token": csrf, "sms_code": code})
    assert again.status_code == 422 and _grants(app) == 1  # a code claims once

    # five wrong tries burn the next code: even the right one is refused afterwards
    client.post(f"/m/benefits/campaigns/{valuable}/claim", data={"csrf_token": csrf})
    with app.app_context():
        code = sent_codes(PHONE)[-1]
        db.session.remove()
    for _ in range(app.config["LOGIN_CODE_MAX_ATTEMPTS"]):
        client.post(f"/m/benefits/campaigns/{valuable}/claim", data={"csrf_token": csrf, "sms_code": wrong})
    burnt = client.post(f"/m/benefits/campaigns/{valuable}/claim", data={"csrf_token": csrf, "sms_code": code})
    assert burnt.status_code == 422 and _grants(app) == 1

    with app.app_context():  # below the setting: claimed at once
        benefit_fraud.update_limits(MANAGER.key, {}, second_factor=5_000)
        db.session.remove()
    assert client.post(f"/m/benefits/campaigns/{cheap}/claim", data={"csrf_token": csrf}).status_code == 302
    assert _grants(app) == 2
