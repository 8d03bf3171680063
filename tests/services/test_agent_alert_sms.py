"""Early-warning SMS: each new agent alert texts the agent and its upper agent, once, through the outbox."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from server.domain.identifiers import mask_mobile
from server.extensions import db
from server.models import SmsMessage
from server.notifications import sms
from server.security.pii import decrypt_phone
from server.services import agents, catalog, checkout, regions
from server.services.agent_evaluation import evaluate_agents
from tests.builders import ACTOR, make_member, make_world, next_phone
from tests.clock import frozen_clock

AFTER = datetime(2026, 12, 2, tzinfo=UTC)


@pytest.fixture
def world(ctx):
    regions.load_regions()
    return make_world()


def new_agent(name, upper=None, status="active"):
    agent = agents.create_agent(ACTOR, kind="person", name=name, phone=next_phone(), upper_agent_id=upper)
    agents.update_agent(ACTOR, agent.id, status="active", status_reason="contract signed")
    if status != "active":
        agents.update_agent(ACTOR, agent.id, status=status, status_reason="contract ended")
    return agent


def sell(shop, card, amount_fen, when):
    with frozen_clock(when):
        found = checkout.identify(shop.terminal, code=card.card_no)
        return checkout.record_sale(shop.terminal, identification_token=found.token, amount_fen=amount_fen)


def outbox() -> list[tuple[str, str]]:
    """Every queued message as (phone, text), oldest first."""
    messages = db.session.scalars(select(SmsMessage).order_by(SmsMessage.id))
    return [(decrypt_phone(message.phone_ciphertext), message.text) for message in messages]


def test_a_drop_alert_texts_the_agent_and_its_upper_agent_once(world, caplog):
    upper = new_agent("市级代理")
    agent = new_agent("南山代理", upper=upper.id)
    catalog.update_merchant(ACTOR, world.shop_a.merchant.id, agent_id=agent.id)
    _, card = make_member()
    sell(world.shop_a, card, 100_000, datetime(2026, 11, 5, 4, tzinfo=UTC))  # before the last two weeks
    sell(world.shop_a, card, 10_000, datetime(2026, 11, 25, 4, tzinfo=UTC))  # in them: a 90 % fall
    before = len(outbox())

    assert evaluate_agents(ACTOR, "2026-11", now=AFTER)["alerts"] == 1
    texts = outbox()[before:]
    agent_phone, upper_phone = (decrypt_phone(a.phone_ciphertext) for a in (agent, upper))
    assert [phone for phone, _ in texts] == [agent_phone, upper_phone]
    assert texts[0][1] == (
        "【幸福街商家联盟】经营预警：您2026年11月最后14天服务商户消费95.00元，比前14天的1000.00元下降90%，请及时跟进。"
    )
    assert "经营预警：您的下级代理“南山代理”2026年11月最后14天服务商户消费95.00元" in texts[1][1]

    with caplog.at_level(logging.WARNING, logger=sms.__name__):
        sms.dispatch_pending(sms.LogSmsSender())
    logged = [r.getMessage() for r in caplog.records if "经营预警" in r.getMessage()]
    assert logged == [
        f"SMS to {mask_mobile(agent_phone)}: {texts[0][1]}",
        f"SMS to {mask_mobile(upper_phone)}: {texts[1][1]}",
    ]
    assert agent_phone not in "".join(logged)

    # a re-run adds no alert, so texts no one
    assert evaluate_agents(ACTOR, "2026-11", now=AFTER)["alerts"] == 0
    assert len(outbox()) == before + 2


def test_a_health_alert_texts_the_agent_but_not_a_terminated_upper_agent(world):
    agents.update_policy(ACTOR, alert_health_below=80)
    upper = new_agent("已解约上级")
    agent = new_agent("退款多的代理", upper=upper.id)
    agents.update_agent(ACTOR, upper.id, status="terminated", status_reason="contract ended")
    catalog.update_merchant(ACTOR, world.shop_a.merchant.id, agent_id=agent.id)
    _, card = make_member()
    for day in (3, 10, 17, 24):
        sale = sell(world.shop_a, card, 10_000, datetime(2026, 11, day, 4, tzinfo=UTC)).sale
        if day in (3, 10):
            with frozen_clock(datetime(2026, 11, day, 5, tzinfo=UTC)):
                checkout.refund_sale(ACTOR, sale.id, None, sale.payable_fen, "退货")
    before = len(outbox())

    assert evaluate_agents(ACTOR, "2026-11", now=AFTER)["alerts"] == 1
    texts = outbox()[before:]
    assert [phone for phone, _ in texts] == [decrypt_phone(agent.phone_ciphertext)]
    assert texts[0][1] == (
        "【幸福街商家联盟】经营预警：您2026年11月的健康分为75分，低于预警线80分，请及时处理退款、投诉等问题。"
    )
    masked = db.session.scalars(select(SmsMessage.phone_masked).order_by(SmsMessage.id.desc()).limit(1)).one()
    assert masked == mask_mobile(decrypt_phone(agent.phone_ciphertext))
    assert evaluate_agents(ACTOR, "2026-11", now=AFTER)["alerts"] == 0
    assert len(outbox()) == before + 1
