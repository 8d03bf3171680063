"""A scripted day at the till: 30 sales by card number, phone and member code, 5 refunds, a printer that
fails twice, a server that goes away for 10 sales and comes back, and a shift close — after which the
server's books, the POS outbox, the printed slips and the shift report (交班单) agree to the fen.

Chip cards are not part of this day: they need the system pcscd (tests/hardware, run under flock), and
their sales go through the same outbox, receipt numbering and shift report as the sales here.
Points are spent only with a member code (proof from the member), never after a phone or card number.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from pos_client.checkout import Checkout
from pos_client.config import PosConfig
from pos_client.devices.printer import open_printer
from pos_client.messages import PosError
from pos_client.outbox import Outbox
from pos_client.refunds import refund_by_receipt
from pos_client.shift_report import close_shift
from pos_client.terminal import terminal_client
from server.extensions import db
from server.models import Identification, Refund, Sale
from server.services import catalog, members
from tests.builders import ACTOR, make_member, make_world
from tests.live_server import live_server
from tests.member.support import code_at, register_phone
from tests.pos.pos_helpers import FrontServer, TcpPrinter, printed_text_and_qr, wait_until, write_config

METHODS = ("cash", "wechat", "alipay", "card", "other")
NAMES = {"cash": "现金", "wechat": "微信", "alipay": "支付宝", "card": "银行卡", "other": "其他"}


def fen(text: str) -> int:
    """'-12.34' -> -1234 (exact: the printed figures are compared to the fen)."""
    sign = -1 if text.startswith("-") else 1
    whole, _, cents = text.lstrip("-").partition(".")
    return sign * (int(whole) * 100 + int(cents or 0))


def value(text: str, label: str) -> str:
    match = re.search(rf"^{re.escape(label)}\s+(\S+)\s*$", text, re.MULTILINE)
    assert match, f"{label!r} not on the slip:\n{text}"
    return match.group(1)


@pytest.fixture
def day(app, tmp_path):
    moment = {"now": time.time()}
    app.config["MEMBER_CODE_CLOCK"] = lambda: moment["now"]
    with app.app_context():
        world = make_world()
        catalog.set_level_discount(ACTOR, world.shop_a.merchant.id, world.levels["normal"].id, 9500)
        cards = [make_member(points=500, name=f"卡会员{i}")[1].card_no for i in range(3)]
        phones = []
        for i in range(3):
            phone = f"1390000{i:04d}"
            make_member(points=0, phone=phone, name=f"手机会员{i}", with_card=False)
            phones.append(phone)
        logins = [register_phone(f"1370000{i:04d}") for i in range(2)]
        for login in logins:
            members.adjust_points(ACTOR, login.member.id, 3_000, "test set-up")
        db.session.remove()
    with live_server(app) as url:
        front = FrontServer(url)
        front.start()
        config = write_config(tmp_path, front.url, world.shop_a.token)
        yield {
            "app": app,
            "world": world,
            "config": config,
            "front": front,
            "cards": cards,
            "phones": phones,
            "logins": logins,
            "moment": moment,
        }
        front.stop()
    app.config.pop("MEMBER_CODE_CLOCK")


def test_a_day_at_the_till_agrees_to_the_fen(day):
    app, front, moment = day["app"], day["front"], day["moment"]
    printers = [TcpPrinter()]
    config = day["config"]
    core = Checkout(
        terminal_client(PosConfig.load(config)),
        Outbox(PosConfig.outbox_path(config)),
        open_printer(printers[-1].spec),
    )
    core.refresh()
    print_failures: list[str] = []

    def new_printer():
        printers.append(TcpPrinter())
        core.printer = open_printer(printers[-1].spec)

    def identify(n: int):
        kind = ("card", "phone", "code")[n % 3]
        if kind == "card":
            return kind, core.identify_code(day["cards"][n % 3])
        if kind == "phone":
            return kind, core.identify_phone(day["phones"][n % 3])
        moment["now"] += 60  # each member code is a fresh one
        return kind, core.identify_code(code_at(day["logins"][n % 2], moment["now"]))

    def server_back():
        # the server is back; the ten sales arrive after their identifications expired
        assert core.outbox.pending_count() == 10
        with app.app_context():
            db.session.query(Identification).update({"expires_at": datetime.now(UTC)})
            db.session.commit()
            db.session.remove()
        synced = core.sync()
        assert len(synced.sent) == 10 and synced.remaining == 0 and not synced.rejected

    receipts: dict[str, dict] = {}
    for n in range(30):
        core.reset()
        if n == 20:
            server_back()
        away = 10 <= n < 20  # the server goes away for these ten sales (after identifying the member)
        kind, member = identify(n)
        assert not member.offline
        if away:
            front.stop()
        amount = 1_000 + 137 * n  # 10.00 ... 49.73
        redeem = 200 if kind == "code" and not away else 0  # points only with the member's proof
        core.quote(amount, redeem)
        method = METHODS[n % 5]
        outcome = core.commit(amount, redeem, method)
        assert outcome.status == ("unknown" if away else "approved"), (n, outcome.status)
        if n in (5, 24):  # the printer fails twice
            printers[-1].close()
            with pytest.raises(PosError, match="打印机无法打印"):
                core.print_receipt()
            print_failures.append(outcome.receipt.receipt_no)
            new_printer()
            core.reprint()  # F8: the slip comes out marked 重打
        else:
            core.print_receipt()
        receipts[outcome.receipt.receipt_no] = {"method": method, "amount": amount}
        if away:
            front.start()  # back for the next identification only; the sale stays with the outbox
    # five refunds, one whose slip fails to print (then reprinted); the retry does not refund again
    numbers = sorted(receipts)
    plan = [(numbers[2], 500, "cash"), (numbers[7], None, "wechat"), (numbers[12], 1_000, "alipay"),
            (numbers[21], None, "card"), (numbers[28], 333, "other")]  # fmt: skip
    for index, (number, amount, method) in enumerate(plan):
        reason = f"退款{index + 1}"
        if index == 3:
            printers[-1].close()
            outcome = refund_by_receipt(core, number, amount, reason=reason, payment_method=method)
            assert outcome.print_error is not None and "退款已成功" in outcome.print_error.text()
            new_printer()
            again = refund_by_receipt(core, number, amount, reason=reason, payment_method=method)
            assert again.replayed and again.print_error is None
        else:
            outcome = refund_by_receipt(core, number, amount, reason=reason, payment_method=method)
            assert outcome.print_error is None
    closed = close_shift(core)
    wait_until(lambda: sum(len(p.jobs) for p in printers) == 30 + 5 + 1)

    # --- the server's books ---
    with app.app_context():
        terminal_id = day["world"].shop_a.terminal.id
        sales = db.session.scalars(select(Sale).where(Sale.terminal_id == terminal_id)).all()
        refunds = db.session.scalars(select(Refund)).all()
        books = {
            "sales": len(sales),
            "payable": sum(s.payable_fen for s in sales),
            "refunded": sum(r.amount_fen for r in refunds),
            "points_earned": sum(s.points_earned for s in sales),
            "redeemed": sum(s.redeem_points for s in sales),
            "by_method": {
                m: sum(s.payable_fen for s in sales if s.payment_method == m)
                - sum(r.amount_fen for r in refunds if r.payment_method == m)
                for m in METHODS
            },
            "receipts": {s.receipt_no: (s.payment_method, s.payable_fen) for s in sales},
        }
        assert Counter(s.offline for s in sales) == {False: 20, True: 10}
        assert sum(s.redeem_points > 0 for s in sales) == 7
        db.session.remove()
    assert books["sales"] == 30 and len(refunds) == 5
    assert set(books["receipts"]) == set(receipts)  # every paper number is the server's number
    assert {number: method for number, (method, _) in books["receipts"].items()} == {
        number: sale["method"] for number, sale in receipts.items()
    }

    # --- the POS outbox and the shift report's figures ---
    totals = closed.totals
    assert (totals.sales, totals.pending, totals.failed, totals.refunds) == (30, 0, 0, 5)
    assert totals.payable_fen == books["payable"] and totals.refunded_fen == books["refunded"]
    assert totals.points_earned == books["points_earned"] and totals.redeem_points == books["redeemed"]
    assert totals.by_method == books["by_method"]

    # --- the printed slips ---
    texts = [printed_text_and_qr(job)[0] for printer in printers for job in printer.jobs]
    sale_slips = [t for t in texts if "消费小票" in t]
    refund_slips = [t for t in texts if "退款凭证" in t]
    (report,) = [t for t in texts if "交班单" in t]
    assert len(sale_slips) == 30 and len(refund_slips) == 5
    assert sum("重打" in t for t in sale_slips) == 2 and sum("重打" in t for t in refund_slips) == 0
    printed = {}
    for slip in sale_slips:
        number = value(slip, "小票号：")
        printed[number] = fen(value(slip, "实付金额"))
        assert NAMES[receipts[number]["method"]] == value(slip, "支付方式：")
    assert printed == {number: payable for number, (_, payable) in books["receipts"].items()}
    assert sum(fen(value(slip, "退款金额")) for slip in refund_slips) == books["refunded"]

    # --- the printed 交班单 ---
    assert fen(value(report, "实收金额")) == books["payable"]
    assert fen(value(report, "退款金额")) == -books["refunded"]
    assert fen(value(report, "净收金额")) == books["payable"] - books["refunded"]
    assert {m: fen(value(report, NAMES[m])) for m in METHODS} == books["by_method"]
    assert sum(books["by_method"].values()) == books["payable"] - books["refunded"]
    for printer in printers:
        printer.close()
