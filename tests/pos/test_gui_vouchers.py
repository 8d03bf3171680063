"""Done when: the POS window redeems a voucher end to end under Xvfb, with the receipt decoded.

A live server where the member holds two issued 满100减10 vouchers; the window identifies the member (a
scan), the cashier picks a voucher from the list, the 应付 shows it after the member discount, F5 charges and
the printed ESC/POS bytes decode to the voucher line. The second voucher is scanned (a wedge scanner typing its
code while the member is on screen is a voucher, not a member), the server goes away: the window says vouchers
are never redeemed offline, and F5 once it is back sends the same sale.
"""

from __future__ import annotations

import gc
import subprocess

from pos_client.checkout import Checkout
from pos_client.config import PosConfig
from pos_client.devices.printer import open_printer
from pos_client.outbox import Outbox
from pos_client.terminal import terminal_client
from server.services import benefit_stock, catalog
from tests.benefits.helpers import vouchers
from tests.browser import ARTIFACTS_DIR as ARTIFACTS
from tests.builders import ACTOR, make_member, make_world
from tests.live_server import live_server
from tests.pos.pos_helpers import FrontServer, TcpPrinter, printed_text_and_qr, write_config
from tests.pos.test_gui import display, key, pump  # noqa: F401  (display: the Xvfb fixture)


def scan(root, widget, text: str, at_ms: int) -> None:
    """A wedge scanner types ``text`` 5 ms a key and presses Enter."""
    for index, char in enumerate(text):
        key(root, widget, char, at_ms + 5 * index)
    key(root, widget, "Return", at_ms + 5 * len(text))


def test_the_window_redeems_a_voucher_end_to_end_with_the_receipt_decoded(app, tmp_path, display):  # noqa: F811
    import tkinter as tk

    from pos_client.gui.app import CashierWindow

    with app.app_context():
        world = make_world()
        catalog.set_level_discount(ACTOR, world.shop_a.merchant.id, world.levels["normal"].id, 9000)
        member, card = make_member(points=0, name="王小明")
        sku = vouchers("GUI-10", quantity=2)
        code_ids = benefit_stock.allocate(sku.id, member_id=member.id, count=2)
        codes = [benefit_stock.reveal_for_member(member.id, code_id)["code"] for code_id in code_ids]
        token, card_no, voucher_name = world.shop_a.token, card.card_no, sku.name
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
        pump(root, lambda: "在线" in window.status_text.get())
        pad, clock = window.amount_display, 1_000_000

        # identify by scanning the card: the member's two vouchers are listed
        scan(root, pad, card_no, clock)
        pump(root, lambda: "王小明" in window.member_text.get() and window.voucher_list.size() == 2)
        listed = window.voucher_list.get(0, "end")
        assert all(voucher_name in line and "尾号" in line for line in listed)

        # 200.00, 90% for the member: 应付 180.00; the cashier picks the first voucher: 170.00
        clock += 10_000
        for index, char in enumerate("200"):
            key(root, pad, char, clock + 200 * index)
        pump(root, lambda: window.payable_text.get() == "应付 180.00")
        window.voucher_list.selection_set(0)
        window.voucher_list.event_generate("<<ListboxSelect>>")
        pump(root, lambda: window.payable_text.get() == "应付 170.00")
        quote_line = window.quote_text.get()
        assert "会员折扣 -20.00" in quote_line and f"券抵扣 {voucher_name} -10.00" in quote_line
        assert "积分抵扣 0" in quote_line and "实付 170.00" in quote_line
        picked_last4 = listed[0].split("尾号")[1][:4]
        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / "pos-cashier-window-voucher.png"
        subprocess.run(["import", "-display", display, "-window", "root", str(shot)], check=True, timeout=30)

        key(root, pad, "F5")
        pump(root, lambda: "交易成功" in window.message.get())
        pump(root, lambda: len(printer.jobs) == 1)
        text, qr = printed_text_and_qr(printer.jobs[0])
        lines = text.splitlines()
        at = next(index for index, line in enumerate(lines) if line.startswith("券抵扣"))
        assert lines[at].startswith(f"券抵扣 尾号{picked_last4}") and lines[at].endswith("-10.00")
        assert lines[at + 1].strip() == voucher_name  # the voucher's name under its line
        assert "170.00" in text and "-20.00" in text
        assert qr and qr[0].startswith(front.url)  # the e-receipt

        # the next sale: the member again, the other voucher scanned (a voucher, not a member code)
        key(root, pad, "Escape")
        clock += 60_000
        scan(root, pad, card_no, clock)
        pump(root, lambda: "王小明" in window.member_text.get() and window.voucher_list.size() == 1)
        for index, char in enumerate("150"):
            key(root, pad, char, clock + 10_000 + 200 * index)
        pump(root, lambda: window.payable_text.get() == "应付 135.00")
        other = next(code for code in codes if not code.endswith(picked_last4))
        typo = other[:-1] + ("A" if other[-1] != "A" else "B")  # typed into the code field with a wrong character
        window.code.set(typo)
        window.identify_typed()
        pump(root, lambda: "券码有误" in window.message.get())
        assert "王小明" in window.member_text.get() and window.code.get() == typo  # kept to be corrected
        scan(root, pad, other.replace("-", ""), clock + 20_000)
        pump(root, lambda: window.payable_text.get() == "应付 125.00")
        assert "王小明" in window.member_text.get()  # still the same member: the scan was a voucher

        # the server goes away: no voucher offline; F5 when it is back sends the same sale once
        front.stop()
        key(root, pad, "F5")
        pump(root, lambda: "券不能离线核销" in window.message.get())
        assert len(printer.jobs) == 1 and core.outbox.pending_count() == 1
        front.start()
        key(root, pad, "F5")
        pump(root, lambda: "交易成功" in window.message.get())
        pump(root, lambda: len(printer.jobs) == 2)
        text, _ = printed_text_and_qr(printer.jobs[1])
        assert f"尾号{other[-4:]}" in text and "125.00" in text
        assert core.outbox.pending_count() == 0 and len(core.outbox.shift_sales(1)) == 2
        front.stop()
        root.destroy()
        window = root = None
        gc.collect()
    printer.close()
