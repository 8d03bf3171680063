"""Withdrawals (提现) and their payouts: request, decide, pay through the configured channel, record results.

Rules: ``server/domain/withdrawals.py`` (checks, fee, lifecycle) and ``server/domain/tax.py``; money in the
money ledger (``server/services/money_ledger.py``), each movement posted once under its source key:

- ``withdrawal:<id>:hold`` on request: the agent's available → payouts in transit (the amount);
- ``withdrawal:<id>:return`` on rejection or a failed payout: back from transit to available;
- ``withdrawal:<id>:paid`` when the channel says paid: transit → the agent's paid account (net), tax
  withheld (tax) and the platform's fee income (fee).

Idempotent end to end: a request carries the agent's idempotency key (unique per agent: the same key
answers the same withdrawal); each withdrawal has its own ``out_detail_no``, which a channel pays at most
once (``server/payouts``); results are recorded once (a withdrawal leaves ``approved`` only once).

Concurrent requests of one agent are serialised by locking its available and debt accounts first, so two
requests can never spend the same available money or pass the daily maximum together.

Payout runs (``run_payouts``): the approved withdrawals of a channel not yet sent are marked sent in one
transaction, handed to the channel outside any transaction, and each result is recorded in its own
transaction. A run that stops half way (crash, ``PayoutUnavailable``) leaves withdrawals sent: WeChat Pay
payouts are asked again at the next run (the channel reads a known transfer instead of paying it again);
a bank file's payouts wait for the bank's result file (``import_bank_results``).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import func, select

from server.domain import money_ledger as money
from server.domain.errors import Conflict, InvalidRequest, NotFound
from server.domain.identifiers import mask_account_number
from server.domain.statuses import PayoutStatus, WithdrawalStatus
from server.domain.tax import TaxLine, YearlyTaxStatement, yearly_statement
from server.domain.withdrawals import OUTCOME, WithdrawalPolicy, check_withdrawal, may, out_of_bounds
from server.extensions import db
from server.models import Agent, PayoutPolicy, Withdrawal
from server.models.base import utcnow
from server.payouts import FAILED, SUCCEEDED, PayoutOrder, PayoutResult, PayoutUnavailable, channel_named
from server.payouts.bank_file import BankFileChannel, read_result_file
from server.security.pii import decrypt_text, encrypt_text
from server.services import money_ledger as ledger
from server.services import webhooks
from server.services.alliance import current_settings
from server.services.audit import audit
from server.services.unit_of_work import transactional

ACCOUNT_PURPOSE = b"withdrawal-account"
CHANNELS = ("bank_file", "wechat")
WITHDRAWAL_REQUESTED = "withdrawal_requested"
WITHDRAWAL_RETURNED = "withdrawal_returned"
WITHDRAWAL_PAID = "withdrawal_paid"
POLICY_FIELDS = (
    "withdrawal_minimum_fen",
    "withdrawal_daily_maximum_fen",
    "withdrawal_fee_fixed_fen",
    "withdrawal_fee_bp",
    "tax_rate_bp",
    "payout_channel",
    "bonus_pool_share_bp",
    "bonus_reserve_share_bp",
    "bonus_min_health_score",
)


# --- policy --------------------------------------------------------------------------------------------


def payout_policy() -> PayoutPolicy:
    """The policy row (created with the defaults on first use, in the caller's transaction)."""
    row = db.session.get(PayoutPolicy, 1)
    if row is None:
        row = PayoutPolicy(id=1)
        db.session.add(row)
        db.session.flush()
    return row


def withdrawal_policy(row: PayoutPolicy | None = None) -> WithdrawalPolicy:
    row = row or payout_policy()
    return WithdrawalPolicy(
        minimum_fen=row.withdrawal_minimum_fen,
        daily_maximum_fen=row.withdrawal_daily_maximum_fen,
        fee_fixed_fen=row.withdrawal_fee_fixed_fen,
        fee_bp=row.withdrawal_fee_bp,
        tax_rate_bp=row.tax_rate_bp,
    )


def policy_document(row: PayoutPolicy | None = None) -> dict:
    """The current payout policy as a plain mapping (API and console)."""
    row = row or payout_policy()
    return {name: getattr(row, name) for name in POLICY_FIELDS}


@transactional
def update_payout_policy(actor: str, reason: str | None = None, **fields) -> PayoutPolicy:
    """Change the withdrawal, tax and bonus pool settings (audited with the values before and the reason).

    Staff always give a reason (API and console); ``None`` is for internal callers. Nothing changes when a
    setting is unknown, out of its bounds (``POLICY_BOUNDS``) or the minimum exceeds the daily maximum."""
    if reason is not None and not reason.strip():
        raise InvalidRequest("A policy change needs a reason.", field="reason")
    row = payout_policy()
    unknown = set(fields) - set(POLICY_FIELDS)
    if unknown:
        raise InvalidRequest("Unknown setting.", field=sorted(unknown)[0])
    if "payout_channel" in fields and fields["payout_channel"] not in CHANNELS:
        raise InvalidRequest("Unknown payout channel.", field="payout_channel")
    wrong = out_of_bounds(fields)
    if wrong:
        raise InvalidRequest("This setting is outside its allowed range.", field=wrong)
    minimum = fields.get("withdrawal_minimum_fen", row.withdrawal_minimum_fen)
    if minimum > fields.get("withdrawal_daily_maximum_fen", row.withdrawal_daily_maximum_fen):
        raise InvalidRequest("These withdrawal settings do not fit together.", field="withdrawal_minimum_fen")
    before = {name: getattr(row, name) for name in fields}
    for name, value in fields.items():
        setattr(row, name, value)
    details = {"before": before, "after": fields}
    if reason is not None:
        details["reason"] = reason.strip()
    audit(actor, "payout_policy.update", "payout_policy", "1", **details)
    return row


# --- balances ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AgentBalances:
    agent_id: str
    pending_fen: int
    available_fen: int
    paid_fen: int
    debt_fen: int  # what the agent owes (positive)
    in_transit_fen: int  # requested or approved, not yet paid
    withdrawable_fen: int


def agent_balances(agent_id: str) -> AgentBalances:
    kinds = ledger.balances(money.AGENT, agent_id)
    in_transit = db.session.scalar(
        select(func.coalesce(func.sum(Withdrawal.amount_fen), 0)).where(
            Withdrawal.agent_id == agent_id,
            Withdrawal.status.in_([WithdrawalStatus.REQUESTED, WithdrawalStatus.APPROVED]),
        )
    )
    available, debt = kinds.get(money.AVAILABLE, 0), kinds.get(money.DEBT, 0)
    return AgentBalances(
        agent_id,
        kinds.get(money.PENDING, 0),
        available,
        kinds.get(money.PAID, 0),
        -debt,
        int(in_transit),
        money.withdrawable(available, debt),
    )


# --- request and decide ---------------------------------------------------------------------------------


def _local_today(now: datetime):
    return now.astimezone(ZoneInfo(current_settings().timezone)).date()


def _get_agent(agent_id: str) -> Agent:
    agent = db.session.get(Agent, agent_id)
    if agent is None:
        raise InvalidRequest("No such agent.", field="agent_id")
    return agent


def _check_payee(channel: str, payee_name: str, account_number: str, bank: str) -> tuple[str, str, str]:
    if channel not in CHANNELS:
        raise InvalidRequest("Choose how the money is paid: bank transfer or WeChat.", field="channel")
    payee_name, account_number, bank = payee_name.strip(), "".join(account_number.split()), bank.strip()
    if not 2 <= len(payee_name) <= 50:
        raise InvalidRequest("Enter the payee's real name.", field="payee_name")
    if channel == "bank_file":
        if not account_number.isdigit() or not 8 <= len(account_number) <= 32:
            raise InvalidRequest("A bank account number is 8 to 32 digits.", field="account_number")
        if not 2 <= len(bank) <= 50:
            raise InvalidRequest("Enter the bank's name.", field="bank")
    elif not account_number.replace("-", "").replace("_", "").isalnum() or not 6 <= len(account_number) <= 64:
        raise InvalidRequest("A WeChat openid is 6 to 64 letters, digits, - or _.", field="account_number")
    return payee_name, account_number, bank


@transactional
def request_withdrawal(
    actor: str,
    agent_id: str,
    amount_fen: int,
    idempotency_key: str,
    *,
    channel: str,
    payee_name: str,
    account_number: str,
    bank: str = "",
    now: datetime | None = None,
) -> Withdrawal:
    """An agent asks for ``amount_fen`` of its available money; the same key answers the same withdrawal."""
    if not idempotency_key or len(idempotency_key) > 64:
        raise InvalidRequest(
            "A withdrawal request needs an idempotency key of 1-64 characters.", field="idempotency_key"
        )
    agent = _get_agent(agent_id)
    payee_name, account_number, bank = _check_payee(channel, payee_name, account_number, bank)
    # serialise this agent's requests: the second waits here and sees the first one's hold
    ledger.lock_beneficiary(money.AGENT, agent.id)
    existing = db.session.scalar(
        select(Withdrawal).where(Withdrawal.agent_id == agent.id, Withdrawal.idempotency_key == idempotency_key)
    )
    if existing is not None:
        if existing.amount_fen != amount_fen or existing.channel != channel:
            raise Conflict("This request key was already used for another withdrawal.", withdrawal_id=existing.id)
        return existing
    now = now or utcnow()
    today = _local_today(now)
    policy = payout_policy()
    balances = ledger.balances(money.AGENT, agent.id)
    requested_today = db.session.scalar(
        select(func.coalesce(func.sum(Withdrawal.amount_fen), 0)).where(
            Withdrawal.agent_id == agent.id,
            Withdrawal.requested_on == today,
            Withdrawal.status.in_([WithdrawalStatus.REQUESTED, WithdrawalStatus.APPROVED, WithdrawalStatus.PAID]),
        )
    )
    split = check_withdrawal(
        amount_fen,
        agent_kind=agent.kind,
        available_fen=balances.get(money.AVAILABLE, 0),
        debt_fen=-balances.get(money.DEBT, 0),
        requested_today_fen=int(requested_today),
        policy=withdrawal_policy(policy),
    )
    withdrawal = Withdrawal(
        agent_id=agent.id,
        idempotency_key=idempotency_key,
        status=WithdrawalStatus.REQUESTED,
        agent_kind=agent.kind,
        amount_fen=split.amount_fen,
        fee_fen=split.fee_fen,
        tax_fen=split.tax_fen,
        net_fen=split.net_fen,
        tax_rate_bp=policy.tax_rate_bp if agent.kind == "person" else 0,
        channel=channel,
        payee_name=payee_name,
        account_ciphertext=encrypt_text(account_number, ACCOUNT_PURPOSE),
        account_masked=mask_account_number(account_number),
        bank=bank,
        out_detail_no="WD" + secrets.token_hex(12).upper(),
        requested_on=today,
        requested_at=now,
        requested_by=actor,
    )
    db.session.add(withdrawal)
    db.session.flush()
    ledger.post(
        WITHDRAWAL_REQUESTED,
        f"withdrawal:{withdrawal.id}:hold",
        money.transfer(
            ledger.account(money.AGENT, agent.id, money.AVAILABLE),
            ledger.alliance_account(money.PAYOUTS_IN_TRANSIT),
            split.amount_fen,
        ),
        actor,
        memo=withdrawal.id,
    )
    audit(actor, "withdrawal.request", "withdrawal", withdrawal.id, agent_id=agent.id, amount_fen=amount_fen)
    return withdrawal


def _locked(withdrawal_id: str) -> Withdrawal:
    withdrawal = db.session.scalar(select(Withdrawal).where(Withdrawal.id == withdrawal_id).with_for_update())
    if withdrawal is None:
        raise NotFound("No such withdrawal.", withdrawal_id=withdrawal_id)
    return withdrawal


def _return_money(withdrawal: Withdrawal, actor: str) -> None:
    ledger.post(
        WITHDRAWAL_RETURNED,
        f"withdrawal:{withdrawal.id}:return",
        money.transfer(
            ledger.alliance_account(money.PAYOUTS_IN_TRANSIT),
            ledger.account(money.AGENT, withdrawal.agent_id, money.AVAILABLE),
            withdrawal.amount_fen,
        ),
        actor,
        memo=withdrawal.id,
    )


def _move(withdrawal: Withdrawal, action: str) -> None:
    if not may(action, withdrawal.status):
        raise Conflict("The withdrawal is not in a state that allows this.", status=withdrawal.status)
    withdrawal.status = OUTCOME[action]


@transactional
def approve_withdrawal(actor: str, withdrawal_id: str) -> Withdrawal:
    """Finance approves: the withdrawal waits for the next payout run (money stays in transit)."""
    withdrawal = _locked(withdrawal_id)
    if withdrawal.status == WithdrawalStatus.APPROVED:
        return withdrawal  # a repeated click or retry
    _move(withdrawal, "approve")
    withdrawal.decided_at, withdrawal.decided_by = utcnow(), actor
    audit(actor, "withdrawal.approve", "withdrawal", withdrawal.id, amount_fen=withdrawal.amount_fen)
    return withdrawal


@transactional
def reject_withdrawal(actor: str, withdrawal_id: str, reason: str) -> Withdrawal:
    """Finance rejects with a reason: the money returns to the agent's available balance."""
    reason = (reason or "").strip()
    if not 2 <= len(reason) <= 200:
        raise InvalidRequest("Give a reason of 2-200 characters.", field="reason")
    withdrawal = _locked(withdrawal_id)
    if withdrawal.status == WithdrawalStatus.REJECTED and withdrawal.reject_reason == reason:
        return withdrawal
    _move(withdrawal, "reject")
    withdrawal.decided_at, withdrawal.decided_by, withdrawal.reject_reason = utcnow(), actor, reason
    _return_money(withdrawal, actor)
    audit(actor, "withdrawal.reject", "withdrawal", withdrawal.id, reason=reason, amount_fen=withdrawal.amount_fen)
    return withdrawal


# --- payouts -------------------------------------------------------------------------------------------


def _order(withdrawal: Withdrawal) -> PayoutOrder:
    return PayoutOrder(
        withdrawal.out_detail_no,
        withdrawal.net_fen,
        withdrawal.payee_name,
        decrypt_text(withdrawal.account_ciphertext, ACCOUNT_PURPOSE),
        withdrawal.bank,
        "佣金提现",
    )


@transactional
def _claim(channel: str, limit: int | None, again: bool = False) -> list[tuple[str, PayoutOrder]]:
    """Mark the channel's approved withdrawals sent (WeChat, or ``again``: also those sent before without an
    answer — a bank file is made again only when the earlier one was never uploaded)."""
    waiting = [None, PayoutStatus.SENT] if channel == "wechat" or again else [None]
    query = (
        select(Withdrawal)
        .where(Withdrawal.status == WithdrawalStatus.APPROVED, Withdrawal.channel == channel)
        .where(Withdrawal.payout_status.is_(None) | Withdrawal.payout_status.in_([s for s in waiting if s]))
        .order_by(Withdrawal.requested_at, Withdrawal.id)
        .with_for_update(skip_locked=True)
    )
    if limit:
        query = query.limit(limit)
    claimed = []
    for withdrawal in db.session.scalars(query):
        if withdrawal.payout_status is None:
            withdrawal.payout_status, withdrawal.sent_at = PayoutStatus.SENT, utcnow()
        claimed.append((withdrawal.id, _order(withdrawal)))
    return claimed


@transactional
def record_result(actor: str, result: PayoutResult) -> Withdrawal | None:
    """What the channel answered for one payout: paid, failed (money back to available) or still pending."""
    withdrawal = db.session.scalar(
        select(Withdrawal).where(Withdrawal.out_detail_no == result.out_detail_no).with_for_update()
    )
    if withdrawal is None:
        raise NotFound("No withdrawal has this reference.", out_detail_no=result.out_detail_no)
    if result.status not in (SUCCEEDED, FAILED) or withdrawal.status != WithdrawalStatus.APPROVED:
        if result.channel_reference and not withdrawal.channel_reference:
            withdrawal.channel_reference = result.channel_reference[:64]
        return withdrawal  # pending, or recorded before
    withdrawal.finished_at = utcnow()
    withdrawal.channel_reference = result.channel_reference[:64] or withdrawal.channel_reference
    if result.status == SUCCEEDED:
        _move(withdrawal, "pay")
        withdrawal.payout_status = PayoutStatus.SUCCEEDED
        ledger.post(
            WITHDRAWAL_PAID,
            f"withdrawal:{withdrawal.id}:paid",
            [
                money.Posting(ledger.alliance_account(money.PAYOUTS_IN_TRANSIT), -withdrawal.amount_fen),
                money.Posting(ledger.account(money.AGENT, withdrawal.agent_id, money.PAID), withdrawal.net_fen),
                money.Posting(ledger.alliance_account(money.TAX_WITHHELD), withdrawal.tax_fen),
                money.Posting(ledger.alliance_account(money.FEE_INCOME), withdrawal.fee_fen),
            ],
            actor,
            memo=withdrawal.id,
        )
        audit(actor, "withdrawal.paid", "withdrawal", withdrawal.id, net_fen=withdrawal.net_fen)
        webhooks.emit(db.session, "withdrawal.paid", webhooks.withdrawal_paid_payload(withdrawal))
    else:
        _move(withdrawal, "fail")
        withdrawal.payout_status = PayoutStatus.FAILED
        withdrawal.fail_reason = (result.fail_reason or "FAILED")[:200]
        _return_money(withdrawal, actor)
        audit(actor, "withdrawal.failed", "withdrawal", withdrawal.id, reason=withdrawal.fail_reason)
    return withdrawal


@dataclass
class PayoutRun:
    channel: str
    sent: int = 0
    paid: int = 0
    failed: int = 0
    pending: int = 0
    stopped: str = ""  # the channel's code when it refused the rest (the rest stays approved)
    file: bytes = b""  # the bank file


def run_payouts(actor: str, channel: str, *, limit: int | None = None, adapter=None, again: bool = False) -> PayoutRun:
    """Pay the approved withdrawals of ``channel`` (not one transaction: see the module's docstring)."""
    if channel not in CHANNELS:
        raise InvalidRequest("Unknown payout channel.", field="channel")
    adapter = adapter or channel_named(channel, current_app.config)
    claimed = _claim(channel, limit, again)
    run = PayoutRun(channel, sent=len(claimed))
    if not claimed:
        return run
    try:
        results = adapter.submit([order for _, order in claimed])
    except PayoutUnavailable as exc:
        results, run.stopped = getattr(exc, "done", []), exc.code
    for result in results:
        record_result(actor, result)
        run.paid += result.status == SUCCEEDED
        run.failed += result.status == FAILED
        run.pending += result.status not in (SUCCEEDED, FAILED)
    if isinstance(adapter, BankFileChannel):
        run.file = adapter.last_file
        _audit_run(actor, run)
    return run


@transactional
def _audit_run(actor: str, run: PayoutRun) -> None:
    audit(actor, "payouts.bank_file", "payouts", run.channel, payouts=run.sent)


def import_bank_results(actor: str, text: str) -> PayoutRun:
    """Record the bank's result file (每笔 我方流水号, 状态, 失败原因); unknown references are refused."""
    try:
        results = read_result_file(text)
    except ValueError as exc:
        raise InvalidRequest("The bank's result file is not readable.", problem=str(exc)) from exc
    run = PayoutRun("bank_file")
    for result in results:
        record_result(actor, result)
        run.paid += result.status == SUCCEEDED
        run.failed += result.status == FAILED
    return run


# --- reading -------------------------------------------------------------------------------------------


def get_withdrawal(withdrawal_id: str) -> Withdrawal:
    withdrawal = db.session.get(Withdrawal, withdrawal_id)
    if withdrawal is None:
        raise NotFound("No such withdrawal.", withdrawal_id=withdrawal_id)
    return withdrawal


def list_withdrawals(
    *, agent_id: str | None = None, status: str | None = None, limit: int = 200, offset: int = 0
) -> list[Withdrawal]:
    query = select(Withdrawal)
    if agent_id:
        query = query.where(Withdrawal.agent_id == agent_id)
    if status:
        query = query.where(Withdrawal.status == status)
    return list(
        db.session.scalars(query.order_by(Withdrawal.requested_at.desc(), Withdrawal.id).limit(limit).offset(offset))
    )


def yearly_tax_statement(agent_id: str, year: int) -> YearlyTaxStatement:
    """The agent's tax year from its paid withdrawals (local dates of the payouts)."""
    agent = _get_agent(agent_id)
    zone = ZoneInfo(current_settings().timezone)
    paid = db.session.scalars(
        select(Withdrawal).where(Withdrawal.agent_id == agent_id, Withdrawal.status == WithdrawalStatus.PAID)
    )
    lines = [
        TaxLine(w.finished_at.astimezone(zone).date(), w.amount_fen, w.tax_fen, w.fee_fen, w.out_detail_no)
        for w in paid
    ]
    return yearly_statement(agent.id, agent.kind, year, lines)
