"""The anti-fraud pages of the console (Chinese): budgets changed and audited, the counters with failed
attempts, and a velocity alert on the alerts page."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from server.domain.benefit_budgets import DEFAULT_LIMITS
from server.domain.errors import BenefitCodeInvalid
from server.extensions import db
from server.models import AuditLog
from server.services import benefit_fraud, benefit_stock, staff
from tests.builders import ACTOR
from tests.console.support import PASSWORD, build_console_world, page_text, post_form, sign_in


def test_budgets_are_set_and_failed_attempts_and_velocity_alerts_shown_in_chinese(app, client):
    scene = build_console_world(app, client)
    with app.app_context():
        staff.create_staff_user(ACTOR, "c-fraud", "benefits_manager", PASSWORD)
        db.session.commit()
    assert sign_in(client, "c-fraud").status_code == 302
    page = "/console/benefits/anti-fraud"
    text = page_text(client.get(page))
    assert "风控额度" in text and "每台终端" in text and "频次预警" in text
    values = {key.replace(":", "__"): str(value) for key, value in DEFAULT_LIMITS.items()}
    saved = post_form(client, page, page, {**values, "failure__terminal__hour": "4", "second_factor": "50.00"})
    assert saved.status_code == 302, page_text(saved)
    refused = post_form(client, page, page, {**values, "claim__member__day": "-1", "second_factor": "50"})
    assert refused.status_code == 422
    with app.app_context():
        assert benefit_fraud.limits()["failure:terminal:hour"] == 4 and benefit_fraud.second_factor_fen() == 5_000
        assert db.session.scalar(select(AuditLog.action).where(AuditLog.action == "benefit_limits.update"))
        terminal = scene.world.shop_a.terminal.id
        for guess in range(5):  # five failures: over the budget of 4, at the alert threshold of 5
            with pytest.raises(BenefitCodeInvalid):
                benefit_stock.redeem(f"GUESS-{guess}", scene.world.shop_a.merchant.id, terminal_id=terminal)
        db.session.remove()
    attempts = page_text(client.get("/console/benefits/anti-fraud/attempts"))
    assert "券码查验失败" in attempts and terminal in attempts and "已用完" in attempts
    assert re.search(r">\s*5\s*<", attempts)
    alerts = page_text(client.get("/console/benefits/alerts?kind=velocity"))
    assert "领取或失败尝试过多" in alerts and "一小时内查验券码失败 5 次" in alerts
