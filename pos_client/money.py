"""Money as the cashier types it and as the POS prices an offline sale: integer fen, never floats."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

BP_SCALE = 10_000
MAX_AMOUNT_FEN = 100_000_000  # 1,000,000.00 yuan: nothing a shop till rings up in one sale

_AMOUNT = re.compile(r"^\d+(\.\d{1,2})?$")


class AmountError(ValueError):
    """The text is not an amount in yuan with at most two decimals; str() says so in Chinese."""


def parse_amount(text: str) -> int:
    """'128.00' / '128' / '0.5' (yuan) as integer fen, exactly; AmountError for anything else."""
    cleaned = text.strip().replace("¥", "").replace("￥", "").replace(",", "")
    if not _AMOUNT.match(cleaned):
        raise AmountError(f"金额格式不对：{text!r}（例如 128.00）")
    try:
        fen = int(Decimal(cleaned) * 100)
    except InvalidOperation as exc:  # pragma: no cover - the pattern already rules this out
        raise AmountError(f"金额格式不对：{text!r}") from exc
    if fen <= 0:
        raise AmountError("金额必须大于 0")
    if fen > MAX_AMOUNT_FEN:
        raise AmountError("金额过大，请核对")
    return fen


def yuan(fen: int) -> str:
    """Integer fen as yuan with two decimals: 12800 -> '128.00'."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole}.{cents:02d}"


def discount_text(discount_bp: int, lang: str = "zh") -> str:
    """What a member pays as a shop says it: 9000 -> '9折' (zh) / 'pays 90%' (en); 10000 -> '无折扣'."""
    if discount_bp >= BP_SCALE:
        return "无折扣" if lang == "zh" else "no discount"
    if lang != "zh":
        return f"pays {discount_bp / 100:g}%"
    return f"{discount_bp / 1000:g}折"


@dataclass(frozen=True)
class OfflineQuote:
    """An offline sale's parts as the POS estimates them (the server prices the replay itself)."""

    discount_fen: int
    payable_fen: int
    points_to_earn: int


def offline_quote(amount_fen: int, discount_bp: int, earn_rate_bp: int, point_value_fen: int) -> OfflineQuote:
    """Level discount rounded half up to the fen, points earned on what is paid (rounded down), no redemption.

    The same rounding as the server's pricing, so the receipt printed offline matches the replayed sale.
    """
    payable = (amount_fen * discount_bp + BP_SCALE // 2) // BP_SCALE
    earned = payable * earn_rate_bp // BP_SCALE // max(point_value_fen, 1)
    return OfflineQuote(amount_fen - payable, payable, earned)
