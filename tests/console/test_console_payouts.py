"""The console's withdrawal queue and bonus pool page: finance approves or rejects with a reason after a
confirmation; others may not; the pool is distributed, reversed and paid from its page."""

from __future__ import annotations

from server.extensions import db
from server.models import Withdrawal
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
