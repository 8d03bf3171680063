"""Webhooks: events in the outbox only when subscribed, in the event's transaction; signed, ordered, retried."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import func, select

from server.console.paging import Page
from server.domain.errors import Conflict, DomainError, InvalidRequest
from server.domain.webhooks import MAX_ATTEMPTS, retry_delay_seconds, signature_valid
from server.extensions import db
from server.models import AuditLog, PointsLot, Sale, WebhookAttempt, WebhookDelivery, WebhookEvent
from server.models.base import utcnow
from server.services import alliance, cards, checkout, webhooks
from server.services.staff import terminal_for_token
from tests.builders import ACTOR, make_member, make_world


class Receiver:
    """A real HTTP server in a thread: answers 500 to the first ``failures`` requests, then 200."""

    def __init__(self, failures: int = 0):
        self.failures, self.requests, self.lock = failures, [], threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    receiver.requests.append((dict(self.headers), body))
                    status = 500 if receiver.failures > 0 else 200
                    receiver.failures -= 1
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def accepted(self, secret: str) -> list[dict]:
        """The events a careful receiver keeps: valid signature and timestamp, each delivery id once."""
        kept, seen = [], set()
        for headers, body in self.requests:
            timestamp = int(headers["X-Alliance-Timestamp"])
            assert signature_valid(secret, timestamp, body, headers["X-Alliance-Signature"], int(time.time()))
            if headers["X-Alliance-Delivery"] not in seen:
                seen.add(headers["X-Alliance-Delivery"])
                kept.append(json.loads(body))
        return kept

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = Receiver(failures=3)
    yield server
    server.close()


@pytest.fixture
def scene(ctx):
    world = make_world()
    _member, card = make_member(points=1_000)
    return terminal_for_token(world.shop_a.token), card


def sell(terminal, card, amount_fen=10_000):
    return checkout.record_sale(terminal, code=card.card_no, amount_fen=amount_fen).sale


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_nothing_is_written_when_no_one_subscribed(scene):
    terminal, card = scene
    sell(terminal, card)
    webhooks.create_subscription(ACTOR, "ERP", "https://erp.example.com/hook", ["refund.recorded"])
    sell(terminal, card)  # this worker saw its own new subscription at once: still no one wants sales
    assert count(WebhookEvent) == 0


def test_a_refused_sale_leaves_no_event(scene):
    terminal, card = scene
    webhooks.create_subscription(ACTOR, "ERP", "https://erp.example.com/hook", ["sale.recorded"])
    with pytest.raises(DomainError):  # more points than the member holds
        checkout.record_sale(terminal, code=card.card_no, amount_fen=10_000, redeem_points=10**6)
    assert count(WebhookEvent) == 0 and count(Sale) == 0


def test_a_receiver_failing_three_times_gets_each_event_once_in_order_signed(scene, receiver):
    terminal, card = scene
    subscription, secret = webhooks.create_subscription(
        ACTOR, "ERP", receiver.url, ["sale.recorded", "refund.recorded", "card.blocked"]
    )
    first, second = sell(terminal, card, 10_000), sell(terminal, card, 20_000)
    checkout.refund_sale(ACTOR, first.id, None, 1_000, "partial")
    cards.freeze(ACTOR, card.card_no, "lost wallet")
    assert count(WebhookEvent) == 4

    now = utcnow()
    rounds = []
    for attempt in range(1, 6):  # each round: whatever is due at ``now``, then time moves past the backoff
        rounds.append(webhooks.deliver_pending(now=now))
        now += timedelta(seconds=retry_delay_seconds(attempt) or 0)
    # the first event failed three times; the later ones waited behind it (per-subscription order)
    assert rounds[0] == {"delivered": 0, "retrying": 1, "failed": 0}
    assert rounds[3] == {"delivered": 4, "retrying": 0, "failed": 0} and rounds[4]["delivered"] == 0
    assert len(receiver.requests) == 7

    kept = receiver.accepted(secret)
    assert [event["type"] for event in kept] == ["sale.recorded", "sale.recorded", "refund.recorded", "card.blocked"]
    assert [kept[0]["data"]["sale_id"], kept[1]["data"]["sale_id"]] == [first.id, second.id]
    assert kept[2]["data"] == {
        "refund_id": kept[2]["data"]["refund_id"],
        "sale_id": first.id,
        "member_id": first.member_id,
        "merchant_id": first.merchant_id,
        "amount_fen": 1_000,
        "points_reversed": kept[2]["data"]["points_reversed"],
        "points_restored": 0,
        "points_unrecovered": 0,
        "payment_method": "cash",
        "created_at": kept[2]["data"]["created_at"],
    }
    blocked = kept[3]["data"]
    assert blocked["status"] == "frozen" and blocked["reason"] == "freeze" and "****" in blocked["card_no_masked"]
    assert card.card_no not in json.dumps(kept)  # no full card number, no names, no phones in any payload
    # the retries of the first event carried the same delivery id and event id
    first_ids = {(h["X-Alliance-Delivery"], h["X-Alliance-Event-Id"]) for h, _ in receiver.requests[:4]}
    assert len(first_ids) == 1
    log = db.session.scalars(select(WebhookAttempt).order_by(WebhookAttempt.id)).all()
    assert [entry.status_code for entry in log] == [500, 500, 500, 200, 200, 200, 200]
    assert log[0].error.startswith("HTTP 500") and all(entry.latency_ms >= 0 for entry in log)

    # a replay sends the same delivery again (the receiver deduplicates it by its id); audited
    delivery_id = receiver.requests[-1][0]["X-Alliance-Delivery"]
    webhooks.replay_delivery(ACTOR, delivery_id)
    assert webhooks.deliver_pending()["delivered"] == 1
    assert receiver.requests[-1][0]["X-Alliance-Delivery"] == delivery_id and len(receiver.accepted(secret)) == 4
    assert db.session.scalar(select(AuditLog.action).where(AuditLog.object_id == delivery_id)) == (
        "webhook_delivery.replay"
    )
    cards.unfreeze(ACTOR, card.card_no)  # unblocking is no event
    sell(terminal, card)
    pending = db.session.scalar(select(WebhookDelivery.delivery_id).where(WebhookDelivery.status == "pending"))
    with pytest.raises(Conflict):  # a delivery waiting to go cannot be replayed
        webhooks.replay_delivery(ACTOR, pending)


def test_a_receiver_that_never_answers_well_fails_after_the_last_attempt(scene):
    terminal, card = scene
    subscription, _ = webhooks.create_subscription(ACTOR, "down", "http://127.0.0.1:9/hook", ["sale.recorded"])
    sell(terminal, card)
    now = utcnow()
    for attempt in range(1, MAX_ATTEMPTS + 1):
        webhooks.deliver_pending(now=now)
        now += timedelta(seconds=retry_delay_seconds(attempt) or 0)
    (delivery,) = webhooks.list_deliveries({"subscription_id": subscription.id}, Page())
    assert (delivery["status"], delivery["attempts"], delivery["last_status_code"]) == ("failed", MAX_ATTEMPTS, None)
    assert delivery["last_error"].startswith("no answer")


def test_subscriptions_are_checked_paused_and_deleted(scene):
    with pytest.raises(InvalidRequest):
        webhooks.create_subscription(ACTOR, "x", "ftp://example.com/", ["sale.recorded"])
    with pytest.raises(InvalidRequest):
        webhooks.create_subscription(ACTOR, "x", "https://example.com/", ["sale.bought"])
    subscription, _ = webhooks.create_subscription(ACTOR, "x", "https://example.com/", ["sale.recorded"])
    webhooks.update_subscription(ACTOR, subscription.id, active=False)
    terminal, card = scene
    sell(terminal, card)
    assert count(WebhookEvent) == 0
    webhooks.update_subscription(ACTOR, subscription.id, active=True, event_types=["sale.recorded", "card.blocked"])
    sell(terminal, card)
    webhooks.delete_subscription(ACTOR, subscription.id)
    assert [d["status"] for d in webhooks.list_deliveries({}, Page())] == ["cancelled"]
    actions = db.session.scalars(select(AuditLog.action).where(AuditLog.object_id == subscription.id)).all()
    assert sorted(set(actions)) == [
        "webhook_subscription.create",
        "webhook_subscription.delete",
        "webhook_subscription.update",
    ]


def test_points_expiring_is_emitted_with_a_masked_phone(ctx):
    from server.services import points

    make_world()
    alliance.update_points_policy(ACTOR, points_expiry_policy="months", points_expiry_months=1, expiry_notice_days=7)
    member, _card = make_member(points=500)
    webhooks.create_subscription(ACTOR, "CRM", "https://crm.example.com/", ["points.expiring"])
    lot_expiry = db.session.scalar(select(func.min(PointsLot.expires_on)))
    points.notify_expiring(lot_expiry - timedelta(days=1))
    (outbox_event,) = db.session.scalars(select(WebhookEvent)).all()
    assert outbox_event.payload == {
        "member_id": member.id,
        "phone_masked": member.phone_masked,
        "points": 500,
        "expires_on": lot_expiry.isoformat(),
    }


def test_the_cli_command_and_the_job_deliver(app, scene):
    from server.cli import main

    terminal, card = scene
    ok = Receiver()
    try:
        webhooks.create_subscription(ACTOR, "ERP", ok.url, ["sale.recorded"])
        sell(terminal, card)
        db.session.commit()
        result = app.test_cli_runner().invoke(main, ["webhooks", "deliver"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.output) == {"delivered": 1, "retrying": 0, "failed": 0}
        sell(terminal, card)
        result = app.test_cli_runner().invoke(main, ["jobs", "run", "--job", "deliver-webhooks"])
        assert json.loads(result.output)["delivered"] == 1, result.output
        assert len(ok.requests) == 2
    finally:
        ok.close()


def test_the_subscribed_types_are_a_per_worker_copy_current_at_the_next_transaction(ctx):
    from sqlalchemy import insert

    from server.models import WebhookSubscription
    from server.services import worker_copies
    from server.services.alliance import ensure_alliance

    ensure_alliance()  # the settings row carries the copies' version
    db.session.commit()
    assert webhooks.subscribers() == {}
    db.session.execute(  # as another worker would: no change flushed through this process's ORM
        insert(WebhookSubscription.__table__).values(
            id="whs_other",
            name="elsewhere",
            url="https://example.com/",
            event_types=["sale.recorded"],
            secret_ciphertext=b"x",
            status="active",
            created_by=ACTOR,
            created_at=utcnow(),
            updated_at=utcnow(),
        )
    )
    db.session.commit()
    assert webhooks.subscribers() == {}  # not through the ORM, the version unchanged: the copy holds
    db.session.commit()
    db.session.execute(worker_copies.BUMP)  # what a change through the ORM does in its transaction
    db.session.commit()
    assert webhooks.subscribers() == {"sale.recorded": ("whs_other",)}
