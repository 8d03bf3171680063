"""The console's webhooks: an admin adds a subscription (secret shown once), reads the log and replays."""

from __future__ import annotations

from sqlalchemy import select

from server.console.paging import Page
from server.extensions import db
from server.models import AuditLog
from server.services import cards, staff, webhooks
from tests.builders import ACTOR, make_member, make_world
from tests.console.support import PASSWORD, page_text, post_form, sign_in
from tests.stand_in import stand_in


def test_an_admin_subscribes_reads_the_log_and_replays_a_delivery(app, client):
    with app.app_context():
        make_world()
        _member, card = make_member()
        staff.create_staff_user(ACTOR, "c-admin", "admin", PASSWORD)
        staff.create_staff_user(ACTOR, "c-finance", "finance", PASSWORD)
        db.session.remove()
    assert sign_in(client, "c-finance").status_code == 302
    assert client.get("/console/webhooks").status_code == 403  # admins only
    client.post("/console/sign-out")
    assert sign_in(client, "c-admin").status_code == 302
    with stand_in(lambda *request: (200, {})) as (url, seen):
        form = {"name": "会员系统", "url": url, "event_types": ["card.blocked"], "active": "y"}
        issued = page_text(post_form(client, "/console/webhooks", "/console/webhooks", form))
        assert "只显示这一次" in issued and "whsec_" in issued
        with app.app_context():
            (hook,) = webhooks.list_subscriptions(Page())
            cards.freeze(ACTOR, card.card_no, "核对")
            assert webhooks.deliver_pending() == {"delivered": 1, "retrying": 0, "failed": 0}
            db.session.remove()
        listing = page_text(client.get("/console/webhooks"))
        assert "会员系统" in listing and "卡片已停用" in listing and "启用" in listing
        log = page_text(client.get(f"/console/webhook-deliveries?subscription_id={hook.id}"))
        assert "已送达" in log
        delivery_id = log.split('data-delivery="', 1)[1].split('"', 1)[0]
        detail = page_text(client.get(f"/console/webhook-deliveries/{delivery_id}"))
        assert "card.blocked" in detail and "200" in detail and "重新发送" in detail
        replay_url = f"/console/webhook-deliveries/{delivery_id}/replay"
        assert post_form(client, replay_url, replay_url, {"reason": "对方丢失数据"}).status_code == 302
        with app.app_context():
            assert webhooks.deliver_pending()["delivered"] == 1
            sentence = db.session.scalar(select(AuditLog.action).where(AuditLog.object_id == delivery_id))
            assert sentence == "webhook_delivery.replay"
        assert len(seen) == 2 and seen[0][4]["X-Alliance-Delivery"] == seen[1][4]["X-Alliance-Delivery"]
    edit_url = f"/console/webhooks/{hook.id}"
    paused = {
        "name": "会员系统",
        "url": "https://crm.example.com/hook",
        "event_types": ["card.blocked", "sale.recorded"],
    }
    assert post_form(client, edit_url, edit_url, paused).status_code == 302  # active unticked: paused
    assert "已暂停" in page_text(client.get("/console/webhooks"))
    audit_page = page_text(client.get("/console/audit"))
    assert "添加了 Webhook 订阅" in audit_page and "重新发送了 Webhook 投递" in audit_page
    assert "修改了 Webhook 订阅" in audit_page and "卡片已停用、销售已记录" in audit_page
