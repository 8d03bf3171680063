"""How a customer pays the payable part of a sale (the rest after discount and points), and receipt numbers."""

from __future__ import annotations

import re

PAYMENT_METHODS = ("cash", "wechat", "alipay", "card", "other")
"""现金, 微信, 支付宝, 银行卡, 其他: the shift report totals each so the drawer can be counted."""
DEFAULT_PAYMENT_METHOD = "cash"

RECEIPT_SEQ_DIGITS = 6


def receipt_no(prefix: str, seq: int) -> str:
    """A receipt number: the terminal's alliance-wide prefix and its sequence, e.g. ``0007-000123``."""
    return f"{prefix}-{seq:0{RECEIPT_SEQ_DIGITS}d}"


def receipt_seq_of(prefix: str, number: str) -> int | None:
    """The sequence of a receipt number made with ``prefix``, or None if it is not one of that terminal's."""
    match = re.fullmatch(rf"{re.escape(prefix)}-(\d{{{RECEIPT_SEQ_DIGITS}}})", number)
    return int(match.group(1)) if match and int(match.group(1)) > 0 else None


def terminal_receipt_prefix(number: int) -> str:
    """The receipt prefix of the alliance's ``number``-th terminal."""
    return f"{number:04d}"
