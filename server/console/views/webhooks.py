"""Webhooks (系统集成): subscriptions (secret shown once), the delivery log with each attempt, and replay."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from server.console import navigation
from server.console.access import can, current_actor, permission_required
from server.console.confirm import Confirmation, confirm_form, confirm_page
from server.console.display import domain_message
from server.console.once import new_key, run_once
from server.console.paging import Page, choice_arg, page_from_request
from server.console.webhook_forms import EVENT_LABELS, WebhookSubscriptionForm
from server.domain.errors import DomainError
from server.domain.statuses import WebhookDeliveryStatus
from server.services import webhooks

blp = Blueprint("webhooks", __name__)
READ, WRITE = "webhooks:read", "webhooks:write"
GROUP = _l("Integrations")  # the menu's 系统集成 group
navigation.add(
    navigation.NavItem(
        "console.webhooks.index",
        _l("Webhook subscriptions"),
        "broadcast",
        READ,
        order=96,
        operators_only=True,
        group=GROUP,
        pages=("console.webhooks.index", "console.webhooks.create", "console.webhooks.edit", "console.webhooks.delete"),
    )
)
navigation.add(
    navigation.NavItem(
        "console.webhooks.deliveries",
        _l("Webhook deliveries"),
        "send-check",
        READ,
        order=97,
        operators_only=True,
        group=GROUP,
        pages=("console.webhooks.deliveries", "console.webhooks.delivery", "console.webhooks.replay"),
    )
)
DELIVERY_STATUS_LABELS = {
    WebhookDeliveryStatus.PENDING: _l("Waiting to be sent"),
    WebhookDeliveryStatus.DELIVERED: _l("Delivered"),
    WebhookDeliveryStatus.FAILED: _l("Failed (gave up)"),
    WebhookDeliveryStatus.CANCELLED: _l("Cancelled"),
}
DELIVERY_STATUS_COLORS = {"pending": "warning", "delivered": "success", "failed": "danger", "cancelled": "secondary"}


def _labels() -> dict:
    return {
        "event_labels": EVENT_LABELS,
        "delivery_labels": DELIVERY_STATUS_LABELS,
        "delivery_colors": DELIVERY_STATUS_COLORS,
    }


def _index(form: WebhookSubscriptionForm | None = None, status: int = 200):
    page = page_from_request()
    subscriptions = webhooks.list_subscriptions(page)
    if form is None:
        form = WebhookSubscriptionForm(formdata=None, once=new_key())
    return render_template(
        "console/webhooks/index.html", subscriptions=subscriptions, page=page, form=form, **_labels()
    ), status


@blp.route("/webhooks")
@permission_required(READ)
def index():
    """The subscriptions and, for admins, the form to add one."""
    return _index()


@blp.route("/webhooks", methods=["POST"])
@permission_required(WRITE)
def create():
    """Add a subscription and show its signing secret, once (audited)."""
    form = WebhookSubscriptionForm()
    if not form.validate_on_submit():
        return _index(form, 422)
    issued = []

    def work():
        subscription, secret = webhooks.create_subscription(
            current_actor().key, form.name.data, form.url.data, form.event_types.data, form.active.data
        )
        issued.append(secret)
        return {"subscription_id": subscription.id}  # the secret is never stored in the replay record

    try:
        done = run_once(form.once.data, work)
    except DomainError as exc:
        flash(domain_message(exc), "danger")
        return _index(form, exc.status)
    subscription = webhooks.get_subscription(done.body["subscription_id"])
    return render_template(
        "console/webhooks/issued.html", subscription=subscription, secret=issued[0] if issued else None
    )


@blp.route("/webhooks/<subscription_id>", methods=["GET", "POST"])
@permission_required(READ)
def edit(subscription_id):
    """A subscription: its settings (admins change them, audited) and its latest deliveries."""
    subscription = webhooks.get_subscription(subscription_id)
    form = WebhookSubscriptionForm(obj=subscription)
    if request.method == "GET":
        form.active.data = subscription.status == "active"
    elif can(WRITE) and form.validate_on_submit():
        try:
            webhooks.update_subscription(
                current_actor().key,
                subscription.id,
                name=form.name.data,
                url=form.url.data,
                event_types=form.event_types.data,
                active=form.active.data,
            )
        except DomainError as exc:
            flash(domain_message(exc), "danger")
        else:
            flash(_("Saved."), "success")
            return redirect(url_for(".edit", subscription_id=subscription.id))
    recent = webhooks.list_deliveries({"subscription_id": subscription.id}, Page(1, 10))
    return render_template(
        "console/webhooks/edit.html", subscription=subscription, form=form, recent=recent, **_labels()
    ), (422 if form.errors else 200)


@blp.route("/webhooks/<subscription_id>/delete", methods=["GET", "POST"])
@permission_required(WRITE)
def delete(subscription_id):
    """Delete a subscription after a confirmation with the reason: its waiting deliveries are cancelled."""
    subscription = webhooks.get_subscription(subscription_id)
    form = confirm_form()
    if request.method == "GET" or not form.validate_on_submit():
        confirmation = Confirmation(
            title=_("Delete webhook subscription"),
            subject=f"{subscription.name} · {subscription.url}",
            warning=_("It receives no more events; deliveries still waiting are cancelled. Its log is kept."),
            button=_("Delete subscription"),
            action_url=url_for(".delete", subscription_id=subscription.id),
            back_url=url_for(".edit", subscription_id=subscription.id),
        )
        return confirm_page(confirmation, form)
    webhooks.delete_subscription(current_actor().key, subscription.id, form.reason.data)
    flash(_("Webhook subscription %(name)s deleted.", name=subscription.name), "success")
    return redirect(url_for(".index"))


@blp.route("/webhook-deliveries")
@permission_required(READ)
def deliveries():
    """The delivery log, newest first, by subscription and status."""
    page = page_from_request()
    status = choice_arg("status", [str(s) for s in WebhookDeliveryStatus], _("Status"))
    subscription_id = request.args.get("subscription_id", "").strip()[:24] or None
    rows = webhooks.list_deliveries({"status": status, "subscription_id": subscription_id}, page)
    names = {s.id: s.name for s in webhooks.list_subscriptions(Page(1, 200))}
    return render_template(
        "console/webhooks/deliveries.html",
        deliveries=rows,
        page=page,
        status=status,
        subscription_id=subscription_id,
        names=names,
        **_labels(),
    )


@blp.route("/webhook-deliveries/<delivery_id>")
@permission_required(READ)
def delivery(delivery_id):
    """One delivery: the body sent and every attempt (status code, time taken, error)."""
    return render_template("console/webhooks/delivery.html", delivery=webhooks.get_delivery(delivery_id), **_labels())


@blp.route("/webhook-deliveries/<delivery_id>/replay", methods=["GET", "POST"])
@permission_required(WRITE)
def replay(delivery_id):
    """Send a delivery again, after a confirmation with the reason (audited); same delivery id."""
    found = webhooks.get_delivery(delivery_id)
    form = confirm_form()
    if request.method == "GET" or not form.validate_on_submit():
        confirmation = Confirmation(
            title=_("Send the delivery again"),
            subject=f"{EVENT_LABELS[found['event_type']]} · {found['id']}",
            warning=_(
                "The receiver gets the event again with the same delivery id; a receiver that has it ignores it."
            ),
            button=_("Send again"),
            action_url=url_for(".replay", delivery_id=delivery_id),
            back_url=url_for(".delivery", delivery_id=delivery_id),
        )
        return confirm_page(confirmation, form)
    try:
        webhooks.replay_delivery(current_actor().key, delivery_id, form.reason.data)
    except DomainError as exc:
        flash(domain_message(exc), "danger")
    else:
        flash(_("The delivery will be sent again."), "success")
    return redirect(url_for(".delivery", delivery_id=delivery_id))
