"""The console's withdrawal queue and bonus pool page: finance approves or rejects with a reason after a
confirmation; others may not; the pool is distributed, reversed and paid from its page."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from server.domain.errors import WithdrawalRefused
from server.extensions import db
from server.models import AuditLog, Withdrawal
from server.services import withdrawals
from tests.console.support import build_console_world, page_text, post_form, seed_agents, sign_in
from tests.payouts.support import ACTOR, BANK, fund


def test_finance_approves_and_rejects_and_support_may_not(app, client):
    scene = build_console_world(app, client)
    with app.app_context():
        ids = seed_agents(scene)
        fund(ids["agent_id"], 100_000)
        first = withdrawals.request_withdrawal(ACTOR, ids["agent_id"], 30_000, "a", **BANK).id
        second = withdrawals.request_withdrawal(ACTOR, ids["agent_id"], 20_000, "b", **BANK).id
        db.session.remove()
    sign_in(client, "c-support")
    assert client.get("/console/withdrawals").status_code == 403
    client.post("/console/logout")
    sign_in(client, "c-finance")
    queue = page_text(client.get("/console/withdrawals"))
    assert "待审批" in queue and "¥300.00" in queue and "¥240.00" in queue  # 300 − 20 % tax
    approve = f"/console/withdrawals/{first}/approve"
    confirm = page_text(client.get(approve))
    assert "批准提现" in confirm and "¥300.00" in confirm
    assert post_form(client, approve, approve, {"reason": "核对无误"}).status_code == 302
    reject = f"/console/withdrawals/{second}/reject"
    assert post_form(client, reject, reject, {"reason": ""}).status_code == 422  # a reason is required
    assert post_form(client, reject, reject, {"reason": "收款账户有误"}).status_code == 302
    with app.app_context():
        assert db.session.get(Withdrawal, first).status == "approved"
        rejected = db.session.get(Withdrawal, second)
        assert (rejected.status, rejected.reject_reason) == ("rejected", "收款账户有误")
        assert withdrawals.agent_balances(ids["agent_id"]).available_fen == 70_000
        db.session.remove()
    again = post_form(client, reject, reject, {"reason": "再次"})
    assert again.status_code == 302  # refused with a message, nothing changes
    assert "该提现申请当前状态不允许此操作" in page_text(client.get(again.headers["Location"]))

    pool = "/console/bonus-pools"
    distribute = f"/console/bonus-pools/{ids['period']}/distribute"
    assert post_form(client, distribute, distribute, {"reason": "月末分配"}).status_code == 302
    assert "已分配（可撤销）" in page_text(client.get(pool))
    reverse = f"/console/bonus-pools/{ids['period']}/reverse"
    assert post_form(client, reverse, reverse, {"reason": "重新核对"}).status_code == 302
    assert "已计提" in page_text(client.get(pool))
    assert client.get("/console/bonus-pools/distribute?period=2026/1").status_code == 302


def test_finance_changes_the_payout_policy_in_yuan_and_percent_and_support_may_not(app, client):
    scene = build_console_world(app, client)
    with app.app_context():
        ids = seed_agents(scene)
        fund(ids["agent_id"], 100_000)
        db.session.remove()
    page = "/console/payout-policy"
    form = {
        "minimum": "250.50",
        "daily_maximum": "20000",
        "fee_fixed": "1.05",
        "fee_rate": "0.35",
        "tax_rate": "20",
        "payout_channel": "wechat",
        "pool_share": "12.5",
        "reserve_share": "20",
        "min_health": "60",
        "reason": "调整提现门槛",
    }
    sign_in(client, "c-support")
    assert client.get(page).status_code == 403
    assert post_form(client, "/console/", page, form).status_code == 403  # a valid CSRF token, no permission
    client.post("/console/logout")
    sign_in(client, "c-finance")
    assert "提现与奖金池设置" in page_text(client.get("/console/withdrawals"))  # the queue links to it
    shown = page_text(client.get(page))
    assert "提现与奖金池设置" in shown and "最低提现金额（元）" in shown and "¥100.00" in shown
    # refused, nothing changes: three decimals, a tax over 45 %, no reason, minimum above the daily maximum
    for bad in ({"minimum": "250.505"}, {"tax_rate": "45.01"}, {"reason": ""}, {"minimum": "30000"}):
        assert post_form(client, page, page, {**form, **bad}).status_code == 422, bad
    with app.app_context():
        assert withdrawals.policy_document()["withdrawal_minimum_fen"] == 10_000
        db.session.remove()
    assert "提现设置相互矛盾" in page_text(post_form(client, page, page, {**form, "minimum": "30000"}))
    assert post_form(client, page, page, form).status_code == 302
    with app.app_context():
        assert withdrawals.policy_document() == {
            "withdrawal_minimum_fen": 25_050,
            "withdrawal_daily_maximum_fen": 2_000_000,
            "withdrawal_fee_fixed_fen": 105,
            "withdrawal_fee_bp": 35,
            "tax_rate_bp": 2_000,
            "payout_channel": "wechat",
            "bonus_pool_share_bp": 1_250,
            "bonus_reserve_share_bp": 2_000,
            "bonus_min_health_score": 60,
        }
        change = db.session.scalar(select(AuditLog).where(AuditLog.action == "payout_policy.update"))
        assert change.actor and change.details["reason"] == "调整提现门槛"
        assert change.details["before"]["withdrawal_minimum_fen"] == 10_000
        # the change takes effect: 250 元 is now below the minimum, 250.50 元 is not
        with pytest.raises(WithdrawalRefused) as refused:
            withdrawals.request_withdrawal(ACTOR, ids["agent_id"], 25_000, "below", **BANK)
        assert refused.value.details["reason"] == "minimum"
        asked = withdrawals.request_withdrawal(ACTOR, ids["agent_id"], 25_050, "at", **BANK)
        assert asked.fee_fen == 105 + 88  # 1.05 元 + 0.35 % of 250.50 元 (87.675 分, half up)
        db.session.remove()
    assert "¥250.50" in page_text(client.get(page))
