"""The scripted day at the till (issue 11), one home for the script: 30 sales, 5 refunds, a printer that
fails twice, a server that goes away for 10 sales and comes back, a shift close — after which the server's
books, the POS outbox, the printed slips and the shift report (交班单) agree to the fen.

tests/pos/test_till_day.py plays it with members identified by printed card number, phone and member
code; tests/hardware/test_till_day_cards.py plays it with chip-card taps too, through the real pcscd and
a virtual MIFARE card. Points are spent only with proof from the member (a member code or a chip card),
never after a phone or card number, and never offline.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from pos_client.checkout import Checkout, Member
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
from tests.builders import ACTOR, make_member
from tests.member.support import code_at, register_phone
from tests.pos.pos_helpers import FrontServer, TcpPrinter, printed_text_and_qr, wait_until

METHODS = ("cash", "wechat", "alipay", "card", "other")
NAMES = {"cash": "现金", "wechat": "微信", "alipay": "支付宝", "card": "银行卡", "other": "其他"}
DISCOUNT_BP = 9500  # shop A's discount for its normal (rank-0) members on this day
# how the server records each way of identifying: a printed card number and a member code are both scanned codes
BOOKED_AS = {"card": "code", "phone": "phone", "code": "code", "chip": "card"}


def fen(text: str) -> int:
    """'-12.34' -> -1234 (exact: the printed figures are compared to the fen)."""
    sign = -1 if text.startswith("-") else 1
    whole, _, cents = text.lstrip("-").partition(".")
    return sign * (int(whole) * 100 + int(cents or 0))


def value(text: str, label: str) -> str:
    match = re.search(rf"^{re.escape(label)}\s+(\S+)\s*$", text, re.MULTILINE)
    assert match, f"{label!r} not on the slip:\n{text}"
    return match.group(1)


@dataclass
class Members:
    """The day's customers: printed card numbers, phone numbers and member-code phones (logins)."""

    cards: list[str]
    phones: list[str]
    logins: list


@contextmanager
def day_settings(app) -> Iterator[dict]:
    """A member-code clock the day moves on, and phone lookups at the pace of a day played in seconds;
    yields the clock ({"now": unix seconds})."""
    moment = {"now": time.time()}
    app.config["MEMBER_CODE_CLOCK"] = lambda: moment["now"]
    # ten phone lookups a minute per terminal is a real till's pace, not this
    app.config["RATE_LIMITS"] = {"identify_phone:terminal": "1000/minute", "identify_phone:member": "1000/minute"}
    try:
        yield moment
    finally:
        app.config.pop("MEMBER_CODE_CLOCK")
        app.config["RATE_LIMITS"] = {}


def stock_day(merchant_id: str, level_id: str) -> Members:
    """In an app context: the shop's discount for the level and the day's members (card, phone, code)."""
    catalog.set_level_discount(ACTOR, merchant_id, level_id, DISCOUNT_BP)
    cards = [make_member(points=500, name=f"卡会员{i}")[1].card_no for i in range(3)]
    phones = []
    for i in range(3):
        phone = f"1390000{i:04d}"
        make_member(points=0, phone=phone, name=f"手机会员{i}", with_card=False)
        phones.append(phone)
    logins = [register_phone(f"1370000{i:04d}") for i in range(2)]
    for login in logins:
        members.adjust_points(ACTOR, login.member.id, 3_000, "test set-up")
    return Members(cards, phones, logins)


def open_till(config, reader=None) -> tuple[Checkout, list[TcpPrinter]]:
    """The POS core of the registered terminal in ``config`` with a TCP printer (and ``reader``), refreshed."""
    printers = [TcpPrinter()]
    core = Checkout(
        terminal_client(PosConfig.load(config)),
        Outbox(PosConfig.outbox_path(config)),
        open_printer(printers[-1].spec),
        reader,
    )
    core.refresh()
    return core, printers


@dataclass
class Day:
    """Everything the script drives: the server, the front the POS reaches it through, the till."""

    app: object
    front: FrontServer
    core: Checkout
    printers: list[TcpPrinter]
    customers: Members
    moment: dict
    tap: Callable[[], Member] | None = None  # a chip-card tap on the reader; None: no chip cards today
    plan: list[dict] = field(default_factory=list)  # what happened, sale by sale


def play_day(day: Day) -> dict:
    """Play the day and check that everything agrees to the fen; returns the server's books."""
    app, front, core, moment, who = day.app, day.front, day.core, day.moment, day.customers
    kinds = ("card", "phone", "code") if day.tap is None else ("card", "phone", "code", "chip")

    def new_printer():
        day.printers.append(TcpPrinter())
        core.printer = open_printer(day.printers[-1].spec)

    def identify(n: int, kind: str):
        if kind == "card":
            return core.identify_code(who.cards[n % 3])
        if kind == "phone":
            return core.identify_phone(who.phones[n % 3])
        if kind == "chip":
            return day.tap()
        moment["now"] += 60  # each member code is a fresh one
        return core.identify_code(code_at(who.logins[n % 2], moment["now"]))

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
        away = 10 <= n < 20  # the server goes away for these ten sales
        kind = kinds[n % len(kinds)]
        if away and kind == "chip":
            front.stop()  # a chip card is read with the server away: priced from the signed card record
        member = identify(n, kind)
        if away and kind == "chip":
            assert member.offline and member.points_balance is None and member.discount_bp == DISCOUNT_BP
        else:
            assert not member.offline
            if kind == "chip":  # the anti-clone counter was written back while the card was on the reader
                assert member.card_written is True, member.notice
        if away:
            front.stop()  # (after identifying the member online, for the others)
        amount = 1_000 + 137 * n  # 10.00 ... 49.73
        redeem = 200 if kind in ("code", "chip") and not away else 0  # points only with the member's proof
        core.quote(amount, redeem)
        method = METHODS[n % 5]
        outcome = core.commit(amount, redeem, method)
        expected = ("offline" if kind == "chip" else "unknown") if away else "approved"
        assert outcome.status == expected, (n, kind, outcome.status)
        if n in (5, 24):  # the printer fails twice
            day.printers[-1].close()
            with pytest.raises(PosError, match="打印机无法打印"):
                core.print_receipt()
            new_printer()
            core.reprint()  # F8: the slip comes out marked 重打
        else:
            core.print_receipt()
        receipts[outcome.receipt.receipt_no] = {"method": method, "amount": amount}
        day.plan.append({"kind": kind, "away": away, "status": outcome.status, "redeem": redeem})
        if away:
            front.start()  # back for the next identification only; the sale stays with the outbox
    # five refunds, one whose slip fails to print (then reprinted); the retry does not refund again
    numbers = sorted(receipts)
    plan = [(numbers[2], 500, "cash"), (numbers[7], None, "wechat"), (numbers[12], 1_000, "alipay"),
            (numbers[21], None, "card"), (numbers[28], 333, "other")]  # fmt: skip
    for index, (number, amount, method) in enumerate(plan):
        reason = f"退款{index + 1}"
        if index == 3:
            day.printers[-1].close()
            outcome = refund_by_receipt(core, number, amount, reason=reason, payment_method=method)
            assert outcome.print_error is not None and "退款已成功" in outcome.print_error.text()
            new_printer()
            again = refund_by_receipt(core, number, amount, reason=reason, payment_method=method)
            assert again.replayed and again.print_error is None
        else:
            outcome = refund_by_receipt(core, number, amount, reason=reason, payment_method=method)
            assert outcome.print_error is None
    closed = close_shift(core)
    wait_until(lambda: sum(len(p.jobs) for p in day.printers) == 30 + 5 + 1)

    # --- the server's books ---
    with app.app_context():
        terminal_id = core.info["terminal"]["id"]
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
        assert sum(s.redeem_points > 0 for s in sales) == sum(step["redeem"] > 0 for step in day.plan)
        assert Counter(s.method for s in sales) == Counter(BOOKED_AS[step["kind"]] for step in day.plan)
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
    texts = [printed_text_and_qr(job)[0] for printer in day.printers for job in printer.jobs]
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
    for printer in day.printers:
        printer.close()
    return books
