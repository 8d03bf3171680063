"""Request and response schemas of webhook subscriptions and deliveries, and the event catalogue's payloads.

Each event type's ``data`` is documented as a component (``WebhookPayload...``) of the OpenAPI document, with
the envelope every delivery's body has (``WebhookEventEnvelope``); docs/webhooks.md explains the headers.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from server.api.fields import StrictBoolean, Text
from server.api.operator_schemas import Choice, NotEmptyMixin
from server.domain.statuses import WebhookDeliveryStatus, WebhookSubscriptionStatus
from server.domain.webhooks import CATALOGUE, EVENT_TYPES, MAX_URL_LENGTH


def EventTypes(**kwargs) -> fields.List:  # noqa: N802 - reads like a field class
    """Event types of the catalogue, at least one (each one's payload: the components WebhookPayload...)."""
    return fields.List(Choice(EVENT_TYPES), validate=validate.Length(min=1, max=len(EVENT_TYPES)), **kwargs)


class WebhookSubscriptionSchema(Schema):
    id = fields.String()
    name = fields.String()
    url = fields.String()
    event_types = fields.List(Choice(EVENT_TYPES))
    status = Choice(
        (WebhookSubscriptionStatus.ACTIVE, WebhookSubscriptionStatus.PAUSED, WebhookSubscriptionStatus.DELETED)
    )
    created_by = fields.String()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class WebhookSubscriptionEnvelopeSchema(Schema):
    webhook_subscription = fields.Nested(WebhookSubscriptionSchema)


class IssuedWebhookSubscriptionSchema(Schema):
    webhook_subscription = fields.Nested(WebhookSubscriptionSchema)
    secret = fields.String(
        metadata={"description": "The signing secret, shown in this response only (store it at the receiver)"}
    )


# http(s), a host of letters, digits, dots and hyphens, an optional port, a path of printable ASCII (no spaces)
URL = validate.Regexp(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[!-~]*)?$", error="Not an http or https URL.")


def Url(**kwargs) -> fields.String:  # noqa: N802 - reads like a field class
    """The receiving URL (percent-encode anything outside printable ASCII)."""
    kwargs.setdefault("metadata", {"description": "http or https URL that receives the POSTs"})
    return fields.String(validate=[validate.Length(min=1, max=MAX_URL_LENGTH), URL], **kwargs)


class WebhookSubscriptionCreateSchema(Schema):
    name = Text(80, required=True)
    url = Url(required=True)
    event_types = EventTypes(required=True)
    active = StrictBoolean(load_default=True, metadata={"description": "false: created paused"})


class WebhookSubscriptionUpdateSchema(NotEmptyMixin, Schema):
    name = Text(80)
    url = Url()
    event_types = EventTypes()
    active = StrictBoolean(metadata={"description": "false pauses it: its deliveries wait until it is active"})


class WebhookDeliverySchema(Schema):
    id = fields.String(metadata={"description": "The delivery id (header X-Alliance-Delivery): the same on retries"})
    subscription_id = fields.String()
    event_id = fields.String(metadata={"description": "The event id (header X-Alliance-Event-Id)"})
    event_type = Choice(EVENT_TYPES)
    status = Choice(WebhookDeliveryStatus)
    attempts = fields.Integer()
    next_attempt_at = fields.DateTime(allow_none=True, metadata={"description": "When it is tried next (pending)"})
    last_status_code = fields.Integer(allow_none=True)
    last_error = fields.String(allow_none=True)
    delivered_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


class WebhookDeliveryEnvelopeSchema(Schema):
    delivery = fields.Nested(WebhookDeliverySchema)


class WebhookDeliveryQuerySchema(Schema):
    subscription_id = Text(24)
    status = Choice(WebhookDeliveryStatus)
    event_type = Choice(EVENT_TYPES)


# --- the event catalogue: the body of a delivery and each type's ``data`` ---


class WebhookEventEnvelopeSchema(Schema):
    """The JSON body POSTed to a subscription: compact, keys sorted, signed (docs/webhooks.md)."""

    id = fields.String(metadata={"description": "The event id (evt_...); the same for every subscription"})
    type = Choice(EVENT_TYPES)
    created_at = fields.DateTime()
    data = fields.Dict(metadata={"description": "The payload of the type: component WebhookPayload<Type>"})


class SaleRecordedPayloadSchema(Schema):
    """sale.recorded: a sale was recorded (online, or an offline sale replayed)."""

    sale_id = fields.String()
    merchant_id = fields.String()
    terminal_id = fields.String()
    member_id = fields.String()
    receipt_no = fields.String()
    amount_fen = fields.Integer()
    discount_fen = fields.Integer()
    redeem_points = fields.Integer()
    redeem_value_fen = fields.Integer()
    payable_fen = fields.Integer()
    points_earned = fields.Integer()
    payment_method = fields.String()
    offline = fields.Boolean()
    occurred_at = fields.DateTime()


class RefundRecordedPayloadSchema(Schema):
    """refund.recorded: a sale was refunded in part or in full."""

    refund_id = fields.String()
    sale_id = fields.String()
    member_id = fields.String()
    merchant_id = fields.String()
    amount_fen = fields.Integer()
    points_reversed = fields.Integer()
    points_restored = fields.Integer()
    points_unrecovered = fields.Integer()
    payment_method = fields.String()
    created_at = fields.DateTime()


class PointsExpiringPayloadSchema(Schema):
    """points.expiring: a member's points expire soon (once per member and expiry date)."""

    member_id = fields.String()
    phone_masked = fields.String(metadata={"description": "138****8000"})
    points = fields.Integer()
    expires_on = fields.Date()


class CardBlockedPayloadSchema(Schema):
    """card.blocked: a card was blocked."""

    card_id = fields.String()
    card_no_masked = fields.String(metadata={"description": "8860 **** **** 5678"})
    member_id = fields.String(allow_none=True)
    status = fields.String(metadata={"description": "lost, frozen, replaced or cancelled"})
    reason = Choice(("report_lost", "freeze", "replace", "cancel", "suspected_copy"))
    blocked_at = fields.DateTime()


class BenefitPayloadSchema(Schema):
    """benefit.issued / benefit.redeemed / benefit.expired: a member's benefit changed (emitted by the benefits
    area)."""

    benefit_id = fields.String()
    sku_id = fields.String()
    member_id = fields.String()
    channel = fields.String(allow_none=True)
    merchant_id = fields.String(allow_none=True, metadata={"description": "Where it was redeemed"})
    sale_id = fields.String(allow_none=True)
    value_fen = fields.Integer(allow_none=True)
    occurred_at = fields.DateTime()


class BenefitIssuedPayloadSchema(BenefitPayloadSchema):
    """benefit.issued: a benefit was issued to a member."""


class BenefitRedeemedPayloadSchema(BenefitPayloadSchema):
    """benefit.redeemed: a member's benefit was redeemed."""


class BenefitExpiredPayloadSchema(BenefitPayloadSchema):
    """benefit.expired: a member's benefit expired unused."""


class CommissionAvailablePayloadSchema(Schema):
    """commission.available: an agent's commission can be withdrawn (emitted by the agents' commissions)."""

    commission_id = fields.String()
    agent_id = fields.String()
    amount_fen = fields.Integer()
    available_at = fields.DateTime()


class WithdrawalPaidPayloadSchema(Schema):
    """withdrawal.paid: an agent's withdrawal was paid."""

    withdrawal_id = fields.String()
    agent_id = fields.String()
    amount_fen = fields.Integer(metadata={"description": "What the agent received: the amount less fee and tax"})
    paid_at = fields.DateTime()


EVENT_PAYLOADS: dict[str, type[Schema]] = {
    "sale.recorded": SaleRecordedPayloadSchema,
    "refund.recorded": RefundRecordedPayloadSchema,
    "points.expiring": PointsExpiringPayloadSchema,
    "card.blocked": CardBlockedPayloadSchema,
    "benefit.issued": BenefitIssuedPayloadSchema,
    "benefit.redeemed": BenefitRedeemedPayloadSchema,
    "benefit.expired": BenefitExpiredPayloadSchema,
    "commission.available": CommissionAvailablePayloadSchema,
    "withdrawal.paid": WithdrawalPaidPayloadSchema,
}
if set(EVENT_PAYLOADS) != set(EVENT_TYPES):
    raise RuntimeError("every event type of server.domain.webhooks.CATALOGUE needs its payload schema here")


def payload_component(event_type: str) -> str:
    """``sale.recorded`` → ``WebhookPayloadSaleRecorded``."""
    return "WebhookPayload" + "".join(part.capitalize() for part in event_type.replace(".", "_").split("_"))


def document_events(spec) -> None:
    """Add the envelope and every event type's payload to the OpenAPI document's components."""
    spec.components.schema("WebhookEventEnvelope", schema=WebhookEventEnvelopeSchema)
    for event in CATALOGUE:
        name = payload_component(event.name)
        later = "" if event.emitted else " (in the catalogue; emitted once its feature is built)"
        spec.components.schema(
            name, {"description": f"{event.name}: {event.description}{later}"}, schema=EVENT_PAYLOADS[event.name]
        )
