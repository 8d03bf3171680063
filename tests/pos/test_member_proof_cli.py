"""Spending points by phone needs the SMS code the member reads out: `alliance-pos checkout --phone ... --redeem N`
and the cashier window."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from pos_client.checkout import Checkout
from pos_client.config import PosConfig
from pos_client.outbox import Outbox
from pos_client.server_client import ApiError
from pos_client.terminal import terminal_client
from server.extensions import db
from server.models import Sale, SmsMessage
from tests.builders import make_member, make_world
from tests.live_server import live_server
from tests.member.support import sent_codes
from tests.pos.pos_helpers import wait_until, write_config, xvfb_display
from tests.pos.test_gui import pump

PHONE = "13911112222"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def till(app, tmp_path):
    """Shop A under the default till policy (proof needed to spend), a member with 1000 points."""
    with app.app_context():
        world = make_world(spend_requires_proof=True)
        member, _ = make_member(points=1000, phone=PHONE, name="王小明")
        token = world.shop_a.token
    with live_server(app) as url:
        yield {"config": write_config(tmp_path, url, token), "member_id": member.id}


@pytest.fixture(scope="module")
def display():
    return xvfb_display()


def pos(config: Path, *args: str) -> subprocess.Popen:
    """The POS command line in its own process (stdin is the cashier's keyboard)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", "from pos_client.cli import main; main()", "--config", str(config), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def proof_codes(app) -> list[str]:
    """The proof codes as the member's phone received them (the outbox keeps them masked)."""
    with app.app_context():
        texts = db.session.scalars(select(SmsMessage.text).where(SmsMessage.template == "till_proof_code")).all()
        assert all("验证码是******" in text for text in texts)
        codes = sent_codes(PHONE) if texts else []
        db.session.remove()
    return codes


def test_redeeming_by_phone_asks_for_the_sms_code_and_sells_with_it(app, till):
    cashier = pos(till["config"], "checkout", "--amount", "50", "--phone", PHONE, "--redeem", "100", "--json")
    wait_until(lambda: proof_codes(app), timeout=30)
    code = proof_codes(app)[-1]
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    out, err = cashier.communicate(f"{wrong}\n{code}\n", timeout=60)
    assert cashier.returncode == 0, (out, err)
    assert "验证码已发送到 139****2222" in err and "验证码错误或已过期" in err and "会员已验证" in err
    outcome = json.loads(out)
    assert outcome["status"] == "approved" and outcome["redeem_points"] == 100
    assert outcome["member"]["display_name"] == "王*明"  # a phone lookup shows the masked name
    with app.app_context():
        assert db.session.scalars(select(Sale.redeem_points)).all() == [100]


def test_without_the_code_no_points_are_spent(app, till):
    cashier = pos(till["config"], "checkout", "--amount", "50", "--phone", PHONE, "--redeem", "100", "--json")
    out, err = cashier.communicate("", timeout=60)  # the member cannot say the code: the cashier gives up
    assert cashier.returncode != 0, (out, err)
    with app.app_context():
        assert db.session.scalars(select(Sale.id)).all() == []


def test_the_cashier_window_asks_for_the_sms_code_before_spending_points(app, till, display, monkeypatch):
    import tkinter as tk

    from pos_client.gui import app as gui

    codes = []

    def cashier_types_the_code(title, prompt, parent):  # the dialog's answer: the code the member reads out
        codes.append(prompt)
        return proof_codes(app)[-1]

    monkeypatch.setattr(gui.simpledialog, "askstring", cashier_types_the_code)
    config = PosConfig.load(till["config"])
    core = Checkout(terminal_client(config), Outbox(PosConfig.outbox_path(till["config"])))
    root = tk.Tk()
    try:
        window = gui.CashierWindow(root, core)
        pump(root, lambda: "在线" in window.status_text.get())
        window.code.set(PHONE)
        window.identify_phone()
        pump(root, lambda: "王*明" in window.member_text.get())
        window.amount.set("50")
        window.redeem_mode.set("some")
        window.redeem_points.set("100")
        window.pay()
        pump(root, lambda: "会员已验证" in window.message.get())
        assert codes == ["验证码已发送到 139****2222，请会员告诉您验证码"]
        pump(root, lambda: window.shown_for == (5000, 100))  # priced again with the points: 应付 is on screen
        window.pay()
        pump(root, lambda: "交易成功" in window.message.get())
        with app.app_context():
            assert db.session.scalars(select(Sale.redeem_points)).all() == [100]
    finally:
        root.destroy()
        window = root = None  # Tk variables are freed on this (the Tk) thread, as in test_gui
        gc.collect()


def test_the_terminal_asks_for_server_messages_in_its_language(till):
    config = PosConfig.load(till["config"])
    for lang, message in (("zh", "不是有效的中国大陆手机号。"), ("en", "Not a valid mainland China mobile number.")):
        config.lang = lang
        with pytest.raises(ApiError) as refused:
            terminal_client(config).identify(phone="12345")
        assert refused.value.message == message
