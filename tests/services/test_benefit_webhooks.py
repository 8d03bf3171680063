"""The webhook events of benefits and commissions: benefit.issued (every grant channel), benefit.expired (the
expiry job) and commission.available (the day closing's release). Each is written in the transaction of the
change that caused it (nothing when that rolls back) and a receiver gets it once, signed, free of personal data."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from server.domain.errors import DomainError
from server.extensions import db
from server.models import BenefitCode, WebhookEvent
from server.services import benefit_grants, commissions, jobs, webhooks
from server.services.points import alliance_today
from tests.benefits.helpers import vouchers
from tests.builders import ACTOR, make_member, make_world
from tests.services.test_commissions import DAY, close, scene, sell  # noqa: F401 - scene is a fixture
from tests.services.test_webhooks import Receiver


@pytest.fixture
def receiver():
    server = Receiver(failures=0)
    yield server
    server.close()


def events(event_type: str) -> list[WebhookEvent]:
    return list(db.session.scalars(select(WebhookEvent).where(WebhookEvent.event_type == event_type)))


def delivered(receiver, secret: str) -> list[dict]:
    assert webhooks.deliver_pending()["failed"] == 0
    assert webhooks.deliver_pending()["delivered"] == 0  # nothing twice
    return receiver.accepted(secret)


def test_benefit_issued_is_written_with_the_grant_and_rolled_back_with_it(ctx, receiver):
    make_world()
    _, secret = webhooks.create_subscription(ACTOR, "CRM", receiver.url, ["benefit.issued", "benefit.expired"])
    sku = vouchers("HOOK-10", quantity=5, points_price=50)
    rich, _ = make_member(points=100, with_card=False)
    poor, _ = make_member(points=10, with_card=False)
    grant = benefit_grants.exchange_points(rich.id, sku.id, "hook-1")
    with pytest.raises(DomainError):  # the code is allocated and the event emitted, then the points fall short
        benefit_grants.exchange_points(poor.id, sku.id, "hook-2")
    assert len(events("benefit.issued")) == 1

    # the code expires unused: the job emits benefit.expired once, in its own transaction
    db.session.execute(
        update(BenefitCode)
        .where(BenefitCode.id == grant.code_id)
        .values(expires_on=alliance_today() - timedelta(days=1))
    )
    db.session.commit()
    for _ in range(2):
        jobs.run_job("expire-benefit-codes", alliance_today())
    assert len(events("benefit.expired")) == 1

    kept = delivered(receiver, secret)
    assert [event["type"] for event in kept] == ["benefit.issued", "benefit.expired"]
    issued = kept[0]["data"]
    assert issued == {
        "benefit_id": grant.code_id,
        "sku_id": sku.id,
        "member_id": rich.id,
        "channel": "points_exchange",
        "merchant_id": None,
        "sale_id": None,
        "value_fen": 1_000,
        "occurred_at": issued["occurred_at"],
    }
    assert kept[1]["data"]["benefit_id"] == grant.code_id and kept[1]["data"]["member_id"] == rich.id
    body = str(kept)
    assert rich.phone_masked not in body and "测试会员" not in body  # ids only: no names, no phones


def test_commission_available_is_emitted_once_per_agent_commission_when_the_window_ends(scene, receiver):  # noqa: F811
    world, clock, card, (_top, _mid, svc, recruiter) = scene
    _, secret = webhooks.create_subscription(ACTOR, "ERP", receiver.url, ["commission.available"])
    commissions.update_policy(ACTOR, {"return_window_days": 1}, "one day")
    sell(world.shop_a, card, 20_000)
    close(clock, DAY)
    assert events("commission.available") == []  # earned, still pending
    close(clock, DAY + timedelta(days=1))
    close(clock, DAY + timedelta(days=1))  # a re-run releases nothing twice
    released = events("commission.available")
    assert {event.payload["agent_id"] for event in released} == {svc.id, recruiter.id}
    kept = delivered(receiver, secret)
    assert (
        len(kept)
        == len(released)
        == db.session.scalar(
            select(func.count()).select_from(WebhookEvent).where(WebhookEvent.event_type == "commission.available")
        )
    )
    servicing = next(event["data"] for event in kept if event["data"]["agent_id"] == svc.id)
    assert servicing["amount_fen"] == commissions.agent_balance(svc.id).available_fen
    assert set(servicing) == {"commission_id", "agent_id", "amount_fen", "available_at"}
