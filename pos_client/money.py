"""Money as the cashier types it and as the POS prices an offline sale: integer fen, never floats."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from pos_client.messages import PosError

BP_SCALE = 10_000
MAX_AMOUNT_FEN = 100_000_000  # 1,000,000.00 yuan: nothing a shop till rings up in one sale

# Yuan with at most two decimals: "128", "128.5", "128.50", "128." (the pad's dot before the cents).
_AMOUNT = re.compile(r"(?P<yuan>[0-9]+)(?:\.(?P<fen>[0-9]{0,2}))?")


class AmountError(PosError, ValueError):
    """The text is not an unambiguous amount in yuan; str() says why in Chinese, ``text("en")`` in English."""


def parse_amount(text: str) -> int:
    """An amount in yuan as the cashier types it, as integer fen, exactly; AmountError for anything ambiguous.

    Accepted: digits with an optional dot and at most two decimals ("128", "128.5", "128.50", "128."),
    optionally after a yuan sign, with spaces around it; full-width digits, dot and yuan sign (a Chinese
    input method's "１２８．５０") are read as their ASCII forms. Refused, because a reader could take them
    for another amount: thousands separators and decimal commas ("12,5" is 12.50 in some countries and
    125 in others), more than one dot, a third decimal, signs, spaces inside, exponents, and "。".
    """
    cleaned = unicodedata.normalize("NFKC", text).strip()
    if cleaned.startswith("¥"):
        cleaned = cleaned[1:].lstrip()
    match = _AMOUNT.fullmatch(cleaned)
    if match is None:
        raise AmountError(_amount_problem(cleaned), text=text)
    fen = int(match["yuan"]) * 100 + int((match["fen"] or "").ljust(2, "0"))
    if fen <= 0:
        raise AmountError("amount_not_positive")
    if fen > MAX_AMOUNT_FEN:
        raise AmountError("amount_too_large", limit=yuan(MAX_AMOUNT_FEN))
    return fen


def _amount_problem(cleaned: str) -> str:
    """The message key saying what is wrong with an amount the pattern refused."""
    if not cleaned:
        return "amount_missing"
    if "," in cleaned:
        return "amount_comma"
    if cleaned[0] in "+-" or "-" in cleaned:
        return "amount_sign"
    if any(char.isspace() for char in cleaned):
        return "amount_space"
    if cleaned.count(".") > 1:
        return "amount_dots"
    if re.fullmatch(r"[0-9]*\.[0-9]{3,}", cleaned):
        return "amount_decimals"
    return "amount_format"


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
