"""Cards and card batches as they exist: lists, batch progress, alerts, and the lifecycle actions."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from server.console import navigation
from server.console.access import current_actor, operators_only, permission_required
from server.console.confirm import Confirmation, confirm_form, confirm_page
from server.console.display import STATUS_LABELS, domain_message
from server.console.paging import Page, choice_arg, page_from_request
from server.domain import card_actions
from server.domain.errors import DomainError
from server.domain.statuses import CardStatus
from server.services import cards, queries

blp = Blueprint("cards", __name__)
navigation.add(
    navigation.NavItem(
        "console.cards.index", _l("Cards"), "credit-card-2-front", "cards:read", order=40, operators_only=True
    )
)
navigation.add(
    navigation.NavItem(
        "console.cards.batches",
        _l("Card batches"),
        "boxes",
        "cards:read",
        order=41,
        operators_only=True,
        pages=("console.cards.batch",),
    )
)
CARD_STATUSES = tuple(CardStatus)
ACTIONS = {"lost": cards.report_lost, "freeze": cards.freeze, "unfreeze": cards.unfreeze, "cancel": cards.cancel}
ACTION_TEXTS = {  # button, confirmation title, what happens
    "lost": (
        _l("Report lost"),
        _l("Report card %(no)s lost"),
        _l("The card stops working at once; the member keeps the points."),
    ),
    "freeze": (_l("Freeze"), _l("Freeze card %(no)s"), _l("The card stops working until it is unfrozen.")),
    "unfreeze": (_l("Unfreeze"), _l("Unfreeze card %(no)s"), _l("The card works again at every shop.")),
    "cancel": (
        _l("Cancel card"),
        _l("Cancel card %(no)s"),
        _l("The card stops working for good. This cannot be undone."),
    ),
}


@blp.route("/cards")
@permission_required("cards:read")
@operators_only
def index():
    """Cards by status or number, in number order, with open alerts on top."""
    filters = {
        "status": choice_arg("status", CARD_STATUSES, _("Status")),
        "card_no": request.args.get("card_no", "").strip() or None,
    }
    page = page_from_request()
    rows = queries.list_cards(filters, page)
    alerts = cards.list_alerts(Page(1, 10))
    return render_template(
        "console/cards/index.html", cards=rows, page=page, filters=filters, statuses=CARD_STATUSES, alerts=alerts
    )


@blp.route("/cards/<card_id>")
@permission_required("cards:read")
@operators_only
def detail(card_id):
    """One card, with the status changes its status allows (for card staff)."""
    card = cards.get_card(card_id)
    actions = [(action, ACTION_TEXTS[action][0]) for action in card_actions.actions_for(card.status)]
    return render_template("console/cards/detail.html", card=card, actions=actions)


@blp.route("/cards/<card_id>/<any(lost, freeze, unfreeze, cancel):action>", methods=["GET", "POST"])
@permission_required("cards:write")
@operators_only
def change(card_id, action):
    """Report lost, freeze, unfreeze or cancel a card: confirmed with a reason (audited)."""
    card = cards.get_card(card_id)
    if not card_actions.allows(action, card.status):  # e.g. an old page: the card has changed since
        flash(
            _(
                "Card %(no)s is %(status)s: this is not possible now.",
                no=card.card_no,
                status=STATUS_LABELS[card.status],
            ),
            "warning",
        )
        return redirect(url_for(".detail", card_id=card.id))
    button, title, warning = ACTION_TEXTS[action]
    confirmation = Confirmation(
        title=title % {"no": card.card_no},
        subject=_("Card %(no)s", no=card.card_no),
        warning=str(warning),
        button=str(button),
        action_url=url_for(".change", card_id=card.id, action=action),
        back_url=url_for(".detail", card_id=card.id),
    )
    form = confirm_form()
    if request.method == "GET" or not form.validate_on_submit():
        return confirm_page(confirmation, form)
    try:
        ACTIONS[action](current_actor().key, card.card_no, form.reason.data)
    except DomainError as exc:
        flash(domain_message(exc), "danger")
    else:
        flash(_("Card %(no)s updated.", no=card.card_no), "success")
    return redirect(url_for(".detail", card_id=card.id))


@blp.route("/card-batches")
@permission_required("cards:read")
@operators_only
def batches():
    """Card batches, newest first, with their encoding progress."""
    page = page_from_request()
    rows = cards.list_batches(page)
    progress = cards.batches_progress([batch.id for batch in rows])
    return render_template("console/cards/batches.html", batches=rows, progress=progress, page=page)


@blp.route("/card-batches/<batch_id>")
@permission_required("cards:read")
@operators_only
def batch(batch_id):
    """One batch with its cards."""
    found = cards.get_batch(batch_id)
    page = page_from_request(50)
    status = choice_arg("status", CARD_STATUSES, _("Status"))
    rows = cards.list_batch_cards(found.id, page, status)
    return render_template(
        "console/cards/batch.html",
        batch=found,
        cards=rows,
        page=page,
        progress=cards.batch_progress(found.id),
        statuses=CARD_STATUSES,
        status=status,
    )
