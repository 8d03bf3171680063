"""Webhook subscriptions and the delivery log (admin only): the event catalogue is in the components."""

from __future__ import annotations

from flask.views import MethodView

from server.api.auth import STAFF_SECURITY, require_staff, staff_only
from server.api.blueprint import Blueprint
from server.api.idempotent import IDEMPOTENCY_PARAMETER, idempotent
from server.api.webhook_schemas import (
    IssuedWebhookSubscriptionSchema,
    WebhookDeliveryEnvelopeSchema,
    WebhookDeliveryQuerySchema,
    WebhookDeliverySchema,
    WebhookSubscriptionCreateSchema,
    WebhookSubscriptionEnvelopeSchema,
    WebhookSubscriptionSchema,
    WebhookSubscriptionUpdateSchema,
)
from server.services import webhooks

blp = Blueprint(
    "operator_webhooks",
    __name__,
    url_prefix="/api/v1",
    description="Webhooks: subscriptions to events and their delivery log (docs/webhooks.md)",
)
blp.before_request(staff_only)
READ, WRITE = "webhooks:read", "webhooks:write"


@blp.route("/webhook-subscriptions")
class WebhookSubscriptions(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.response(200, WebhookSubscriptionSchema(many=True))
    @blp.paginate()
    def get(self, pagination_parameters):
        """Subscriptions (not deleted), oldest first."""
        require_staff(READ)
        return webhooks.list_subscriptions(pagination_parameters)

    @blp.doc(security=STAFF_SECURITY, parameters=[IDEMPOTENCY_PARAMETER])
    @blp.arguments(WebhookSubscriptionCreateSchema)
    @blp.response(201, IssuedWebhookSubscriptionSchema)
    def post(self, args):
        """Subscribe a URL to event types; the signing secret is in this response only (idempotent, audited)."""
        actor = require_staff(WRITE)

        def work():
            subscription, secret = webhooks.create_subscription(actor.key, **args)
            return {"webhook_subscription": subscription, "secret": secret}

        return idempotent(actor, work, sealed_field="secret")


@blp.route("/webhook-subscriptions/<subscription_id>")
class WebhookSubscriptionDetail(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.arguments(WebhookSubscriptionUpdateSchema)
    @blp.response(200, WebhookSubscriptionEnvelopeSchema)
    def patch(self, args, subscription_id):
        """Change the name, URL, event types or pause/resume it (audited)."""
        actor = require_staff(WRITE)
        return {"webhook_subscription": webhooks.update_subscription(actor.key, subscription_id, **args)}

    @blp.doc(security=STAFF_SECURITY)
    @blp.response(200, WebhookSubscriptionEnvelopeSchema)
    def delete(self, subscription_id):
        """Delete it: no more events, its pending deliveries are cancelled, its log is kept (audited)."""
        actor = require_staff(WRITE)
        return {"webhook_subscription": webhooks.delete_subscription(actor.key, subscription_id)}


@blp.route("/webhook-deliveries")
class WebhookDeliveries(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.arguments(WebhookDeliveryQuerySchema, location="query")
    @blp.response(200, WebhookDeliverySchema(many=True))
    @blp.paginate()
    def get(self, filters, pagination_parameters):
        """The delivery log by subscription, status and event type, newest first."""
        require_staff(READ)
        return webhooks.list_deliveries(filters, pagination_parameters)


@blp.route("/webhook-deliveries/<delivery_id>/replay")
class WebhookDeliveryReplay(MethodView):
    @blp.doc(security=STAFF_SECURITY, parameters=[IDEMPOTENCY_PARAMETER])
    @blp.response(200, WebhookDeliveryEnvelopeSchema)
    def post(self, delivery_id):
        """Send a delivered or failed delivery again, with the same delivery id (idempotent, audited)."""
        actor = require_staff(WRITE)
        return idempotent(actor, lambda: {"delivery": webhooks.replay_delivery(actor.key, delivery_id)})
