"""Webhooks: subscriptions, the event outbox, one delivery per event and subscription, and every attempt."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.domain.statuses import WebhookDeliveryStatus, WebhookSubscriptionStatus
from server.models.base import Base, created_column, id_column, new_id, status_column, utcnow

_SERIAL = BigInteger().with_variant(Integer, "sqlite")


class WebhookSubscription(Base):
    """A partner's or another system's URL that receives the events it names, signed with its secret.

    The secret is stored encrypted (AES-GCM, ``server/security/pii.encrypt_text``): the server must sign
    with it. A deleted subscription is kept (status ``deleted``) for its delivery log.
    """

    __tablename__ = "webhook_subscriptions"

    id: Mapped[str] = id_column("whs")
    name: Mapped[str] = mapped_column(String(80))
    url: Mapped[str] = mapped_column(String(500))
    event_types: Mapped[list] = mapped_column(JSON, default=list)
    secret_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = status_column(WebhookSubscriptionStatus, WebhookSubscriptionStatus.ACTIVE)
    created_by: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class WebhookEvent(Base):
    """An event in the outbox, written in the transaction of the change it reports (only when subscribed)."""

    __tablename__ = "webhook_events"

    id: Mapped[int] = mapped_column(_SERIAL, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(24), unique=True, default=lambda: new_id("evt"))
    event_type: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = created_column()


class WebhookDelivery(Base):
    """One event for one subscription: its id (the receiver's idempotency key), state and last answer.

    Deliveries of a subscription go out in ``id`` order: one is sent only when no earlier one is pending.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("subscription_id", "event_id"),
        Index("ix_webhook_deliveries_subscription_status", "subscription_id", "status", "id"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(_SERIAL, primary_key=True)
    delivery_id: Mapped[str] = mapped_column(String(24), unique=True, default=lambda: new_id("whd"))
    event_id: Mapped[int] = mapped_column(_SERIAL, ForeignKey("webhook_events.id"))
    subscription_id: Mapped[str] = mapped_column(ForeignKey("webhook_subscriptions.id"))
    status: Mapped[str] = status_column(WebhookDeliveryStatus, WebhookDeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_status_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(String(255))
    delivered_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_column()


class WebhookAttempt(Base):
    """One attempt to deliver: when, the HTTP status (None: no answer), how long it took, what went wrong."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(_SERIAL, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(_SERIAL, ForeignKey("webhook_deliveries.id"), index=True)
    attempted_at: Mapped[datetime] = created_column()
    status_code: Mapped[int | None]
    latency_ms: Mapped[int]
    error: Mapped[str | None] = mapped_column(String(255))
