"""Benefit anti-fraud (风控): the budgets per member, device, IP, terminal and merchant per hour and day, and
what was counted against them — claims, redemptions and every failed code lookup (docs/benefits.md)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from server.console import navigation
from server.console.access import current_actor, operators_only, permission_required
from server.console.benefit_fraud_forms import BenefitLimitsForm, field_name
from server.console.display import domain_message
from server.console.once import new_key, run_once
from server.console.paging import choice_arg
from server.domain import benefit_budgets as rules
from server.domain.errors import DomainError
from server.services import benefit_fraud

READ, WRITE = "benefits:read", "benefits:write"
blp = Blueprint("benefit_fraud", __name__)

for endpoint, label, icon, order in (
    ("console.benefit_fraud.limits", _l("Anti-fraud budgets"), "shield-lock", 78),
    ("console.benefit_fraud.attempts", _l("Claims, redemptions and failed attempts"), "shield-exclamation", 79),
):
    navigation.add(
        navigation.NavItem(endpoint, label, icon, READ, order=order, operators_only=True, group=_l("Benefits"))
    )

ACTION_LABELS = {
    rules.CLAIM: _l("Claims"),
    rules.REDEEM: _l("Redemptions"),
    rules.FAILURE: _l("Failed code lookups"),
}
SUBJECT_LABELS = {
    rules.MEMBER: _l("Per member"),
    rules.DEVICE: _l("Per device"),
    rules.IP: _l("Per IP address"),
    rules.TERMINAL: _l("Per terminal"),
    rules.MERCHANT: _l("Per merchant"),
}
PERIOD_LABELS = {rules.HOUR: _l("Per hour"), rules.DAY: _l("Per day")}


def _labels() -> dict:
    return {"action_labels": ACTION_LABELS, "subject_labels": SUBJECT_LABELS, "period_labels": PERIOD_LABELS}


def _rows(form: BenefitLimitsForm) -> list[dict]:
    """The budgets as a table: an action and a subject per row, the hour's and the day's field."""
    return [
        {
            "action": action,
            "subject": subject,
            "fields": [form[field_name(rules.budget_key(action, subject, period))] for period in rules.PERIODS],
        }
        for action in rules.ACTIONS
        for subject in rules.SUBJECTS[action]
    ]


@blp.route("/benefits/anti-fraud", methods=["GET", "POST"])
@permission_required(READ)
@operators_only
def limits():
    """The budgets and alert thresholds in force; staff with ``benefits:write`` change them (audited)."""
    status = 200
    if request.method == "POST":
        if not current_actor().can(WRITE):
            abort(403)
        form = BenefitLimitsForm()
        if form.validate_on_submit():
            values = {key: form[field_name(key)].data for key in rules.DEFAULT_LIMITS}
            try:
                run_once(
                    form.once.data,
                    lambda: benefit_fraud.update_limits(current_actor().key, values, form.second_factor.fen),
                )
            except DomainError as exc:
                flash(domain_message(exc), "danger")
            else:
                flash(_("Anti-fraud budgets saved."), "success")
                return redirect(url_for(".limits"))
        status = 422
    else:
        form = BenefitLimitsForm(formdata=None, once=new_key())
        for key, value in benefit_fraud.limits().items():
            form[field_name(key)].data = value
        form.second_factor.set_fen(benefit_fraud.second_factor_fen())
    alerts = [form[field_name(rules.alert_key_of(action, rules.HOUR))] for action in rules.ACTIONS]
    return render_template(
        "console/benefits/anti_fraud.html", form=form, rows=_rows(form), alerts=alerts, **_labels()
    ), status


@blp.route("/benefits/anti-fraud/attempts")
@permission_required(READ)
@operators_only
def attempts():
    """The counters, newest activity first: what each member, device, IP, terminal and merchant did per hour
    and day against its budget; failed code lookups by default."""
    action = choice_arg("action", rules.ACTIONS, _("Counted"))
    if "action" not in request.args:
        action = rules.FAILURE
    subject = choice_arg("subject", tuple(SUBJECT_LABELS), _("Subject"))
    rows = benefit_fraud.list_counters(action=action or None, subject_kind=subject or None)
    return render_template(
        "console/benefits/anti_fraud_attempts.html", rows=rows, action=action, subject=subject, **_labels()
    )
