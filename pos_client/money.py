"""Money as the cashier types it and as the till shows it: integer fen, never floats.

The POS prices a sale with the shared rule (``alliance_shared.pricing``); this module only reads and
writes amounts for people.
"""

from __future__ import annotations

import re
import unicodedata

from alliance_shared.money import BP_SCALE, format_yuan
from pos_client.messages import PosError

# The till's input ceiling for one typed amount: 1,000,000.00 yuan, nothing a shop till rings up in one sale.
# Lower than the pricing's and the API's MAX_AMOUNT_FEN (alliance_shared/money.py) on purpose: a typed
# amount above it is taken for a typo before anything is priced or sent.
TILL_MAX_AMOUNT_FEN = 100_000_000

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
    if fen > TILL_MAX_AMOUNT_FEN:
        raise AmountError("amount_too_large", limit=yuan(TILL_MAX_AMOUNT_FEN))
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
    """Integer fen as yuan with two decimals: 12800 -> '128.00' (the shared ``format_yuan``)."""
    return format_yuan(fen)


def discount_text(discount_bp: int, lang: str = "zh") -> str:
    """What a member pays as a shop says it: 9000 -> '9折' (zh) / 'pays 90%' (en); 10000 -> '无折扣'."""
    if discount_bp >= BP_SCALE:
        return "无折扣" if lang == "zh" else "no discount"
    if lang != "zh":
        return f"pays {discount_bp / 100:g}%"
    return f"{discount_bp / 1000:g}折"
