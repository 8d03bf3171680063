"""Cards and card batches as they exist: lists, batch progress, alerts, and the lifecycle actions."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from server.console import navigation
from server.console.access import current_actor, operators_only, permission_required
from server.console.forms import CardActionForm
from server.console.paging import Page, page_from_request
from server.domain.errors import DomainError
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
CARD_STATUSES = ("created", "encoding", "issued", "active", "lost", "frozen", "replaced", "cancelled")
ACTIONS = {"lost": cards.report_lost, "freeze": cards.freeze, "unfreeze": cards.unfreeze, "cancel": cards.cancel}


@blp.route("/cards")
@permission_required("cards:read")
@operators_only
def index():
    """Cards by status or number, in number order, with open alerts on top."""
    filters = {
        "status": request.args.get("status") or None,
        "card_no": request.args.get("card_no", "").strip() or None,
    }
    page = page_from_request()
    rows = queries.list_cards(filters, page)
    alerts = cards.list_alerts(Page(1, 10))
    return render_template(
        "console/cards/index.html", cards=rows, page=page, filters=filters, statuses=CARD_STATUSES, alerts=alerts
    )


@blp.route("/cards/<card_id>", methods=["GET", "POST"])
@permission_required("cards:read")
@operators_only
def detail(card_id):
    """One card; card staff may report it lost, freeze, unfreeze or cancel it (audited)."""
    card = cards.get_card(card_id)
    form = CardActionForm()
    if request.method == "POST":
        if not current_actor().can("cards:write"):
            abort(403)
        action = ACTIONS.get(request.form.get("action", ""))
        if action is None or not form.validate():
            abort(400)
        try:
            action(current_actor().key, card.card_no, form.reason.data or "")
        except DomainError as exc:
            flash(_(exc.message), "danger")
        else:
            flash(_("Card %(no)s updated.", no=card.card_no), "success")
        return redirect(url_for(".detail", card_id=card.id))
    return render_template("console/cards/detail.html", card=card, form=form)


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
    status = request.args.get("status") or None
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
