"""`alliance-server payouts bank-file | bank-results | wechat | tax-statement` and `bonus-pool distribute`."""

from __future__ import annotations

import json

from server.extensions import db
from server.models import Withdrawal
from server.services import withdrawals
from tests.payouts.support import ACTOR, BANK, make_agent
from tests.test_cli import run  # noqa: F401 - the fixture
from tests.wechat_pay_stand_in import wechat_pay_stand_in


def test_bank_file_then_bank_results(app, run, tmp_path):  # noqa: F811
    with app.app_context():
        agent = make_agent(fund_fen=100_000)
        w = withdrawals.request_withdrawal(ACTOR, agent.id, 50_000, "k", **BANK)
        withdrawals.approve_withdrawal(ACTOR, w.id)
        reference, agent_id = w.out_detail_no, agent.id
        db.session.remove()
    out = tmp_path / "batch.csv"
    result = run("payouts", "bank-file", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["exported"] == 1
    assert "400.00" in out.read_bytes().decode("gbk") and reference in out.read_bytes().decode("gbk")
    assert json.loads(run("payouts", "bank-file", "-o", str(tmp_path / "again.csv")).output)["exported"] == 0
    lost = json.loads(run("payouts", "bank-file", "--again", "-o", str(tmp_path / "lost.csv")).output)
    assert lost["exported"] == 1  # the first file was lost before the upload: made again, same reference
    assert reference in (tmp_path / "lost.csv").read_bytes().decode("gbk")
    answer = tmp_path / "answer.csv"
    answer.write_bytes(f"我方流水号,状态,失败原因\r\n{reference},失败,户名与账号不符\r\n".encode("gbk"))
    assert json.loads(run("payouts", "bank-results", str(answer)).output) == {"paid": 0, "failed": 1}
    with app.app_context():
        assert db.session.get(Withdrawal, w.id).fail_reason == "户名与账号不符"
        assert withdrawals.agent_balances(agent_id).available_fen == 100_000
        db.session.remove()
    statement = json.loads(run("payouts", "tax-statement", "--agent", agent_id, "--year", "2026").output)
    assert statement["total"]["tax_fen"] == 0


def test_wechat_run_and_a_refusal(app, run):  # noqa: F811
    with app.app_context():
        agent = make_agent(fund_fen=100_000)
        w = withdrawals.request_withdrawal(
            ACTOR, agent.id, 10_000, "k", channel="wechat", payee_name="张三", account_number="o-openid-1"
        )
        withdrawals.approve_withdrawal(ACTOR, w.id)
        db.session.remove()
    with wechat_pay_stand_in() as (_, state, config):
        app.config.update(config)
        state.fail_next = ["FREQUENCY_LIMITED"]
        refused = run("payouts", "wechat")
        assert refused.exit_code != 0 and "FREQUENCY_LIMITED" in refused.output
        result = run("payouts", "wechat")
        assert result.exit_code == 0, result.output
        assert json.loads(result.output)["paid"] == 1 and state.paid_fen == 8_000
