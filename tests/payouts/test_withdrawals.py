"""Withdrawals: request, approve or reject, pay through the channels, fail back to available; money balanced."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from server.domain import money_ledger as money
from server.domain.errors import Conflict, InvalidRequest, WithdrawalRefused
from server.extensions import db
from server.models import AuditLog, WebhookEvent, Withdrawal
from server.payouts.bank_file import BankFileChannel
from server.services import money_ledger as ledger
from server.services import webhooks, withdrawals
from server.services.reconciliation import check_money_ledger_balanced
from tests.payouts.support import ACTOR, BANK, make_agent, owe
from tests.wechat_pay_stand_in import wechat_pay_stand_in

WECHAT = {"channel": "wechat", "payee_name": "李四", "account_number": "o-happy-openid1"}


def alliance(kind: str) -> int:
    return ledger.balance(money.ALLIANCE, money.ALLIANCE_OWNER_ID, kind)


def test_request_holds_the_money_and_the_same_key_answers_the_same_withdrawal(ctx):
    agent = make_agent(fund_fen=100_000)
    first = withdrawals.request_withdrawal(ACTOR, agent.id, 30_000, "k1", **BANK)
    again = withdrawals.request_withdrawal(ACTOR, agent.id, 30_000, "k1", **BANK)
    assert again.id == first.id
    assert (first.amount_fen, first.tax_fen, first.fee_fen, first.net_fen) == (30_000, 6_000, 0, 24_000)
    assert first.account_masked == "**** **** 3445" and b"6222020200112233445" not in first.account_ciphertext
    balances = withdrawals.agent_balances(agent.id)
    assert (balances.available_fen, balances.in_transit_fen) == (70_000, 30_000)
    assert alliance(money.PAYOUTS_IN_TRANSIT) == 30_000
    with pytest.raises(Conflict):
        withdrawals.request_withdrawal(ACTOR, agent.id, 20_000, "k1", **BANK)


def test_refusals_debt_minimum_balance_daily_maximum_and_payee(ctx):
    agent = make_agent(fund_fen=10_000_000)
    withdrawals.update_payout_policy(ACTOR, withdrawal_daily_maximum_fen=50_000)
    with pytest.raises(WithdrawalRefused, match="minimum"):
        withdrawals.request_withdrawal(ACTOR, agent.id, 9_999, "a", **BANK)
    withdrawals.request_withdrawal(ACTOR, agent.id, 40_000, "b", **BANK)
    with pytest.raises(WithdrawalRefused) as refused:
        withdrawals.request_withdrawal(ACTOR, agent.id, 10_001, "c", **BANK)
    assert refused.value.details["reason"] == "daily_maximum"
    poor = make_agent(fund_fen=20_000)
    with pytest.raises(WithdrawalRefused) as refused:
        withdrawals.request_withdrawal(ACTOR, poor.id, 20_001, "d", **BANK)
    assert refused.value.details["reason"] == "available"
    owe(poor.id, 1)
    with pytest.raises(WithdrawalRefused) as refused:
        withdrawals.request_withdrawal(ACTOR, poor.id, 10_000, "e", **BANK)
    assert refused.value.details["reason"] == "debt"
    with pytest.raises(InvalidRequest):
        withdrawals.request_withdrawal(ACTOR, agent.id, 10_000, "f", **{**BANK, "account_number": "12ab"})
    assert db.session.scalar(select(func.count()).select_from(Withdrawal)) == 1
    assert check_money_ledger_balanced() == []


def test_reject_returns_the_money_and_paid_posts_tax_and_fee(ctx):
    webhooks.create_subscription(ACTOR, "财务系统", "https://erp.example.com/hook", ["withdrawal.paid"])
    db.session.commit()
    withdrawals.update_payout_policy(ACTOR, withdrawal_fee_fixed_fen=200, withdrawal_fee_bp=10)
    person, company = make_agent(fund_fen=100_000), make_agent("company", "某某公司", fund_fen=100_000)
    rejected = withdrawals.request_withdrawal(ACTOR, person.id, 20_000, "r", **BANK)
    withdrawals.reject_withdrawal("staff:fin", rejected.id, "账户信息有误")
    assert withdrawals.agent_balances(person.id).available_fen == 100_000
    with pytest.raises(Conflict):
        withdrawals.approve_withdrawal("staff:fin", rejected.id)
    paid = withdrawals.request_withdrawal(ACTOR, person.id, 50_000, "p", **BANK)
    free = withdrawals.request_withdrawal(ACTOR, company.id, 50_000, "c", **BANK)
    for w in (paid, free):
        withdrawals.approve_withdrawal("staff:fin", w.id)
    run = withdrawals.run_payouts("job:payouts", "bank_file")
    assert run.sent == 2 and run.pending == 2
    text = run.file.decode("gbk")
    assert paid.out_detail_no in text and "397.50" in text and "497.50" in text  # 500 − 100 tax − 2.50 fee
    assert withdrawals.run_payouts("job:payouts", "bank_file").sent == 0  # never in two files
    result = withdrawals.import_bank_results(
        "staff:fin", f"我方流水号,状态,失败原因\n{paid.out_detail_no},成功,\n{free.out_detail_no},成功,\n"
    )
    assert result.paid == 2
    assert (db.session.get(Withdrawal, paid.id).status, db.session.get(Withdrawal, free.id).status) == ("paid", "paid")
    assert withdrawals.agent_balances(person.id).paid_fen == 39_750
    assert withdrawals.agent_balances(company.id).paid_fen == 49_750
    assert alliance(money.TAX_WITHHELD) == 10_000 and alliance(money.FEE_INCOME) == 500
    assert alliance(money.PAYOUTS_IN_TRANSIT) == 0
    # the bank's file read twice changes nothing
    withdrawals.import_bank_results("staff:fin", f"{paid.out_detail_no},成功,\n")
    assert withdrawals.agent_balances(person.id).paid_fen == 39_750
    statement = withdrawals.yearly_tax_statement(person.id, datetime.now(UTC).year)
    assert statement.total.tax_fen == 10_000 and statement.total.payouts == 1
    assert check_money_ledger_balanced() == []
    actions = set(db.session.scalars(select(AuditLog.action)))
    assert {"withdrawal.request", "withdrawal.approve", "withdrawal.reject", "withdrawal.paid"} <= actions
    events = db.session.scalars(select(WebhookEvent).where(WebhookEvent.event_type == "withdrawal.paid")).all()
    assert sorted((event.payload["withdrawal_id"], event.payload["amount_fen"]) for event in events) == sorted(
        [(paid.id, 39_750), (free.id, 49_750)]
    )  # once each (the bank's file read twice emitted nothing more), the amount received


def test_wechat_run_pays_fails_back_to_available_and_stops_on_not_enough(app, ctx):
    happy, frozen = make_agent(fund_fen=100_000), make_agent(fund_fen=100_000)
    good = withdrawals.request_withdrawal(ACTOR, happy.id, 50_000, "w1", **WECHAT)
    bad = withdrawals.request_withdrawal(ACTOR, frozen.id, 30_000, "w2", **{**WECHAT, "account_number": "o-frozen-x"})
    later = withdrawals.request_withdrawal(ACTOR, happy.id, 20_000, "w3", **WECHAT)
    for w in (good, bad):
        withdrawals.approve_withdrawal("staff:fin", w.id)
    with wechat_pay_stand_in() as (_, state, config):
        app.config.update(config)
        run = withdrawals.run_payouts("job:payouts", "wechat")
        assert (run.paid, run.failed, run.stopped) == (1, 1, "")
        assert state.paid_fen == 40_000  # the net: 500 − 20 % tax
        failed = db.session.get(Withdrawal, bad.id)
        assert failed.status == "failed" and failed.fail_reason == "ACCOUNT_FROZEN"
        assert withdrawals.agent_balances(frozen.id).available_fen == 100_000  # back to available
        # NOT_ENOUGH: the run stops, the withdrawal stays approved and its money in transit
        withdrawals.approve_withdrawal("staff:fin", later.id)
        state.balance_fen = 0
        stopped = withdrawals.run_payouts("job:payouts", "wechat")
        assert stopped.stopped == "NOT_ENOUGH" and db.session.get(Withdrawal, later.id).status == "approved"
        state.balance_fen = 10**6
        assert withdrawals.run_payouts("job:payouts", "wechat").paid == 1
        assert withdrawals.run_payouts("job:payouts", "wechat").sent == 0
        assert state.paid_fen == 56_000
    assert withdrawals.agent_balances(happy.id).paid_fen == 56_000
    assert alliance(money.PAYOUTS_IN_TRANSIT) == 0
    assert check_money_ledger_balanced() == []


def test_a_lost_answer_is_read_back_not_paid_again(app, ctx):
    agent = make_agent(fund_fen=100_000)
    w = withdrawals.request_withdrawal(ACTOR, agent.id, 50_000, "w1", **WECHAT)
    withdrawals.approve_withdrawal("staff:fin", w.id)
    with wechat_pay_stand_in() as (_, state, config):
        app.config.update(config)

        class LostAnswer:
            def __init__(self, real):
                self.real = real

            def submit(self, orders):
                self.real.submit(orders)  # WeChat paid …
                raise ConnectionError("… and the answer was lost")

        from server.payouts import channel_named

        with pytest.raises(ConnectionError):
            withdrawals.run_payouts("job:payouts", "wechat", adapter=LostAnswer(channel_named("wechat", app.config)))
        assert db.session.get(Withdrawal, w.id).payout_status == "sent"
        assert withdrawals.run_payouts("job:payouts", "wechat").paid == 1
        assert state.paid_fen == 40_000 and sum(1 for s in state.seen if s[0] == "POST") == 1


def test_bank_channel_file_is_the_adapters(ctx):
    agent = make_agent(fund_fen=100_000)
    w = withdrawals.request_withdrawal(ACTOR, agent.id, 10_000, "b", **BANK)
    withdrawals.approve_withdrawal("staff:fin", w.id)
    adapter = BankFileChannel("utf-8")
    run = withdrawals.run_payouts("job:payouts", "bank_file", adapter=adapter)
    assert run.file == adapter.last_file and "6222020200112233445" in run.file.decode()
