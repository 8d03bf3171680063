"""Webhooks: subscriptions, the event outbox every feature emits into, and the delivery worker.

A feature reports an event with one call in its own transaction::

    webhooks.emit(db.session, "sale.recorded", webhooks.sale_payload(sale))

``emit`` writes the event and one delivery per active subscription that wants its type, flushed with
the change that caused it: the event exists exactly when that change was committed. When no active
subscription wants the type (the usual case) it writes nothing: the set of subscribed types is a
per-worker copy, current in every worker from the next transaction after a subscription changed
(``server/services/worker_copies.py``).

:func:`deliver_pending` (the ``deliver-webhooks`` job, ``alliance-server webhooks deliver``) sends the
due deliveries: each under a row lock taken with ``FOR UPDATE SKIP LOCKED`` (PostgreSQL), so two workers
never send the same one, and only when no earlier delivery of the same subscription is still pending, so
a subscription receives its events in order. A failed attempt is retried after a doubling delay
(``domain.webhooks.retry_delay_seconds``) up to ``MAX_ATTEMPTS``; every attempt is logged.
"""

from __future__ import annotations

import json
import secrets
import time
from datetime import date, datetime, timedelta

import requests
from flask import current_app
from sqlalchemy import exists, insert, select, update
from sqlalchemy.orm import Session, aliased

from server.domain.errors import Conflict, InvalidRequest, NotFound
from server.domain.identifiers import mask_card_number
from server.domain.statuses import WebhookDeliveryStatus, WebhookSubscriptionStatus
from server.domain.webhooks import EVENT_TYPES, retry_delay_seconds, signature, unknown_event_types, url_problem
from server.extensions import db
from server.models import BenefitSku, WebhookAttempt, WebhookDelivery, WebhookEvent, WebhookSubscription
from server.models.base import new_id, utcnow
from server.security.pii import decrypt_text, encrypt_text
from server.services import worker_copies
from server.services.audit import audit, values_before
from server.services.queries import _page_of_objects, paginate
from server.services.unit_of_work import transactional

_SECRET_PURPOSE = b"webhook secret"
_CACHE = worker_copies.PREFIX + "webhook_subscriptions"
USER_AGENT = "AllianceCard-Webhooks/1"


def subscribers() -> dict[str, tuple[str, ...]]:
    """Event type → the active subscriptions that want it: the per-worker copy the hot path reads."""
    return worker_copies.copied(_CACHE, None, _subscribers)


def _subscribers() -> dict[str, tuple[str, ...]]:
    rows = db.session.execute(
        select(WebhookSubscription.id, WebhookSubscription.event_types)
        .where(WebhookSubscription.status == WebhookSubscriptionStatus.ACTIVE)
        .order_by(WebhookSubscription.id)
    ).all()
    wanted: dict[str, list[str]] = {}
    for subscription_id, event_types in rows:
        for name in event_types:
            wanted.setdefault(name, []).append(subscription_id)
    return {name: tuple(ids) for name, ids in wanted.items()}


# built once: the sale's path executes them with parameters only (no statement to build or compile per call)
_INSERT_EVENT = insert(WebhookEvent.__table__).returning(WebhookEvent.__table__.c.id)
_INSERT_DELIVERY = insert(WebhookDelivery.__table__)


def emit(session: Session, event_type: str, payload: dict) -> int | None:
    """Put an event in the outbox in the caller's transaction (executes, never commits); the event's row id.

    Nothing is written when no active subscription wants ``event_type``. ``payload`` is JSON-ready (ids,
    integers, ISO strings) and carries no more personal data than needed: no names, phones masked. The
    rows go in with two INSERT statements (not the ORM's unit of work): this runs inside every sale.
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {event_type!r}: add it to server.domain.webhooks.CATALOGUE")
    wanted = subscribers().get(event_type)
    if not wanted:
        return None
    now = utcnow()
    event_pk = session.execute(
        _INSERT_EVENT,
        {"event_id": new_id("evt"), "event_type": event_type, "payload": payload, "created_at": now},
    ).scalar_one()
    pending = WebhookDeliveryStatus.PENDING
    for subscription_id in wanted:
        session.execute(
            _INSERT_DELIVERY,
            {
                "delivery_id": new_id("whd"),
                "event_id": event_pk,
                "subscription_id": subscription_id,
                "status": pending,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            },
        )
    return event_pk


# --- payloads of the events this build emits (schemas: server/api/webhook_schemas.py) ---


def _iso(moment: datetime | date | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def sale_payload(sale) -> dict:
    """A recorded sale: amounts in fen, points, where and when; the member by id only."""
    names = (
        "merchant_id",
        "terminal_id",
        "member_id",
        "receipt_no",
        "amount_fen",
        "discount_fen",
        "redeem_points",
        "redeem_value_fen",
        "payable_fen",
        "points_earned",
        "payment_method",
        "offline",
    )
    return {"sale_id": sale.id, **{name: getattr(sale, name) for name in names}, "occurred_at": _iso(sale.occurred_at)}


def refund_payload(refund, sale) -> dict:
    """A refund: how much, the points reversed, restored and not recovered (no reason text: it is free text)."""
    names = ("merchant_id", "amount_fen", "points_reversed", "points_restored", "points_unrecovered", "payment_method")
    return {
        "refund_id": refund.id,
        "sale_id": sale.id,
        "member_id": sale.member_id,
        **{name: getattr(refund, name) for name in names},
        "created_at": _iso(refund.created_at or utcnow()),
    }


def card_blocked_payload(card, reason: str) -> dict:
    """A blocked card: its masked number, its member's id, the status it is in now and why (the action)."""
    return {
        "card_id": card.id,
        "card_no_masked": mask_card_number(card.card_no),
        "member_id": card.member_id,
        "status": str(card.status),
        "reason": reason,
        "blocked_at": _iso(card.status_changed_at or utcnow()),
    }


def points_expiring_payload(member_id: str, phone_masked: str, points: int, expires_on: date) -> dict:
    """Points that expire soon: the member by id and masked phone, how many points, on which day."""
    return {"member_id": member_id, "phone_masked": phone_masked, "points": points, "expires_on": _iso(expires_on)}


# --- subscriptions ---


def _secret(subscription: WebhookSubscription) -> str:
    return decrypt_text(subscription.secret_ciphertext, _SECRET_PURPOSE + subscription.id.encode())


def _check(url: str | None, event_types: list[str] | None) -> None:
    if url is not None and (problem := url_problem(url)):
        raise InvalidRequest("The address must be an http or https URL.", field="url", problem=problem)
    if event_types is not None:
        if not event_types:
            raise InvalidRequest("Choose at least one event type.", field="event_types")
        if unknown := unknown_event_types(event_types):
            raise InvalidRequest("Unknown event type.", field="event_types", unknown=unknown)


def get_subscription(subscription_id: str) -> WebhookSubscription:
    subscription = db.session.get(WebhookSubscription, subscription_id)
    if subscription is None or subscription.status == WebhookSubscriptionStatus.DELETED:
        raise NotFound("Webhook subscription not found.")
    return subscription


@transactional
def create_subscription(
    actor: str, name: str, url: str, event_types: list[str], active: bool = True
) -> tuple[WebhookSubscription, str]:
    """A new subscription and its signing secret (returned here only; stored encrypted)."""
    _check(url, event_types)
    subscription = WebhookSubscription(
        name=name.strip(),
        url=url,
        event_types=sorted(set(event_types)),
        status=WebhookSubscriptionStatus.ACTIVE if active else WebhookSubscriptionStatus.PAUSED,
        created_by=actor,
        secret_ciphertext=b"",
    )
    db.session.add(subscription)
    db.session.flush()
    secret = f"whsec_{secrets.token_urlsafe(24)}"
    subscription.secret_ciphertext = encrypt_text(secret, _SECRET_PURPOSE + subscription.id.encode())
    audit(
        actor,
        "webhook_subscription.create",
        "webhook_subscription",
        subscription.id,
        name=subscription.name,
        url=url,
        event_types=subscription.event_types,
        status=subscription.status,
    )
    return subscription, secret


@transactional
def update_subscription(actor: str, subscription_id: str, **fields) -> WebhookSubscription:
    """Change the name, address, event types or whether it is active (paused: its deliveries wait)."""
    subscription = get_subscription(subscription_id)
    _check(fields.get("url"), fields.get("event_types"))
    changes = {name: fields[name] for name in ("name", "url") if fields.get(name) is not None}
    if fields.get("event_types") is not None:
        changes["event_types"] = sorted(set(fields["event_types"]))
    if fields.get("active") is not None:
        changes["status"] = WebhookSubscriptionStatus.ACTIVE if fields["active"] else WebhookSubscriptionStatus.PAUSED
    before = values_before(subscription, changes)
    for name, value in changes.items():
        setattr(subscription, name, value)
    audit(actor, "webhook_subscription.update", "webhook_subscription", subscription.id, **changes, before=before)
    return subscription


@transactional
def delete_subscription(actor: str, subscription_id: str, reason: str = "") -> WebhookSubscription:
    """Stop a subscription for good: its pending deliveries are cancelled, its delivery log is kept."""
    subscription = get_subscription(subscription_id)
    subscription.status = WebhookSubscriptionStatus.DELETED
    db.session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.subscription_id == subscription.id,
            WebhookDelivery.status == WebhookDeliveryStatus.PENDING,
        )
        .values(status=WebhookDeliveryStatus.CANCELLED)
        .execution_options(synchronize_session=False)
    )
    audit(
        actor,
        "webhook_subscription.delete",
        "webhook_subscription",
        subscription.id,
        name=subscription.name,
        reason=reason,
    )
    return subscription


def list_subscriptions(pagination) -> list[WebhookSubscription]:
    """Subscriptions not deleted, oldest first."""
    query = select(WebhookSubscription).where(WebhookSubscription.status != WebhookSubscriptionStatus.DELETED)
    return _page_of_objects(query.order_by(WebhookSubscription.created_at, WebhookSubscription.id), pagination)


# --- the delivery log ---


def _delivery_view(delivery: WebhookDelivery, outbox_event: WebhookEvent) -> dict:
    return {
        "id": delivery.delivery_id,
        "subscription_id": delivery.subscription_id,
        "event_id": outbox_event.event_id,
        "event_type": outbox_event.event_type,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "next_attempt_at": delivery.next_attempt_at if delivery.status == WebhookDeliveryStatus.PENDING else None,
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
        "delivered_at": delivery.delivered_at,
        "created_at": delivery.created_at,
    }


def list_deliveries(filters: dict, pagination) -> list[dict]:
    """Deliveries by subscription, status and event type, newest first."""
    query = select(WebhookDelivery, WebhookEvent).join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
    for name in ("subscription_id", "status"):
        if filters.get(name):
            query = query.where(getattr(WebhookDelivery, name) == filters[name])
    if filters.get("event_type"):
        query = query.where(WebhookEvent.event_type == filters["event_type"])
    rows = paginate(query.order_by(WebhookDelivery.id.desc()), pagination)
    return [_delivery_view(delivery, outbox_event) for delivery, outbox_event in rows]


def _delivery(delivery_id: str, *, lock: bool = False) -> WebhookDelivery:
    query = select(WebhookDelivery).where(WebhookDelivery.delivery_id == delivery_id)
    delivery = db.session.scalar(query.with_for_update() if lock else query)
    if delivery is None:
        raise NotFound("Webhook delivery not found.")
    return delivery


def get_delivery(delivery_id: str) -> dict:
    """One delivery with its event's body and every attempt, oldest first."""
    delivery = _delivery(delivery_id)
    outbox_event = db.session.get(WebhookEvent, delivery.event_id)
    attempts = db.session.scalars(
        select(WebhookAttempt).where(WebhookAttempt.delivery_id == delivery.id).order_by(WebhookAttempt.id)
    ).all()
    return {**_delivery_view(delivery, outbox_event), "body": event_body(outbox_event).decode(), "log": attempts}


@transactional
def replay_delivery(actor: str, delivery_id: str, reason: str = "") -> dict:
    """Send a delivery again (same delivery id: a receiver that already has it ignores it); audit-logged.

    It becomes pending with a fresh count of attempts, in its place in the subscription's order.
    """
    delivery = _delivery(delivery_id, lock=True)
    subscription = db.session.get(WebhookSubscription, delivery.subscription_id)
    if subscription.status == WebhookSubscriptionStatus.DELETED:
        raise Conflict("The subscription of this delivery was deleted.")
    if delivery.status == WebhookDeliveryStatus.PENDING:
        raise Conflict("This delivery is still pending.")
    before = delivery.status
    delivery.status, delivery.attempts, delivery.next_attempt_at = WebhookDeliveryStatus.PENDING, 0, utcnow()
    audit(actor, "webhook_delivery.replay", "webhook_delivery", delivery.delivery_id, before=before, reason=reason)
    db.session.flush()
    return _delivery_view(delivery, db.session.get(WebhookEvent, delivery.event_id))


# --- delivery ---


def event_body(outbox_event: WebhookEvent) -> bytes:
    """The request body: the event's id, type, time and payload (``data``), compact JSON, keys sorted."""
    envelope = {
        "id": outbox_event.event_id,
        "type": outbox_event.event_type,
        "created_at": outbox_event.created_at.isoformat(),
        "data": outbox_event.payload,
    }
    return json.dumps(envelope, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def _due(now: datetime):
    earlier = aliased(WebhookDelivery)
    blocked = exists().where(
        earlier.subscription_id == WebhookDelivery.subscription_id,
        earlier.status == WebhookDeliveryStatus.PENDING,
        earlier.id < WebhookDelivery.id,
    )
    return (
        select(WebhookDelivery)
        .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
        .where(
            WebhookDelivery.status == WebhookDeliveryStatus.PENDING,
            WebhookDelivery.next_attempt_at <= now,
            WebhookSubscription.status == WebhookSubscriptionStatus.ACTIVE,
            ~blocked,
        )
        .order_by(WebhookDelivery.id)
        .limit(1)
        .with_for_update(skip_locked=True, of=WebhookDelivery)
    )


def _post(http, url: str, body: bytes, headers: dict, timeout: float) -> tuple[int | None, str | None]:
    """POST the body; (status code, error text or None when the receiver answered 2xx)."""
    try:
        response = http.post(url, data=body, headers=headers, timeout=timeout, allow_redirects=False)
    except requests.RequestException as exc:
        return None, f"no answer: {exc.__class__.__name__}"
    if 200 <= response.status_code < 300:
        return response.status_code, None
    return response.status_code, f"HTTP {response.status_code}: {response.text[:120]}"


def deliver_next(now: datetime | None = None, http: requests.Session | None = None) -> str | None:
    """Send the oldest due delivery no other worker holds; its outcome (None: nothing due), one commit.

    The row stays locked while its request is out, so another worker skips it (``SKIP LOCKED``), and the
    subscription's later deliveries wait for it (an earlier one is pending).
    """
    now = now or utcnow()
    delivery = db.session.scalar(_due(now))
    if delivery is None:
        db.session.commit()
        return None
    subscription = db.session.get(WebhookSubscription, delivery.subscription_id)
    outbox_event = db.session.get(WebhookEvent, delivery.event_id)
    body = event_body(outbox_event)
    timestamp = int(time.time())  # the moment it is sent: receivers compare it with their clock
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        "X-Alliance-Event": outbox_event.event_type,
        "X-Alliance-Event-Id": outbox_event.event_id,
        "X-Alliance-Delivery": delivery.delivery_id,
        "X-Alliance-Timestamp": str(timestamp),
        "X-Alliance-Signature": signature(_secret(subscription), timestamp, body),
    }
    started = time.monotonic()
    timeout = current_app.config["WEBHOOK_TIMEOUT_SECONDS"]
    status_code, error = _post(http or requests, subscription.url, body, headers, timeout)
    latency_ms = int((time.monotonic() - started) * 1000)
    delivery.attempts += 1
    delivery.last_status_code, delivery.last_error = status_code, error and error[:255]
    db.session.add(
        WebhookAttempt(
            delivery_id=delivery.id, status_code=status_code, latency_ms=latency_ms, error=error and error[:255]
        )
    )
    if error is None:
        delivery.status, delivery.delivered_at, outcome = WebhookDeliveryStatus.DELIVERED, utcnow(), "delivered"
    elif (delay := retry_delay_seconds(delivery.attempts)) is None:
        delivery.status, outcome = WebhookDeliveryStatus.FAILED, "failed"
    else:
        delivery.next_attempt_at, outcome = now + timedelta(seconds=delay), "retrying"
    db.session.commit()
    return outcome


def _cancel_orphans() -> None:
    """Cancel deliveries a worker queued for a subscription deleted elsewhere within its copy's 2 s (one commit)."""
    deleted = select(WebhookSubscription.id).where(WebhookSubscription.status == WebhookSubscriptionStatus.DELETED)
    db.session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.status == WebhookDeliveryStatus.PENDING, WebhookDelivery.subscription_id.in_(deleted))
        .values(status=WebhookDeliveryStatus.CANCELLED)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def deliver_pending(limit: int = 200, now: datetime | None = None) -> dict:
    """Send up to ``limit`` due deliveries, one transaction each; how many were delivered, will retry, failed."""
    counts = {"delivered": 0, "retrying": 0, "failed": 0}
    _cancel_orphans()
    with requests.Session() as http:  # connections kept alive between deliveries to the same receiver
        for _ in range(limit):
            outcome = deliver_next(now, http)
            if outcome is None:
                break
            counts[outcome] += 1
    return counts


def withdrawal_paid_payload(withdrawal) -> dict:
    """withdrawal.paid: what the agent received (after fee and tax), no payee details."""
    return {
        "withdrawal_id": withdrawal.id,
        "agent_id": withdrawal.agent_id,
        "amount_fen": withdrawal.net_fen,
        "paid_at": _iso(withdrawal.finished_at),
    }


def benefit_payload(
    code_id: str,
    sku_id: str,
    member_id: str | None,
    value_fen: int | None,
    occurred_at: datetime | None,
    *,
    channel: str | None = None,
    merchant_id: str | None = None,
    sale_id: str | None = None,
) -> dict:
    """benefit.issued / .redeemed / .expired: the code by id (never the code itself), its SKU and face value."""
    return {
        "benefit_id": code_id,
        "sku_id": sku_id,
        "member_id": member_id,
        "channel": channel,
        "merchant_id": merchant_id,
        "sale_id": sale_id,
        "value_fen": value_fen,
        "occurred_at": _iso(occurred_at or utcnow()),
    }


def benefit_issued_payload(grant) -> dict:
    """benefit.issued: a grant of any channel (registration, level-up, birthday, points, campaign, batch…)."""
    sku = db.session.get(BenefitSku, grant.sku_id)
    return benefit_payload(
        grant.code_id,
        grant.sku_id,
        grant.member_id,
        sku.face_value_fen if sku else None,
        grant.created_at,
        channel=grant.channel,
    )


def commission_available_payload(commission_id: int, agent_id: str, amount_fen: int, available_at) -> dict:
    """commission.available: an agent's commission released for withdrawal (what is left after refunds)."""
    return {
        "commission_id": str(commission_id),
        "agent_id": agent_id,
        "amount_fen": amount_fen,
        "available_at": _iso(available_at),
    }
