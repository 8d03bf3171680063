"""The Tk cashier window under Xvfb, driven through a whole sale with key events; a screenshot is kept."""

from __future__ import annotations

import gc
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pos_client.checkout import Checkout
from pos_client.config import PosConfig
from pos_client.devices.printer import open_printer
from pos_client.outbox import Outbox
from pos_client.terminal import terminal_client
from server.services import catalog
from tests.browser import ARTIFACTS_DIR as ARTIFACTS
from tests.builders import ACTOR, make_member, make_world
from tests.live_server import live_server
from tests.pos.pos_helpers import (
    FrontServer,
    TcpPrinter,
    chip_on_the_reader,
    printed_text_and_qr,
    write_config,
    xvfb_display,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def display():
    """The test process's Xvfb server (started on first use); its DISPLAY value."""
    return xvfb_display()


def pump(root, until, timeout: float = 15.0) -> None:
    """Run the Tk event loop until ``until()`` holds."""
    deadline = time.monotonic() + timeout
    while not until():
        assert time.monotonic() < deadline, "the window did not get there in time"
        root.update()
        time.sleep(0.01)


def key(root, widget, keysym: str, at_ms: int = 0) -> None:
    """One key press on ``widget`` with the X event time ``at_ms`` (what tells a scanner from a person)."""
    widget.focus_force()
    widget.event_generate("<KeyPress>", keysym=keysym, when="tail", time=at_ms)
    root.update()


KEYSYMS = {".": "period"}


def test_a_whole_sale_in_the_cashier_window(app, tmp_path, display):
    import tkinter as tk

    from pos_client.gui.app import CashierWindow

    with app.app_context():
        world = make_world()
        catalog.set_level_discount(ACTOR, world.shop_a.merchant.id, world.levels["normal"].id, 9000)
        _, card = make_member(points=300, name="李小红")
        token, card_no = world.shop_a.token, card.card_no
    printer = TcpPrinter()
    with live_server(app) as url:
        front = FrontServer(url)
        front.start()
        config = write_config(tmp_path, front.url, token, printer=printer.spec)
        core = Checkout(
            terminal_client(PosConfig.load(config)), Outbox(PosConfig.outbox_path(config)), open_printer(printer.spec)
        )
        root = tk.Tk()
        window = CashierWindow(root, core)
        pump(root, lambda: "在线" in window.status_text.get() and "打印机: 正常" in window.status_text.get())
        assert "待上传: 0" in window.status_text.get() and "读卡器: 未配置" in window.status_text.get()
        pad = window.amount_display

        # the wedge scanner types the card number 5 ms a key and presses Enter: a scan, not an amount
        clock = 1_000_000
        for index, digit in enumerate(card_no):
            key(root, pad, digit, clock + 5 * index)
        key(root, pad, "Return", clock + 5 * len(card_no))
        pump(root, lambda: "李小红" in window.member_text.get())
        assert "9折" in window.member_text.get() and "300" in window.member_text.get()
        assert window.amount.get() == ""

        # the cashier types 88.80 (a key every 200 ms): 应付 appears; F6 chooses maximum redemption; F5 charges
        clock += 10_000
        for index, char in enumerate("88.80"):
            key(root, pad, KEYSYMS.get(char, char), clock + 200 * index)
        pump(root, lambda: window.payable_text.get() == "应付 79.92")
        key(root, pad, "F6")
        assert window.redeem_mode.get() == "max" and window.payable_text.get() == ""
        pump(root, lambda: window.payable_text.get() == "应付 76.92")
        key(root, pad, "F5")
        key(root, pad, "F5")  # pressed twice: charged once
        pump(root, lambda: "交易成功" in window.message.get())
        pump(root, lambda: len(printer.jobs) == 1)
        receipt_no = window.message.get().split()[-1]
        assert core.outbox.pending_count() == 0 and len(core.outbox.shift_sales(1)) == 1
        text = printed_text_and_qr(printer.jobs[0])[0]
        assert "甲店" in text and "88.80" in text and "-8.88" in text and receipt_no in text
        assert window.payable_text.get() == "应付 76.92" and "-3.00" in window.quote_text.get()

        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / "pos-cashier-window.png"
        subprocess.run(["import", "-display", display, "-window", "root", str(shot)], check=True, timeout=30)
        assert shot.stat().st_size > 10_000

        key(root, pad, "F5")  # the same member again without identifying: refused
        pump(root, lambda: "本单已完成" in window.message.get())
        assert len(core.outbox.shift_sales(1)) == 1

        # a refund of 10.00 by receipt number: typed into the code field and the amount, F7 shows what can
        # still be refunded, then the reason and F7 again refund it
        key(root, pad, "Escape")
        window.code.set(receipt_no)
        for index, char in enumerate("10"):
            key(root, pad, char, clock + 60_000 + 200 * index)
        pump(root, lambda: window.amount.get() == "10")
        key(root, pad, "F7")
        pump(root, lambda: "最多可退 76.92 元" in window.message.get())
        key(root, pad, "F7")  # no reason yet: asked for
        pump(root, lambda: "请输入退款原因" in window.message.get())
        window.refund_reason.set("退一件")
        key(root, pad, "F7")
        pump(root, lambda: "退款成功：10.00 元（现金）" in window.message.get())
        pump(root, lambda: len(printer.jobs) == 2)
        assert "退款凭证" in printed_text_and_qr(printer.jobs[1])[0]

        # Esc clears for the next customer; the printer fails: the sale stands and the cashier is told
        key(root, pad, "Escape")
        assert window.amount.get() == "" and window.member_text.get() == "未识别会员"
        printer.close()
        window.code.set(card_no)
        window.identify_code()
        pump(root, lambda: "李小红" in window.member_text.get())
        window.amount.set("10")
        pump(root, lambda: window.payable_text.get() == "应付 9.00")
        key(root, pad, "F5")
        pump(root, lambda: "打印机无法打印" in window.message.get())
        assert "交易已完成" in window.message.get() and "打印机: 上次打印失败" in window.status_text.get()
        assert "连接不上" in window.message.get()  # the printer's reason, in Chinese
        window.probe_devices()
        pump(root, lambda: "打印机: 连接不上" in window.status_text.get())

        # the server goes away: codes are refused offline with a clear message, the status says offline
        key(root, pad, "Escape")
        front.stop()
        window.code.set(card_no)
        window.identify_code()
        pump(root, lambda: "离线状态只能刷实体会员卡" in window.message.get())
        assert "服务器: 离线" in window.status_text.get()
        subprocess.run(
            ["import", "-display", display, "-window", "root", str(ARTIFACTS / "pos-cashier-window-offline.png")],
            check=True,
            timeout=30,
        )
        root.destroy()
        # Tk variables must be freed on this (the Tk) thread, not by a collection in a server thread
        window = root = None
        gc.collect()


def test_alliance_pos_gui_serves_members_by_keyboard_alone_and_never_charges_a_stale_amount(app, tmp_path, display):
    """`alliance-pos gui` in its own process; xdotool types as the scanner and the cashier do.

    The issue's two cases: after a 66.60 sale, typing 20 for the next member was ignored (66.60 charged);
    after a 50 sale it made 5020 while the screen still said 应付 50.00. Identifying the next member
    (a scan, F3 and a phone number) without Esc must start a new sale.
    """
    with app.app_context():
        world = make_world()
        _, card = make_member(points=1000, name="赵大", phone="13912345678")
        token, card_no = world.shop_a.token, card.card_no
    printer = TcpPrinter()
    with live_server(app) as url:
        config = write_config(tmp_path, url, token, printer=printer.spec)
        gui = subprocess.Popen(
            [sys.executable, "-m", "pos_client.cli", "--config", str(config), "gui"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            found = subprocess.run(
                ["xdotool", "search", "--sync", "--onlyvisible", "--class", "alliance-pos"],
                capture_output=True,
                text=True,
                timeout=30,
            )
            window_id = found.stdout.split()[0]

            def xdotool(*args):
                subprocess.run(["xdotool", *args], check=True, timeout=30)

            def charge(amount: str, *keys: str) -> str:
                """The cashier types the amount (150 ms a key), presses ``keys``, waits for 应付, presses F5."""
                jobs = len(printer.jobs)
                xdotool("type", "--delay", "150", amount)
                for name in keys:
                    xdotool("key", name)
                xdotool("sleep", "1.5", "key", "F5")  # 应付 is on screen: F5 charges it
                deadline, again = time.monotonic() + 30, time.monotonic() + 4
                while len(printer.jobs) == jobs:
                    assert time.monotonic() < deadline, "no receipt printed"
                    if time.monotonic() > again:  # a loaded machine: 应付 was not shown yet, F5 asked to check
                        xdotool("key", "F5")
                        again = time.monotonic() + 4
                    time.sleep(0.05)
                return printed_text_and_qr(printer.jobs[-1])[0]

            xdotool("windowfocus", "--sync", window_id)
            xdotool("type", "--delay", "5", card_no + "\n")  # a scanner: 5 ms a key, then Enter
            assert "66.60" in charge("66.60")
            xdotool("type", "--delay", "5", card_no + "\n")  # the next member, no Esc
            second = charge("20")
            assert "20.00" in second and "66.60" not in second
            # F3 puts the cursor in the code field; the phone number, Enter; the amount lands in the amount
            xdotool("key", "F3", "sleep", "0.3", "type", "--delay", "50", "13912345678")
            xdotool("key", "Return")
            third = charge("50", "F6")  # F6: maximum redemption
            assert "50.00" in third and "积分抵扣" in third
            xdotool("type", "--delay", "5", card_no + "\n")
            fourth = charge("20")
            assert "20.00" in fourth and "5020" not in fourth and "50.00" not in fourth
            xdotool("key", "F5", "sleep", "1")  # again without a new identification: refused, nothing printed
            assert len(printer.jobs) == 4
        finally:
            subprocess.run(
                ["import", "-display", display, "-window", "root", str(ARTIFACTS / "pos-gui-process.png")],
                check=True,
                timeout=30,
            )
            gui.kill()
            output = gui.communicate(timeout=10)[0].decode()
        assert "Traceback" not in output, output
    with app.app_context():
        from sqlalchemy import select

        from server.extensions import db
        from server.models import Sale

        amounts = db.session.scalars(select(Sale.amount_fen).order_by(Sale.created_at)).all()
    assert amounts == [6_660, 2_000, 5_000, 2_000]
    printer.close()


def test_the_window_in_english_without_a_server(tmp_path, display):
    import tkinter as tk

    from pos_client.gui.app import CashierWindow

    core = Checkout(
        terminal_client(PosConfig(server_url="http://127.0.0.1:9", token="tt_x")), Outbox(tmp_path / "o.sqlite3")
    )
    root = tk.Tk()
    window = CashierWindow(root, core, lang="en")
    pump(root, lambda: "Server: offline" in window.status_text.get())
    assert root.title() == "AllianceCard POS" and "Waiting: 0" in window.status_text.get()
    key(root, window.amount_display, "F5")
    assert window.message.get() == "Enter an amount such as 128.00"
    window.code.set("13800138000")
    key(root, window.amount_display, "F3")
    pump(root, lambda: "Offline only a chip card can be used" in window.message.get())
    key(root, window.amount_display, "F2")
    pump(root, lambda: "no reader connected" in window.message.get())
    root.destroy()
    window = root = None
    gc.collect()


def test_bad_redemption_input_is_explained(tmp_path, display):
    import tkinter as tk

    from pos_client.gui.app import CashierWindow

    core = Checkout(
        terminal_client(PosConfig(server_url="http://127.0.0.1:9", token="tt_x")), Outbox(tmp_path / "o.sqlite3")
    )
    root = tk.Tk()
    window = CashierWindow(root, core)
    pump(root, lambda: "服务器: 离线" in window.status_text.get())
    window.amount.set("12.5")
    window.redeem_mode.set("some")
    window.redeem_points.set("abc")
    key(root, window.amount_display, "F4")
    assert window.message.get() == "请输入要抵扣的积分数（正整数）"
    window.amount.set("12.345")
    key(root, window.amount_display, "F5")
    assert "金额最多两位小数" in window.message.get()
    root.destroy()
    window = root = None
    gc.collect()


def test_the_payable_on_screen_is_always_the_one_charged(app, tmp_path, display):
    import tkinter as tk

    from pos_client.gui.app import CashierWindow

    with app.app_context():
        world = make_world()
        catalog.set_level_discount(ACTOR, world.shop_a.merchant.id, world.levels["normal"].id, 9000)
        _, card = make_member(points=0, name="钱多多")
        token, card_no = world.shop_a.token, card.card_no
    with live_server(app) as url:
        config = write_config(tmp_path, url, token)
        core = Checkout(terminal_client(PosConfig.load(config)), Outbox(PosConfig.outbox_path(config)))
        root = tk.Tk()
        window = CashierWindow(root, core)
        pad = window.amount_display
        pump(root, lambda: "在线" in window.status_text.get())
        # the amount typed before the member shows the code: F5 first needs the member; the amount stays
        for index, char in enumerate("50"):
            key(root, pad, char, 5_000_000 + 200 * index)  # a person's pace, not a scanner's
        pump(root, lambda: window.amount.get() == "50")
        key(root, pad, "F5")
        assert window.message.get() == "请先识别会员（刷卡、扫码或输入手机号）"
        window.code.set(card_no)
        window.identify_code()
        pump(root, lambda: "钱多多" in window.member_text.get())
        pump(root, lambda: window.payable_text.get() == "应付 45.00")
        assert int(str(window.payable_display.cget("font")).split()[-2]) > 24  # larger than the amount's 24

        # one more digit: the 45.00 on screen is void at once; F5 before the new price charges nothing
        window.press("2")  # the on-screen pad's key, then F5 at once
        assert window.amount.get() == "502" and window.payable_text.get() == ""
        window.pay()
        assert window.message.get() == "请核对应付金额，再按 F5 确认收款"
        pump(root, lambda: window.payable_text.get() == "应付 451.80")
        pump(root, lambda: not window.busy)
        assert core.outbox.shift_sales(1) == []
        key(root, pad, "F5")
        pump(root, lambda: "交易成功" in window.message.get())
        assert [sale.body["amount_fen"] for sale in core.outbox.shift_sales(1)] == [50_200]
        assert window.payable_text.get() == "应付 451.80"

        # the next member without Esc: a new sale, nothing of the last one is left to charge
        window.code.set(card_no)
        window.identify_code()
        assert window.amount.get() == "" and window.payable_text.get() == "" and window.redeem_mode.get() == "none"
        pump(root, lambda: "钱多多" in window.member_text.get() and not window.busy)
        key(root, pad, "F5")
        assert "请输入金额" in window.message.get() and len(core.outbox.shift_sales(1)) == 1
        root.destroy()
        window = root = None
        gc.collect()


def test_the_status_line_says_what_is_true_of_reader_and_printer(tmp_path, display):
    import tkinter as tk

    from alliance_shared.devices.card_reader import NoReaderFound
    from pos_client.gui.app import CashierWindow

    def no_reader():
        raise NoReaderFound()

    core = Checkout(
        terminal_client(PosConfig(server_url="http://127.0.0.1:9", token="tt_x")),
        Outbox(tmp_path / "o.sqlite3"),
        open_printer(f"file:{tmp_path}/missing/lp0"),
    )
    root = tk.Tk()
    window = CashierWindow(root, core, reader_factory=no_reader)
    pump(root, lambda: "读卡器: 未连接" in window.status_text.get() and "打印机: 连接不上" in window.status_text.get())
    assert "正常" not in window.status_text.get()
    ARTIFACTS.mkdir(exist_ok=True)
    subprocess.run(
        ["import", "-display", display, "-window", "root", str(ARTIFACTS / "pos-cashier-window-status.png")],
        check=True,
        timeout=30,
    )
    (tmp_path / "missing").mkdir()
    (tmp_path / "missing" / "lp0").write_bytes(b"")  # the printer's device appears
    window.probe_devices()
    pump(root, lambda: "打印机: 正常" in window.status_text.get())
    root.destroy()
    window = root = None
    gc.collect()


def test_refund_after_a_printer_error_and_a_refused_sale_in_the_window(app, tmp_path, display):
    """A refund whose slip fails to print stands: F7 again does not refund twice, F8 prints it marked 重打.
    A sale the server refuses after the customer paid is shown in red with its receipt number and amount."""
    import tkinter as tk

    from sqlalchemy import select, update

    from pos_client.gui.app import CashierWindow
    from server.extensions import db
    from server.models import Identification, Refund

    with app.app_context():
        world = make_world()
        _, card = make_member(points=0, name="赵一")
        token, card_no = world.shop_a.token, card.card_no
    printer = TcpPrinter()
    with live_server(app) as url:
        front = FrontServer(url)
        front.start()
        config = write_config(tmp_path, front.url, token, printer=printer.spec)
        core = Checkout(
            terminal_client(PosConfig.load(config)), Outbox(PosConfig.outbox_path(config)), open_printer(printer.spec)
        )
        root = tk.Tk()
        window = CashierWindow(root, core)
        pad = window.amount_display
        pump(root, lambda: "在线" in window.status_text.get())
        window.code.set(card_no)
        window.identify_code()
        pump(root, lambda: "赵一" in window.member_text.get())
        window.amount.set("40")
        key(root, pad, "w", 1_000)  # W: paid by WeChat
        pump(root, lambda: window.pay_method.get() == "wechat" and window.shown_for is not None)  # 应付 shown
        key(root, pad, "F5")
        pump(root, lambda: "交易成功" in window.message.get())
        receipt_no = window.message.get().split()[-1]
        pump(root, lambda: len(printer.jobs) == 1)
        assert "微信" in printed_text_and_qr(printer.jobs[0])[0]

        key(root, pad, "Escape")
        printer.close()
        window.code.set(receipt_no)
        key(root, pad, "F7")
        pump(root, lambda: "最多可退 40.00 元" in window.message.get())
        window.refund_reason.set("质量问题")
        key(root, pad, "F7")
        pump(root, lambda: "退款凭证无法打印" in window.message.get())
        message = window.message.get()
        assert "退款成功：40.00 元" in message and "请检查打印机后按 F8 重打" in message
        assert window.message_label.cget("fg") == "#b00000" and "打印机: 上次打印失败" in window.status_text.get()

        # the cashier, unsure, refunds again: the same refund, nothing paid twice
        window.code.set(receipt_no)
        window.refund_reason.set("质量问题")
        key(root, pad, "F7")
        pump(root, lambda: "之前已经完成" in window.message.get())
        with app.app_context():
            assert [r.amount_fen for r in db.session.scalars(select(Refund))] == [4_000]

        printer = TcpPrinter()
        core.printer = open_printer(printer.spec)
        key(root, pad, "F8")
        pump(root, lambda: len(printer.jobs) == 1)
        slip = printed_text_and_qr(printer.jobs[0])[0]
        assert "退款凭证" in slip and "重打" in slip and "40.00" in slip and "质量问题" in slip

        # a 600.00 sale: the server goes away before the commit, comes back after the identification expired;
        # above the offline cap the server refuses it: red, with its receipt number and amount
        key(root, pad, "Escape")
        window.code.set(card_no)
        window.identify_code()
        pump(root, lambda: "赵一" in window.member_text.get())
        front.stop()
        window.amount.set("600")
        pump(root, lambda: window.shown_for is not None)  # 应付 on screen (priced on the till: no points)
        key(root, pad, "F5")
        pump(root, lambda: "服务器无应答" in window.message.get())
        with app.app_context():
            db.session.execute(update(Identification).values(expires_at=datetime.now(UTC)))
            db.session.commit()
            db.session.remove()
        front.start()
        key(root, pad, "F9")
        pump(root, lambda: "服务器拒绝了 1 笔已收款交易，共 600.00 元" in window.message.get())
        refused_no = core.outbox.rejected()[0].receipt["receipt_no"]
        assert f"小票 {refused_no}  600.00 元" in window.message.get()
        assert window.message_label.cget("fg") == "#b00000"
        root.destroy()
        window = root = None
        gc.collect()
    printer.close()


def test_a_tap_after_the_amount_is_the_sale_in_one_request_and_points_mean_identify_first(app, tmp_path, display):
    import tkinter as tk

    from pos_client.gui.app import CashierWindow

    with app.app_context():
        world = make_world()
        catalog.set_level_discount(ACTOR, world.shop_a.merchant.id, world.levels["normal"].id, 9000)
        _, card = make_member(points=300, name="张一刷")
        token, card_id = world.shop_a.token, card.id
    with live_server(app) as url:
        front = FrontServer(url)
        front.start()
        config = write_config(tmp_path, front.url, token)
        core = Checkout(terminal_client(PosConfig.load(config)), Outbox(PosConfig.outbox_path(config)))
        root = tk.Tk()
        window = CashierWindow(root, core)
        pump(root, lambda: "在线" in window.status_text.get())
        core.reader = object()  # the tap below reads the chip the alliance wrote (tests/hardware: a real reader)
        chip_on_the_reader(app, core, card_id)
        window.amount.set("50")  # the amount first, then the tap: sold at once, the member shown from the answer
        window.tap_card()
        pump(root, lambda: "交易成功" in window.message.get())
        (sent,) = front.gate.sales_seen
        assert "card" in sent and "identification_token" not in sent and sent["amount_fen"] == 5_000
        assert "张一刷" in window.member_text.get() and window.payable_text.get() == "应付 45.00"
        # the next customer redeems points: the tap identifies, nothing is sold until F5
        window.next_customer()
        window.amount.set("50")
        window.redeem_mode.set("max")
        window.tap_card()
        pump(root, lambda: "张一刷" in window.member_text.get() and window.sale_state == "open")
        assert len(front.gate.sales_seen) == 1
        root.destroy()
        window = root = None
        gc.collect()
        front.stop()
