"""The shift report (交班单): the shift's sales and refunds from the local outbox, laid out and printed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from pos_client.devices.receipt import columns_for, text_width
from pos_client.money import yuan
from pos_client.outbox import Outbox


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
    failed: int
    refunds: int
    refunded_fen: int


def shift_totals(outbox: Outbox, closed_at: datetime | None = None) -> ShiftTotals:
    """Totals of the current shift; a sale counts with the server's figures once sent, else as printed."""
    shift_no = outbox.shift_no()
    sales = [sale for sale in outbox.shift_sales(shift_no) if sale.state != "failed"]
    figures = [(sale.response or {}).get("sale") or sale.receipt or {} for sale in sales]

    def total(name: str) -> int:
        return sum(figure.get(name, 0) for figure in figures)

    refunds = outbox.shift_refunds(shift_no)
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
        failed=len(outbox.shift_sales(shift_no)) - len(sales),
        refunds=len(refunds),
        refunded_fen=sum(refund["amount_fen"] for refund in refunds),
    )


def report_lines(totals: ShiftTotals, merchant: str, terminal: str, width_mm: int = 58) -> list[str]:
    """The 交班单 as fixed-width lines for the receipt printer."""
    columns = columns_for(width_mm)

    def pair(label: str, value: str) -> str:
        return label + " " * max(1, columns - text_width(label) - text_width(value)) + value

    rule = "-" * columns
    fmt = "%Y-%m-%d %H:%M"
    return [
        merchant,
        pair("终端", terminal),
        pair("班次", str(totals.shift_no)),
        pair("开始", totals.opened_at.astimezone().strftime(fmt)),
        pair("结束", totals.closed_at.astimezone().strftime(fmt)),
        rule,
        pair("交易笔数", str(totals.sales)),
        pair("消费金额", yuan(totals.amount_fen)),
        pair("会员折扣", yuan(-totals.discount_fen)),
        pair(f"积分抵扣({totals.redeem_points}分)", yuan(-totals.redeem_value_fen)),
        pair("实收金额", yuan(totals.payable_fen)),
        pair("赠送积分", str(totals.points_earned)),
        rule,
        pair("退款笔数", str(totals.refunds)),
        pair("退款金额", yuan(-totals.refunded_fen)),
        pair("净收金额", yuan(totals.payable_fen - totals.refunded_fen)),
        rule,
        pair("离线交易", str(totals.offline_sales)),
        pair("待上传", str(totals.pending)),
        pair("被拒交易", str(totals.failed)),
        rule,
        "收银员签字：",
        "",
    ]
