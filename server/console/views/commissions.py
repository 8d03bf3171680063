"""Commissions (分润): the entries and the report by agent, level, region and role, the regulator's audit export,
and the versioned commission policy with its compliance switches.

Finance and agent managers read (``agents:read``); only an admin writes a policy version (``alliance:write``).
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange

from server.console import navigation
from server.console.access import can, current_actor, permission_required
from server.console.display import domain_message
from server.console.forms import PercentField
from server.console.paging import choice_arg, report_invalid_filter
from server.domain import commissions as rules
from server.domain.errors import DomainError
from server.domain.statuses import CommissionStatus
from server.exports import Column, table_download
from server.services import commissions

blp = Blueprint("commissions", __name__)
READ, WRITE = "agents:read", "alliance:write"
GROUP = _l("Agent network")
navigation.add(
    navigation.NavItem(
        "console.commissions.index",
        _l("Commissions"),
        "cash-coin",
        READ,
        order=37,
        operators_only=True,
        group=GROUP,
    )
)
navigation.add(
    navigation.NavItem(
        "console.commissions.policy",
        _l("Commission policy"),
        "sliders",
        READ,
        order=38,
        operators_only=True,
        group=GROUP,
    )
)
ROLE_LABELS = {
    rules.SERVICING: _l("Servicing agent"),
    rules.RECRUITER: _l("Recruiter"),
    rules.MANAGEMENT: _l("Management commission"),
    rules.REGIONAL: _l("Regional management fee"),
}
STATUS_LABELS = {
    CommissionStatus.PENDING: _l("Pending"),
    CommissionStatus.AVAILABLE: _l("Available"),
    CommissionStatus.REVERSED: _l("Reversed"),
}
AUDIT_COLUMNS = (
    Column("entry_id", _l("Entry"), "int"),
    Column("business_day", _l("Business day"), "text"),
    Column("sale_id", _l("Sale"), "text"),
    Column("receipt_no", _l("Receipt number"), "text"),
    Column("merchant_id", _l("Merchant ID"), "text"),
    Column("beneficiary_kind", _l("Beneficiary kind"), "text"),
    Column("beneficiary_id", _l("Beneficiary"), "text"),
    Column("role", _l("Role"), "text"),
    Column("depth", _l("Depth"), "int"),
    Column("base_fen", _l("Base (¥)"), "yuan"),
    Column("rate_bp", _l("Rate"), "percent"),
    Column("policy_version", _l("Policy version"), "int"),
    Column("amount_fen", _l("Commission (¥)"), "yuan"),
    Column("reversed_fen", _l("Reversed (¥)"), "yuan"),
    Column("net_fen", _l("Net (¥)"), "yuan"),
    Column("status", _l("Status"), "text"),
    Column("funded_by", _l("Funded by"), "text"),
)
REPORT_COLUMNS = (
    Column("agent_id", _l("Agent ID"), "text"),
    Column("agent_name", _l("Agent"), "text"),
    Column("level", _l("Agent level"), "text"),
    Column("region", _l("Region"), "text"),
    Column("role", _l("Role"), "text"),
    Column("entries", _l("Entries"), "int"),
    Column("amount_fen", _l("Commission (¥)"), "yuan"),
    Column("reversed_fen", _l("Reversed (¥)"), "yuan"),
    Column("net_fen", _l("Net (¥)"), "yuan"),
)


def _filters() -> dict:
    filters = {
        "agent_id": request.args.get("agent_id", "").strip() or None,
        "status": choice_arg("status", [str(s) for s in CommissionStatus], _("Status")),
        "role": choice_arg("role", list(rules.ROLES), _("Role")),
    }
    period = request.args.get("period", "").strip()
    if period:
        try:
            commissions.period_range(period)
            filters["period"] = period
        except DomainError:
            report_invalid_filter(_("Month"), period)
    return {name: value for name, value in filters.items() if value}


@blp.route("/commissions")
@permission_required(READ)
def index():
    """Commission entries (newest first) and the report by agent, level, region and role."""
    filters = _filters()
    return render_template(
        "console/commissions/index.html",
        entries=commissions.list_commissions(filters, limit=200),
        report=commissions.report(filters),
        filters=filters,
        role_labels=ROLE_LABELS,
        status_labels=STATUS_LABELS,
        statuses=list(CommissionStatus),
        roles=rules.ROLES,
    )


@blp.route("/commissions/audit.<any(csv, xlsx):fmt>")
@permission_required(READ)
def audit_export(fmt):
    """The regulator's audit export: every entry with beneficiary, role, depth, base, rate and policy version."""
    return table_download(AUDIT_COLUMNS, commissions.audit_rows(_filters()), fmt, "commission-audit")


@blp.route("/commissions/report.<any(csv, xlsx):fmt>")
@permission_required(READ)
def report_export(fmt):
    """The commission report by agent, level, region and role."""
    rows = [{**row.__dict__, "net_fen": row.net_fen} for row in commissions.report(_filters())]
    return table_download(REPORT_COLUMNS, rows, fmt, "commission-report")


class CommissionPolicyForm(FlaskForm):
    base = SelectField(
        _l("Commission base"),
        choices=[
            (rules.BASE_PAID, _l("The sale's paid amount (实付)")),
            (rules.BASE_SERVICE_FEE, _l("The service fee")),
        ],
    )
    funding = SelectField(
        _l("Funding"),
        choices=[
            (rules.FUNDING_ON_TOP, _l("The merchant pays it on top of its service fee")),
            (rules.FUNDING_WITHIN_FEE, _l("Carved out of the merchant's service fee")),
        ],
    )
    envelope = PercentField(_l("Envelope: all commissions of one sale at most (% of the base)"), [InputRequired()])
    recruiter_rate = PercentField(_l("Recruiting agent's rate (%)"), [InputRequired()])
    member_recruiter_rate = PercentField(_l("Promoter member's rate (%)"), [InputRequired()])
    return_window_days = IntegerField(_l("Return window (days)"), [InputRequired(), NumberRange(0, 365)])
    regional_fee = PercentField(
        _l("Regional management fee (% of GMV, paid from platform fee income)"), [InputRequired()]
    )
    management_enabled = BooleanField(_l("Pay management commission to upper agents (团队计酬)"))
    management_rate = PercentField(_l("Management commission (% of the commission one level below)"), [InputRequired()])
    management_depth = IntegerField(_l("Upper levels paid (1 or 2)"), [InputRequired(), NumberRange(1, 2)])
    acknowledgement = TextAreaField(_l("Acknowledgement of the legal risk"), [Length(max=400)])
    reason = StringField(_l("Reason for the change"), [InputRequired(), Length(max=200)])
    submit = SubmitField(_l("Publish a new version"))


def _fill(form: CommissionPolicyForm, document: dict) -> None:
    form.base.data, form.funding.data = document["base"], document["funding"]
    form.envelope.set_bp(document["envelope_bp"])
    form.recruiter_rate.set_bp(document["recruiter_rate_bp"])
    form.member_recruiter_rate.set_bp(document["member_recruiter_rate_bp"])
    form.regional_fee.set_bp(document["regional_fee_bp"])
    form.management_rate.set_bp(document["management_rate_bp"])
    form.management_enabled.data = document["management_enabled"]
    form.management_depth.data = document["management_depth"]
    form.return_window_days.data = document["return_window_days"]


@blp.route("/commission-policy", methods=["GET", "POST"])
@permission_required(READ)
def policy():
    """The current policy version, the form for the next one, the compliance warnings and every earlier version."""
    document = commissions.policy_document()
    form = CommissionPolicyForm()
    if request.method == "GET":
        _fill(form, document)
    elif not can(WRITE):
        abort(403)
    elif form.validate_on_submit():
        changes = {
            "base": form.base.data,
            "funding": form.funding.data,
            "envelope_bp": form.envelope.bp,
            "recruiter_rate_bp": form.recruiter_rate.bp,
            "member_recruiter_rate_bp": form.member_recruiter_rate.bp,
            "regional_fee_bp": form.regional_fee.bp,
            "management_enabled": form.management_enabled.data,
            "management_rate_bp": form.management_rate.bp,
            "management_depth": form.management_depth.data,
            "return_window_days": form.return_window_days.data,
        }
        try:
            row = commissions.update_policy(
                current_actor().key, changes, form.reason.data, form.acknowledgement.data or ""
            )
        except DomainError as exc:
            flash(domain_message(exc), "danger")
        else:
            flash(_("Commission policy version %(version)s published.", version=row.version), "success")
            return redirect(url_for(".policy"))
    status = 422 if form.errors else 200
    return render_template(
        "console/commissions/policy.html",
        form=form,
        policy=document,
        versions=commissions.policy_versions(),
        may_publish=can(WRITE),
    ), status
