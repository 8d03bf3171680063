"""Anti-brushing (刷单) flags to review: the list by status, a flag with its sales, clear or confirm with a reason."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from server.console import navigation
from server.console.access import current_actor, permission_required
from server.console.confirm import Confirmation, confirm_form, confirm_page
from server.console.display import domain_message
from server.console.paging import choice_arg, page_from_request
from server.domain.errors import DomainError
from server.domain.statuses import BrushingFlagStatus
from server.services import brushing

blp = Blueprint("brushing", __name__)
navigation.add(
    navigation.NavItem(
        "console.brushing.index",
        _l("Brushing flags"),
        "shield-exclamation",
        "agents:read",
        order=58,
        operators_only=True,
    )
)
FLAG_STATUS_LABELS = {
    BrushingFlagStatus.OPEN: _l("To review"),
    BrushingFlagStatus.CLEARED: _l("Flag cleared"),
    BrushingFlagStatus.CONFIRMED: _l("Brushing confirmed"),
}
FLAG_STATUS_COLORS = {"open": "warning", "cleared": "secondary", "confirmed": "danger"}
SUBJECT_LABELS = {
    "card": _l("Card"),
    "member": _l("Member"),
    "merchant": _l("Merchant"),
    "terminal": _l("Terminal"),
    "agent": _l("An agent"),
}
REVIEWS = {
    "clear": (
        BrushingFlagStatus.CLEARED,
        _l("Clear the flag"),
        _l("Its sales are released: rewards tied to them may be paid. The agent's health score does not count it."),
    ),
    "confirm": (
        BrushingFlagStatus.CONFIRMED,
        _l("Confirm brushing"),
        _l("Its sales stay held and the agent's health score loses 10 points of 30 for violations in that month."),
    ),
}


def _context(flags) -> dict:
    rules = {rule.id: rule for rule in brushing.list_rules()}
    return {
        "rules": rules,
        "labels": brushing.subject_labels(flags),
        "status_labels": FLAG_STATUS_LABELS,
        "status_colors": FLAG_STATUS_COLORS,
        "subject_labels": SUBJECT_LABELS,
    }


@blp.route("/brushing-flags")
@permission_required("agents:read")
def index():
    """Flags by status (those to review first), newest first."""
    page = page_from_request()
    status = choice_arg("status", [str(s) for s in BrushingFlagStatus], _("Status"))
    if "status" not in request.args:
        status = BrushingFlagStatus.OPEN
    flags = brushing.list_flags({"status": status}, page)
    held = brushing.flag_sale_ids(flag.id for flag in flags)
    return render_template(
        "console/brushing/index.html", flags=flags, held=held, page=page, status=status, **_context(flags)
    )


@blp.route("/brushing-flags/<flag_id>")
@permission_required("agents:read")
def detail(flag_id):
    """A flag: its rule, subject, agent, window, the sales it holds and its review."""
    flag = brushing.get_flag(flag_id)
    return render_template(
        "console/brushing/detail.html", flag=flag, sales=brushing.flag_sales(flag.id), **_context([flag])
    )


def _subject(flag, labels) -> str:
    name = labels.get((flag.subject_type, flag.subject_id), "")
    return f"{SUBJECT_LABELS[flag.subject_type]} {name} · {flag.window}"


@blp.route("/brushing-flags/<flag_id>/<any(clear, confirm):action>", methods=["GET", "POST"])
@permission_required("agents:write")
def review(flag_id, action):
    """Clear or confirm an open flag, after a confirmation page with the reason (audited)."""
    flag = brushing.get_flag(flag_id)
    if flag.status != BrushingFlagStatus.OPEN:
        flash(_("This flag has already been reviewed."), "warning")
        return redirect(url_for(".detail", flag_id=flag.id))
    status, title, warning = REVIEWS[action]
    form = confirm_form()
    if request.method == "GET" or not form.validate_on_submit():
        rule = brushing.get_rule(flag.rule_id)
        confirmation = Confirmation(
            title=str(title),
            subject=f"{rule.name} · {_subject(flag, brushing.subject_labels([flag]))}",
            warning=str(warning),
            button=str(title),
            action_url=url_for(".review", flag_id=flag.id, action=action),
            back_url=url_for(".detail", flag_id=flag.id),
        )
        return confirm_page(confirmation, form)
    try:
        brushing.review_flag(current_actor().key, flag.id, status, form.reason.data)
    except DomainError as exc:
        flash(domain_message(exc), "danger")
    else:
        flash(_("Saved."), "success")
    return redirect(url_for(".detail", flag_id=flag.id))
