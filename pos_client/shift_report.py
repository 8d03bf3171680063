"""The shift report (交班单): the shift's sales and refunds from the local outbox, laid out and printed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo

from pos_client.checkout import Checkout
from pos_client.devices.printer import PrinterError
from pos_client.devices.receipt import columns_for, text_width
from pos_client.messages import PosError
from pos_client.money import yuan
from pos_client.outbox import Outbox
from pos_client.payments import DEFAULT as DEFAULT_PAYMENT
from pos_client.payments import METHODS, method_name


@dataclass(frozen=True)
class ShiftTotals:
    """What a shift took: counts and sums in fen and points."""

    shift_no: int
    opened_at: datetime
    closed_at: datetime
    sales: int
    amount_fen: int
    discount_fen: int
    redeem_value_fen: int
    payable_fen: int
    redeem_points: int
    points_earned: int
    offline_sales: int
    pending: int
    failed: int  # sales the customer paid that the server refused (not on the server's books)
    refunds: int
    refunded_fen: int
    failed_fen: int = 0
    voucher_fen: int = 0  # taken off by vouchers (amount = discount + voucher + redeem value + payable)
    # per payment method: what customers paid (refused sales too: the money is in the drawer) minus refunds
    by_method: dict[str, int] = field(default_factory=dict)


def shift_totals(outbox: Outbox, closed_at: datetime | None = None) -> ShiftTotals:
    """Totals of the current shift; a sale counts with the server's figures once sent, else as printed.

    Sales refused while the cashier waited were never charged and do not count; sales refused after the
    customer paid count as refused, with their amount, and in the drawer's per-method totals.
    """
    shift_no = outbox.shift_no()
    every = [sale for sale in outbox.shift_sales(shift_no) if not sale.refused_at_till]
    sales = [sale for sale in every if sale.state != "failed"]
    refused = [sale for sale in every if sale.state == "failed"]
    figures = [sale.figures for sale in sales]

    def total(name: str) -> int:
        return sum(figure.get(name, 0) for figure in figures)

    refunds = outbox.shift_refunds(shift_no)
    by_method = dict.fromkeys(METHODS, 0)
    for sale in every:
        method = sale.body.get("payment_method", DEFAULT_PAYMENT)
        by_method[method] = by_method.get(method, 0) + sale.figures.get("payable_fen", 0)
    for refund in refunds:
        method = refund.get("payment_method", DEFAULT_PAYMENT)
        by_method[method] = by_method.get(method, 0) - refund["amount_fen"]
    return ShiftTotals(
        shift_no=shift_no,
        opened_at=outbox.shift_opened_at(),
        closed_at=closed_at or datetime.now(UTC),
        sales=len(sales),
        amount_fen=total("amount_fen"),
        discount_fen=total("discount_fen"),
        redeem_value_fen=total("redeem_value_fen"),
        payable_fen=total("payable_fen"),
        redeem_points=total("redeem_points"),
        points_earned=total("points_earned"),
        offline_sales=sum(sale.offline for sale in sales),
        pending=sum(sale.state == "pending" for sale in sales),
        failed=len(refused),
        refunds=len(refunds),
        refunded_fen=sum(refund["amount_fen"] for refund in refunds),
        failed_fen=sum(sale.figures.get("payable_fen", 0) for sale in refused),
        by_method=by_method,
        voucher_fen=total("voucher_fen"),
    )


_LABELS = {
    "zh": {
        "title": "交班单",
        "terminal": "终端",
        "shift": "班次",
        "opened": "开始",
        "closed": "结束",
        "sales": "交易笔数",
        "amount": "消费金额",
        "discount": "会员折扣",
        "voucher": "券抵扣",
        "redeem": "积分抵扣({points}分)",
        "payable": "实收金额",
        "earned": "赠送积分",
        "refunds": "退款笔数",
        "refunded": "退款金额",
        "net": "净收金额",
        "offline": "离线交易",
        "pending": "待上传",
        "failed": "被拒交易",
        "failed_fen": "被拒金额(已收款)",
        "methods": "按支付方式(收款-退款)",
        "signature": "收银员签字：",
    },
    "en": {
        "title": "SHIFT REPORT",
        "terminal": "Terminal",
        "shift": "Shift",
        "opened": "Opened",
        "closed": "Closed",
        "sales": "Sales",
        "amount": "Amount",
        "discount": "Member discounts",
        "voucher": "Vouchers",
        "redeem": "Points used ({points})",
        "payable": "Taken",
        "earned": "Points granted",
        "refunds": "Refunds",
        "refunded": "Refunded",
        "net": "Net taken",
        "offline": "Offline sales",
        "pending": "Waiting to upload",
        "failed": "Refused sales",
        "failed_fen": "Refused (paid)",
        "methods": "By payment (paid - refunded)",
        "signature": "Cashier signature:",
    },
}


def pair_text(text: str, value: str, columns: int) -> str:
    """A label on the left and its value on the right of one line."""
    return text + " " * max(1, columns - text_width(text) - text_width(value)) + value


def report_title(lang: str = "zh") -> str:
    """The report's printed title: 交班单 / SHIFT REPORT."""
    return _LABELS[lang]["title"]


def report_lines(
    totals: ShiftTotals,
    merchant: str,
    terminal: str,
    width_mm: int = 58,
    lang: str = "zh",
    zone: tzinfo | None = None,
) -> list[str]:
    """The 交班单 as fixed-width lines for the receipt printer (times in the alliance's ``zone``)."""
    columns = columns_for(width_mm)
    label = _LABELS[lang]

    def pair(key: str, value: str, **values) -> str:
        return pair_text(label[key].format(**values), value, columns)

    rule = "-" * columns
    fmt = "%Y-%m-%d %H:%M"
    return [
        merchant,
        pair("terminal", terminal),
        pair("shift", str(totals.shift_no)),
        pair("opened", totals.opened_at.astimezone(zone).strftime(fmt)),
        pair("closed", totals.closed_at.astimezone(zone).strftime(fmt)),
        rule,
        pair("sales", str(totals.sales)),
        pair("amount", yuan(totals.amount_fen)),
        pair("discount", yuan(-totals.discount_fen)),
        *([pair("voucher", yuan(-totals.voucher_fen))] if totals.voucher_fen else []),
        pair("redeem", yuan(-totals.redeem_value_fen), points=totals.redeem_points),
        pair("payable", yuan(totals.payable_fen)),
        pair("earned", str(totals.points_earned)),
        rule,
        pair("refunds", str(totals.refunds)),
        pair("refunded", yuan(-totals.refunded_fen)),
        pair("net", yuan(totals.payable_fen - totals.refunded_fen)),
        rule,
        pair("offline", str(totals.offline_sales)),
        pair("pending", str(totals.pending)),
        pair("failed", str(totals.failed)),
        pair("failed_fen", yuan(totals.failed_fen)),
        rule,
        label["methods"],
        *(pair_text(method_name(method, lang), yuan(fen), columns) for method, fen in totals.by_method.items()),
        rule,
        label["signature"],
        "",
    ]


@dataclass(frozen=True)
class ShiftClosed:
    """A closed shift: its totals and the report printed for it."""

    totals: ShiftTotals
    lines: list[str]


def close_shift(checkout: Checkout) -> ShiftClosed:
    """Upload waiting sales (if the server answers), print the 交班单 and start the next shift.

    A printer failure raises PosError and leaves the shift open, so the report can be printed (and the
    shift closed) once the printer works again.
    """
    checkout.refresh()
    totals = shift_totals(checkout.outbox)
    shop = checkout.shop_header()
    lines = report_lines(
        totals, shop["merchant_name"], shop["terminal_name"], checkout.width_mm, checkout.lang, checkout.zone
    )
    if checkout.printer is not None:
        try:
            checkout.printer.print_text(report_title(checkout.lang), lines)
        except PrinterError as exc:
            raise PosError("printer_offline_shift", reason=exc) from exc
    checkout.outbox.close_shift()
    return ShiftClosed(totals, lines)
