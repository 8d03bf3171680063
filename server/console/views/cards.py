"""Cards and card batches: lists, new batches (printed or chip) and their print files, hand-out (binding),
replacement, progress, alerts, each card's history, and the lifecycle actions."""

from __future__ import annotations

import io

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from alliance_shared.print_files import PrintCard, write_csv, write_pdf
from server.console import navigation
from server.console.access import current_actor, operators_only, permission_required
from server.console.audit_text import describe
from server.console.card_forms import BatchForm, BindToMemberForm, ConsignForm, HandOutForm, ReplaceWithForm
from server.console.confirm import Confirmation, confirm_form, confirm_page
from server.console.display import STATUS_LABELS, domain_message, level_label
from server.console.once import new_key, run_once
from server.console.paging import Page, choice_arg, page_from_request
from server.domain import card_actions
from server.domain.errors import DomainError, MemberNotFound
from server.domain.statuses import CardBatchKind, CardStatus
from server.services import cards, catalog, members, queries, recruitment

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
BATCH_KIND_NAMES = {CardBatchKind.PRINTED: _l("Printed cards"), CardBatchKind.CHIP: _l("Chip cards")}


@blp.app_template_global("batch_kind_label")
def batch_kind_label(kind: str) -> str:
    """A batch's kind in the reader's language."""
    return str(BATCH_KIND_NAMES.get(kind, kind))


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
    return _card_page(cards.get_card(card_id))


def _card_page(card, bind=None, replace=None, status=200):
    """A card's page: its details, status changes, binding or replacement, and its history."""
    actions = [(action, ACTION_TEXTS[action][0]) for action in card_actions.actions_for(card.status)]
    bindable = card.status == CardStatus.ISSUED and card.member_id is None
    replaceable = card.member_id is not None and card.status not in {CardStatus.REPLACED, CardStatus.CANCELLED}
    page = render_template(
        "console/cards/detail.html",
        card=card,
        actions=actions,
        bind=(bind or BindToMemberForm(formdata=None, once=new_key())) if bindable else None,
        replace=(replace or ReplaceWithForm(formdata=None, once=new_key())) if replaceable else None,
        history=[(entry, describe(entry)) for entry in cards.card_history(card)],
    )
    return page, status


@blp.route("/cards/<card_id>/bind", methods=["POST"])
@permission_required("cards:write")
@operators_only
def bind(card_id):
    """Bind an issued card (chip or printed) to the member with this phone number (audited); hand-out at a desk."""
    card = cards.get_card(card_id)
    form = BindToMemberForm()
    if not form.validate_on_submit():
        return _card_page(card, bind=form, status=422)
    refused = _bind_to_phone(form, card.card_no)
    if refused:
        return _card_page(card, bind=form, status=refused)
    flash(_("Card %(no)s bound.", no=card.card_no), "success")
    return redirect(url_for(".detail", card_id=card.id))


def _bind_to_phone(form: BindToMemberForm, card_no: str) -> int | None:
    """Bind ``card_no`` to the member whose phone the form names; the refusal's status, or None when bound."""
    try:
        member = members.find_member_by_phone(form.phone.data)
        run_once(form.once.data, lambda: {"card": members.bind_card(current_actor().key, member.id, card_no).id})
    except MemberNotFound:
        form.phone.errors.append(_("No member has this phone number: register the member first."))
        return 422
    except DomainError as exc:
        flash(domain_message(exc), "danger")
        return 409
    return None


@blp.route("/cards/<card_id>/replace", methods=["POST"])
@permission_required("cards:write")
@operators_only
def replace(card_id):
    """补卡: a new issued card (chip or printed) takes over this card's member; this one is blocked for good."""
    card = cards.get_card(card_id)
    form = ReplaceWithForm()
    if not form.validate_on_submit():
        return _card_page(card, replace=form, status=422)
    new_no = form.new_card_no.data.replace(" ", "")
    try:
        done = run_once(form.once.data, lambda: {"card": cards.replace(current_actor().key, card.card_no, new_no).id})
    except DomainError as exc:
        flash(domain_message(exc), "danger")
        return _card_page(card, replace=form, status=409)
    flash(_("Card %(old)s replaced by card %(new)s.", old=card.card_no, new=new_no), "success")
    return redirect(url_for(".detail", card_id=done.body["card"]))


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
    return _batches_page()


def _level_choices() -> list[tuple[str, str]]:
    levels = catalog.levels_by_rank()
    return [("", _("None (the member keeps their level)")), *((level.code, level_label(level)) for level in levels)]


def _batches_page(form: BatchForm | None = None, status: int = 200):
    page = page_from_request()
    rows = cards.list_batches(page)
    progress = cards.batches_progress([batch.id for batch in rows])
    form = form or BatchForm(formdata=None, once=new_key())
    form.level.choices = _level_choices()
    page_html = render_template(
        "console/cards/batches.html", batches=rows, progress=progress, page=page, form=form, done=_done
    )
    return page_html, status


def _done(batch, progress: dict[str, int]) -> int:
    """How far a batch is: chip cards encoded, printed cards handed out (bound)."""
    if batch.kind == CardBatchKind.PRINTED:
        return batch.count - progress.get(CardStatus.ISSUED, 0)
    return batch.count - progress.get(CardStatus.CREATED, 0) - progress.get(CardStatus.ENCODING, 0)


@blp.route("/card-batches/new", methods=["POST"])
@permission_required("cards:write")
@operators_only
def create_batch():
    """Create a batch of printed or chip cards (audited); its page offers the print files."""
    form = BatchForm()
    form.level.choices = _level_choices()
    if not form.validate_on_submit():
        return _batches_page(form, 422)
    try:
        done = run_once(
            form.once.data,
            lambda: {
                "batch": cards.create_batch(
                    current_actor().key,
                    form.count.data,
                    level_code=form.level.data or None,
                    name=form.name.data,
                    kind=form.kind.data,
                ).id
            },
        )
    except DomainError as exc:
        flash(domain_message(exc), "danger")
        return _batches_page(form, 409)
    flash(_("Card batch created."), "success")
    return redirect(url_for(".batch", batch_id=done.body["batch"]))


@blp.route("/card-batches/<batch_id>")
@permission_required("cards:read")
@operators_only
def batch(batch_id):
    """One batch with its cards, its print files, and how to encode it or hand its cards out."""
    return _batch_page(cards.get_batch(batch_id))


@blp.route("/card-batches/<batch_id>/hand-out", methods=["POST"])
@permission_required("cards:write")
@operators_only
def hand_out(batch_id):
    """Bind a card of this batch, by its number (typed or scanned), to the member with this phone (audited)."""
    found = cards.get_batch(batch_id)
    form = HandOutForm()
    if not form.validate_on_submit():
        return _batch_page(found, form, 422)
    card = cards.batch_card(found.id, form.card_no.data.replace(" ", ""))
    if card is None:
        form.card_no.errors.append(_("This batch has no card with this number."))
        return _batch_page(found, form, 422)
    refused = _bind_to_phone(form, card.card_no)
    if refused:
        return _batch_page(found, form, refused)
    flash(_("Card %(no)s bound.", no=card.card_no), "success")
    return redirect(url_for(".batch", batch_id=found.id))


@blp.route("/card-batches/<batch_id>/consign", methods=["POST"])
@permission_required("cards:write")
@operators_only
def consign(batch_id):
    """Hand the batch, or a range of its numbers, to an agent: members binding these cards become its recruits."""
    found = cards.get_batch(batch_id)
    form = ConsignForm()
    form.agent_id.choices = _agent_choices()
    if not form.validate_on_submit():
        return _batch_page(found, consign_form=form, status_code=422)
    try:
        run_once(
            form.once.data,
            lambda: {
                "consignment": recruitment.consign_cards(
                    current_actor().key,
                    found.id,
                    form.agent_id.data,
                    form.first_card_no.data.replace(" ", "") or None,
                    form.last_card_no.data.replace(" ", "") or None,
                ).id
            },
        )
    except DomainError as exc:
        flash(domain_message(exc), "danger")
        return _batch_page(found, consign_form=form, status_code=409)
    flash(_("Cards consigned to the agent."), "success")
    return redirect(url_for(".batch", batch_id=found.id))


def _agent_choices() -> list[tuple[str, str]]:
    return [(agent.id, agent.name) for agent in recruitment.consignable_agents()]


def _batch_page(
    found, hand_out_form: HandOutForm | None = None, status_code: int = 200, consign_form: ConsignForm | None = None
):
    page = page_from_request(50)
    status = choice_arg("status", CARD_STATUSES, _("Status"))
    rows = cards.list_batch_cards(found.id, page, status)
    progress = cards.batch_progress(found.id)
    server_url = request.url_root.rstrip("/")
    page_html = render_template(
        "console/cards/batch.html",
        batch=found,
        cards=rows,
        page=page,
        progress=progress,
        done=_done(found, progress),
        statuses=CARD_STATUSES,
        status=status,
        level=catalog.get_level(found.level_id) if found.level_id else None,
        encode_command=f"alliance-cards --server {server_url} encode --batch {found.id}",
        export_command=f"alliance-cards --server {server_url} batch export {found.id} --format pdf",
        pdf_in_console=found.count <= MAX_CONSOLE_PDF,
        hand_out=hand_out_form or HandOutForm(formdata=None, once=new_key()),
        consign=consign_form or _new_consign_form(),
        consignments=recruitment.consignments_of(found.id),
    )
    return page_html, status_code


def _new_consign_form() -> ConsignForm:
    form = ConsignForm(formdata=None, once=new_key())
    form.agent_id.choices = _agent_choices()
    return form


PRINT_MIMETYPES = {"csv": "text/csv; charset=utf-8", "pdf": "application/pdf"}
# A PDF is drawn while the browser waits (about 500-2,000 cards a second): bigger batches are exported
# at a desk with ``alliance-cards batch export`` (the same file), well inside the worker's 60 s.
MAX_CONSOLE_PDF = 10_000


@blp.route("/card-batches/<batch_id>/print.<any(csv, pdf):fmt>")
@permission_required("cards:read")
@operators_only
def print_file(batch_id, fmt):
    """The batch's print file for the card factory: what ``alliance-cards batch export`` writes."""
    found = cards.get_batch(batch_id)
    if fmt == "pdf" and found.count > MAX_CONSOLE_PDF:
        flash(_("This batch is too large for a PDF from the console: export it with the command below."), "warning")
        return redirect(url_for(".batch", batch_id=found.id))
    printed = [PrintCard(number, code) for number, code in cards.batch_print_cards(found.id)]
    if fmt == "csv":
        text = io.StringIO()
        write_csv(printed, text)
        body = text.getvalue()  # the same file as the command line's, for the same factory
    else:
        buffer = io.BytesIO()
        write_pdf(printed, buffer, title=f"{found.name} ({found.id})")
        body = buffer.getvalue()
    return Response(
        body,
        mimetype=PRINT_MIMETYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{found.id}.{fmt}"'},
    )
