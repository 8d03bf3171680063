"""Dynamic voucher codes (pure): the member code's one-time scheme applied to a valuable alliance voucher.

A voucher whose value reaches the alliance's threshold is never shown by its printed code: the wallet shows
``V`` + the 7-digit index of the voucher's key + 9 digits of HOTP (HMAC-SHA256, RFC 4226 truncation) over the
30-second time step, exactly the member code's function (``server/domain/member_codes.py``) with the voucher's
own secret. The leading ``V`` and the digits 0 and 1 keep it apart from printed voucher codes (an alphabet
without 0/O/1/I) and from member codes and card numbers (digits only). A till accepts a code in the step it was
made or one step either way, once (the service records each accepted step).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from server.domain.member_codes import INDEX_DIGITS, OTP_DIGITS, match_step, otp

MARKER = "V"
LENGTH = 1 + INDEX_DIGITS + OTP_DIGITS  # 17
_SHAPE = re.compile(rf"^{MARKER}([0-9]{{{INDEX_DIGITS}}})([0-9]{{{OTP_DIGITS}}})$")


@dataclass(frozen=True)
class ParsedVoucherCode:
    """The key index and one-time password read from a dynamic voucher code."""

    index: int
    otp: str


def is_dynamic_voucher(kind_is_voucher: bool, face_value_fen: int, cap_fen: int | None, min_fen: int | None) -> bool:
    """True when a voucher is worth enough (face value, or a percent voucher's cap) to be shown dynamically."""
    if not kind_is_voucher or min_fen is None:
        return False
    return max(face_value_fen or 0, cap_fen or 0) >= min_fen


def voucher_code(index: int, secret: bytes, step: int) -> str:
    """The dynamic code a wallet shows during ``step``."""
    return f"{MARKER}{index:0{INDEX_DIGITS}d}{otp(secret, step)}"


def parse(text: str) -> ParsedVoucherCode | None:
    """Index and password of a scanned or typed dynamic code (spaces and dashes ignored), or None."""
    cleaned = "".join(text.split()).replace("-", "").upper()
    found = _SHAPE.match(cleaned)
    return ParsedVoucherCode(int(found.group(1)), found.group(2)) if found else None


def verify(secret: bytes, presented_otp: str, now_step: int) -> tuple[str, int | None]:
    """``('valid', step)``, ``('expired', step)`` or ``('invalid', None)`` (the member code's windows)."""
    return match_step(secret, presented_otp, now_step)


def display(code: str) -> str:
    """The code as the wallet prints it under the QR: ``V 1234567 123 456 789``."""
    return f"{code[0]} {code[1 : 1 + INDEX_DIGITS]} {code[8:11]} {code[11:14]} {code[14:]}"
