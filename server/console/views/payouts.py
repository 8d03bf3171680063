"""Withdrawals (提现) to approve or reject, and the bonus pool (奖金池) to distribute, reverse or pay."""

from __future__ import annotations

import re
from decimal import Decimal

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField, StringField, SubmitField
from wtforms.validators import InputRequired, Length, NumberRange

from server.console import navigation
from server.console.access import can, current_actor, permission_required
from server.console.confirm import Confirmation, confirm_form, confirm_page
from server.console.display import domain_message
from server.console.forms import PercentField, YuanField, choice
from server.console.paging import choice_arg, page_from_request
from server.domain.errors import DomainError
from server.domain.statuses import WithdrawalStatus
from server.formatting import yuan
from server.services import payout_queries
from server.services import withdrawals as withdrawal_service

blp = Blueprint("payouts", __name__)
PERIOD = re.compile(r"^20[0-9]{2}-(0[1-9]|1[0-2])$")
navigation.add(
    navigation.NavItem(
        "console.payouts.withdrawals", _l("Withdrawals"), "cash-coin", "withdrawals:read", order=59, operators_only=True
    )
)
navigation.add(
    navigation.NavItem(
        "console.payouts.bonus_pools", _l("Bonus pool"), "piggy-bank", "bonus_pool:read", order=60, operators_only=True
    )
)
navigation.add(
    navigation.NavItem(
        "console.payouts.policy",
        _l("Withdrawal and bonus pool settings"),
        "sliders",
        "withdrawals:read",
        order=61,
        operators_only=True,
    )
)
POLICY_WRITE = "payout_policy:write"
STATUS_LABELS = {
    WithdrawalStatus.REQUESTED: _l("To approve"),
    WithdrawalStatus.APPROVED: _l("Approved, to pay"),
    WithdrawalStatus.PAID: _l("Paid"),
    WithdrawalStatus.FAILED: _l("Payout failed"),
    WithdrawalStatus.REJECTED: _l("Rejected"),
}
STATUS_COLORS = {
    "requested": "warning",
    "approved": "info",
    "paid": "success",
    "failed": "danger",
    "rejected": "secondary",
}
CHANNEL_LABELS = {"bank_file": _l("Bank transfer"), "wechat": _l("WeChat balance")}
POOL_STATUS_LABELS = {"accrued": _l("Accrued"), "distributed": _l("Distributed (reversible)"), "paid": _l("Paid")}
DECISIONS = {
    "approve": (_l("Approve the withdrawal"), _l("The next payout run pays it through its channel.")),
    "reject": (
        _l("Reject the withdrawal"),
        _l("The money returns to the agent's available balance; the agent sees the reason."),
    ),
}
POOL_ACTIONS = {
    "distribute": (
        _l("Distribute the bonus pool"),
        _l("Shares by each agent's own serviced consumption × health score; they stay pending until paid."),
    ),
    "reverse": (
        _l("Reverse the distribution"),
        _l("The shares go back to the pool; the month can be distributed again."),
    ),
    "pay": (_l("Pay the shares"), _l("The shares become available to withdraw. This cannot be reversed.")),
}


@blp.route("/withdrawals")
@permission_required("withdrawals:read")
def withdrawals():
    """The queue: withdrawals to approve first, then by status, newest first."""
    page = page_from_request()
    status = choice_arg("status", [str(s) for s in WithdrawalStatus], _("Status"))
    if "status" not in request.args:
        status = WithdrawalStatus.REQUESTED
    rows, names, counts = payout_queries.withdrawal_queue(status, page)
    return render_template(
        "console/payouts/withdrawals.html",
        rows=rows,
        names=names,
        counts=counts,
        page=page,
        status=status,
        status_labels=STATUS_LABELS,
        status_colors=STATUS_COLORS,
        channel_labels=CHANNEL_LABELS,
    )


@blp.route("/withdrawals/<withdrawal_id>/<any(approve, reject):action>", methods=["GET", "POST"])
@permission_required("withdrawals:approve")
def decide(withdrawal_id, action):
    """Approve or reject a requested withdrawal after a confirmation page with the reason (audited)."""
    found = withdrawal_service.get_withdrawal(withdrawal_id)
    title, warning = DECISIONS[action]
    form = confirm_form()
    if request.method == "GET" or not form.validate_on_submit():
        names = payout_queries.agent_names([found.agent_id])
        confirmation = Confirmation(
            title=str(title),
            subject=f"{names.get(found.agent_id, '')} · {yuan(found.amount_fen)} · {found.account_masked}",
            warning=str(warning),
            button=str(title),
            action_url=url_for(".decide", withdrawal_id=found.id, action=action),
            back_url=url_for(".withdrawals"),
        )
        return confirm_page(confirmation, form)
    try:
        if action == "approve":
            withdrawal_service.approve_withdrawal(current_actor().key, found.id)
        else:
            withdrawal_service.reject_withdrawal(current_actor().key, found.id, form.reason.data)
    except DomainError as exc:
        flash(domain_message(exc), "danger")
    else:
        flash(_("Saved."), "success")
    return redirect(url_for(".withdrawals"))


@blp.route("/bonus-pools")
@permission_required("bonus_pool:read")
def bonus_pools():
    """Each month's fee income, pool, reserve and distribution with every agent's share."""
    return render_template(
        "console/payouts/bonus_pools.html", status_labels=POOL_STATUS_LABELS, **payout_queries.bonus_pool_page()
    )


@blp.route("/bonus-pools/distribute")
@permission_required("bonus_pool:write")
def pick_period():
    """The month typed on the bonus pool page → its distribution's confirmation page."""
    period = request.args.get("period", "").strip()
    if not PERIOD.match(period):
        flash(_("A period is a month written YYYY-MM."), "danger")
        return redirect(url_for(".bonus_pools"))
    return redirect(url_for(".pool_action", period=period, action="distribute"))


@blp.route("/bonus-pools/<period>/<any(distribute, reverse, pay):action>", methods=["GET", "POST"])
@permission_required("bonus_pool:write")
def pool_action(period, action):
    """Distribute an ended month's pool, reverse a distribution not yet paid, or pay it (confirmed, audited)."""
    title, warning = POOL_ACTIONS[action]
    form = confirm_form()
    if request.method == "GET" or not form.validate_on_submit():
        confirmation = Confirmation(
            title=str(title),
            subject=period,
            warning=str(warning),
            button=str(title),
            action_url=url_for(".pool_action", period=period, action=action),
            back_url=url_for(".bonus_pools"),
        )
        return confirm_page(confirmation, form)
    try:
        payout_queries.distribution_action(current_actor().key, period, action, form.reason.data)
    except DomainError as exc:
        flash(domain_message(exc), "danger")
    else:
        flash(_("Saved."), "success")
    return redirect(url_for(".bonus_pools"))


class PayoutPolicyForm(FlaskForm):
    """The payout policy as finance types it: money in yuan (exactly to the fen), rates in % (to the bp)."""

    minimum = YuanField(_l("Minimum withdrawal (¥)"), [InputRequired(), NumberRange(Decimal("0.01"), 1_000_000)])
    daily_maximum = YuanField(
        _l("Daily maximum per agent (¥)"), [InputRequired(), NumberRange(Decimal("0.01"), 10_000_000)]
    )
    fee_fixed = YuanField(_l("Fixed fee per withdrawal (¥)"), [InputRequired(), NumberRange(0, 10_000)])
    fee_rate = PercentField(_l("Fee rate (% of the amount)"), [InputRequired()])
    tax_rate = PercentField(_l("Tax withheld from individual agents (%, at most 45)"), [InputRequired()])
    payout_channel = SelectField(
        _l("Payout channel"), choices=[choice(value, label) for value, label in CHANNEL_LABELS.items()]
    )
    pool_share = PercentField(_l("Bonus pool: share of the platform's fee income (%)"), [InputRequired()])
    reserve_share = PercentField(_l("Reserve: share of what accrues that stays in the pool (%)"), [InputRequired()])
    min_health = IntegerField(
        _l("Lowest health score that shares in the pool (0-100)"), [InputRequired(), NumberRange(0, 100)]
    )
    reason = StringField(_l("Reason for the change"), [InputRequired(), Length(max=200)])
    submit = SubmitField(_l("Save the settings"))

    def fill(self, policy: dict) -> None:
        self.minimum.set_fen(policy["withdrawal_minimum_fen"])
        self.daily_maximum.set_fen(policy["withdrawal_daily_maximum_fen"])
        self.fee_fixed.set_fen(policy["withdrawal_fee_fixed_fen"])
        self.fee_rate.set_bp(policy["withdrawal_fee_bp"])
        self.tax_rate.set_bp(policy["tax_rate_bp"])
        self.payout_channel.data = policy["payout_channel"]
        self.pool_share.set_bp(policy["bonus_pool_share_bp"])
        self.reserve_share.set_bp(policy["bonus_reserve_share_bp"])
        self.min_health.data = policy["bonus_min_health_score"]

    def settings(self) -> dict:
        return {
            "withdrawal_minimum_fen": self.minimum.fen,
            "withdrawal_daily_maximum_fen": self.daily_maximum.fen,
            "withdrawal_fee_fixed_fen": self.fee_fixed.fen,
            "withdrawal_fee_bp": self.fee_rate.bp,
            "tax_rate_bp": self.tax_rate.bp,
            "payout_channel": self.payout_channel.data,
            "bonus_pool_share_bp": self.pool_share.bp,
            "bonus_reserve_share_bp": self.reserve_share.bp,
            "bonus_min_health_score": self.min_health.data,
        }


@blp.route("/payout-policy", methods=["GET", "POST"])
@permission_required("withdrawals:read")
def policy():
    """提现与奖金池设置: the current settings and, for finance and admin, the form to change them with a reason."""
    current = withdrawal_service.policy_document()
    form = PayoutPolicyForm()
    if request.method == "GET":
        form.fill(current)
    elif not can(POLICY_WRITE):
        abort(403)
    elif form.validate_on_submit():
        try:
            withdrawal_service.update_payout_policy(current_actor().key, form.reason.data, **form.settings())
        except DomainError as exc:
            flash(domain_message(exc), "danger")
        else:
            flash(_("Saved."), "success")
            return redirect(url_for(".policy"))
    status = 422 if form.errors or request.method == "POST" else 200
    return render_template(
        "console/payouts/policy.html",
        form=form,
        policy=current,
        channel_labels=CHANNEL_LABELS,
        may_change=can(POLICY_WRITE),
    ), status
