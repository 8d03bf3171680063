"""Handing out a printed card at the till (issue 15 item 2): `alliance-pos bind-card NUMBER --phone ...` in its own
process and F11 in the cashier window bind the card to the member proven with the SMS code, and print a slip with
the card number and the member masked."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from pos_client.card_binding import binding_key, card_number
from pos_client.checkout import Checkout
from pos_client.config import PosConfig
from pos_client.devices.printer import open_printer
from pos_client.messages import PosError
from pos_client.outbox import Outbox
from pos_client.terminal import terminal_client
from server.extensions import db
from server.models import AuditLog, Card, Level, Member, SmsMessage
from server.services import cards
from tests.browser import ARTIFACTS_DIR as ARTIFACTS
from tests.builders import ACTOR, make_member, make_world
from tests.live_server import live_server
from tests.member.support import sent_codes
from tests.pos.pos_helpers import TcpPrinter, printed_text_and_qr, wait_until, write_config, xvfb_display
from tests.pos.test_gui import key, pump

PHONE, OTHER_PHONE = "13911113333", "13911114444"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def till(app, tmp_path):
    """Shop A with a TCP printer, a member without a card, another member, and a printed batch of gold cards."""
    with app.app_context():
        world = make_world()
        member, _ = make_member(phone=PHONE, name="王小明", with_card=False)
        other, _ = make_member(phone=OTHER_PHONE, name="李四", with_card=False)
        batch = cards.create_batch(ACTOR, 3, kind="printed", level_code="gold")
        numbers = [number for number, _ in cards.batch_print_cards(batch.id)]
        token = world.shop_a.token
        db.session.remove()
    printer = TcpPrinter()
    with live_server(app) as url:
        config = write_config(tmp_path, url, token, printer=printer.spec)
        yield {
            "config": config,
            "printer": printer,
            "numbers": numbers,
            "member_id": member.id,
            "other_id": other.id,
            "terminal_id": world.shop_a.terminal.id,
        }
    printer.close()


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


def codes_sent(app, phone: str) -> list[str]:
    with app.app_context():
        codes = sent_codes(phone)
        db.session.remove()
    return codes


def bound_to(app, card_no: str) -> tuple[str | None, str]:
    with app.app_context():
        card = db.session.scalar(select(Card).where(Card.card_no == card_no))
        db.session.remove()
        return card.member_id, card.status


def test_the_command_line_texts_the_member_binds_the_card_and_prints_a_masked_slip(app, till):
    card_no = till["numbers"][0]
    earlier = len(codes_sent(app, PHONE))  # the log is the session's: numbers masked alike may be in it
    cashier = pos(till["config"], "bind-card", card_no, "--phone", PHONE, "--json")
    wait_until(lambda: len(codes_sent(app, PHONE)) > earlier, timeout=30)
    code = codes_sent(app, PHONE)[-1]
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    out, err = cashier.communicate(f"{wrong}\n{code}\n", timeout=60)
    assert cashier.returncode == 0, (out, err)
    assert "验证码已发送到 139****3333" in err and "验证码错误或已过期" in err and "会员已验证" in err
    outcome = json.loads(out)
    masked = f"{card_no[:4]} **** **** {card_no[-4:]}"
    assert outcome["card"] == {"card_no_masked": masked, "kind": "physical", "status": "active"}
    assert outcome["member"]["display_name"] == "王*明" and outcome["member"]["level"]["name"] == "金卡会员"
    assert outcome["printed"] is True
    assert bound_to(app, card_no) == (till["member_id"], "active")
    with app.app_context():
        actor = db.session.scalar(select(AuditLog.actor).where(AuditLog.action == "card.bind"))
        level = db.session.get(Level, db.session.get(Member, till["member_id"]).level_id).code
        db.session.remove()
    assert actor == f"terminal:{till['terminal_id']}" and level == "gold"

    wait_until(lambda: len(till["printer"].jobs) == 1)
    slip = printed_text_and_qr(till["printer"].jobs[0])[0]
    assert "会员卡绑定凭证" in slip and masked in slip and "王*明" in slip and "金卡会员" in slip and "甲店" in slip
    assert card_no not in slip and "王小明" not in slip

    # the same card for another member: refused in Chinese after the proof, nothing changes
    earlier = len(codes_sent(app, OTHER_PHONE))
    again = pos(till["config"], "bind-card", card_no, "--phone", OTHER_PHONE)
    wait_until(lambda: len(codes_sent(app, OTHER_PHONE)) > earlier, timeout=30)
    out, err = again.communicate(f"{codes_sent(app, OTHER_PHONE)[-1]}\n", timeout=60)
    assert again.returncode == 1 and "此卡已绑定会员，不能再次绑定" in err, (out, err)
    assert bound_to(app, card_no) == (till["member_id"], "active")


def test_a_mistyped_number_is_refused_before_anyone_is_texted(app, till):
    typo = till["numbers"][1][:-1] + str((int(till["numbers"][1][-1]) + 1) % 10)
    cashier = pos(till["config"], "bind-card", typo, "--phone", PHONE)
    out, err = cashier.communicate("", timeout=60)
    assert cashier.returncode == 2 and "卡号有误" in err, (out, err)
    with app.app_context():
        assert db.session.scalars(select(SmsMessage.id)).all() == []  # nobody was texted
        db.session.remove()
    with pytest.raises(PosError):
        card_number("8860 0000")
    spaced = " ".join(till["numbers"][1][i : i + 4] for i in range(0, 16, 4))  # as printed, in groups of four
    assert card_number(spaced) == till["numbers"][1]
    assert binding_key("it_a", "1") == binding_key("it_a", "1") != binding_key("it_b", "1")


def test_f11_in_the_cashier_window_binds_the_card_after_the_sms_code(app, till, display, monkeypatch):
    import tkinter as tk

    from pos_client.gui import app as gui

    asked = []

    def cashier_types_the_code(title, prompt, parent):  # the member reads out the code texted to them
        asked.append(prompt)
        codes = codes_sent(app, PHONE)
        return codes[-1] if len(asked) > 1 else f"{(int(codes[-1]) + 1) % 1_000_000:06d}"  # a slip of the tongue

    monkeypatch.setattr(gui.simpledialog, "askstring", cashier_types_the_code)
    card_no = till["numbers"][1]
    config = PosConfig.load(till["config"])
    core = Checkout(
        terminal_client(config), Outbox(PosConfig.outbox_path(till["config"])), open_printer(till["printer"].spec)
    )
    root = tk.Tk()
    try:
        window = gui.CashierWindow(root, core)
        pump(root, lambda: "在线" in window.status_text.get())
        pad = window.amount_display
        window.code.set(card_no)
        key(root, pad, "F11")  # no member yet: the window says how
        assert "先按 F3 用手机号识别会员" in window.message.get()

        window.code.set(PHONE)
        key(root, pad, "F3")
        pump(root, lambda: "王*明" in window.member_text.get())
        assert "普通会员" in window.member_text.get()
        window.code.set(card_no[:4] + " " + card_no[4:])  # typed with a space, as printed
        key(root, pad, "F11")
        pump(root, lambda: "绑卡成功" in window.message.get(), timeout=30)
        assert len(asked) == 2 and "验证码错误或已过期" in asked[1]
        masked = f"{card_no[:4]} **** **** {card_no[-4:]}"
        assert masked in window.message.get() and "金卡会员" in window.message.get()
        assert "金卡会员" in window.member_text.get()  # the panel shows the level the gold card brought
        assert bound_to(app, card_no) == (till["member_id"], "active")
        wait_until(lambda: len(till["printer"].jobs) == 1)
        slip = printed_text_and_qr(till["printer"].jobs[0])[0]
        assert "会员卡绑定凭证" in slip and masked in slip and "王*明" in slip and card_no not in slip

        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / "pos-bind-card.png"
        subprocess.run(["import", "-display", display, "-window", "root", str(shot)], check=True, timeout=30)

        window.code.set(card_no)  # F11 again for the same card: the first answer, nothing bound twice
        window.message.set("")
        key(root, pad, "F11")  # (its answer is shown after the slip prints: wait for both)
        pump(root, lambda: len(till["printer"].jobs) == 2 and "绑卡成功" in window.message.get())
        assert len(asked) == 2

        # F11 with the code field empty waits for the card: the scanner's burst is that card, not a member
        third = till["numbers"][2]
        window.code.set("")
        key(root, pad, "F11")
        assert "请扫描新卡" in window.message.get()
        clock = 2_000_000
        for index, digit in enumerate(third):
            key(root, pad, digit, clock + 5 * index)
        key(root, pad, "Return", clock + 5 * len(third))
        pump(root, lambda: "绑卡成功" in window.message.get() and third[-4:] in window.message.get())
        assert bound_to(app, third) == (till["member_id"], "active") and "王*明" in window.member_text.get()
        assert len(asked) == 2  # the member proved who they are once for this identification
    finally:
        root.destroy()
        window = root = None  # Tk variables are freed on this (the Tk) thread, as in test_gui
        gc.collect()
