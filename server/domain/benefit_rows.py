"""Checking one row of a file of 卡密 (code, secret, optional expiry) before it is imported (pure).

A row is accepted as (code, secret, expires_on) or refused with one of :data:`REJECTION_REASONS`; duplicates
(within the file, against stock) are found by the import service with the keyed hash.
"""

from __future__ import annotations

import functools
import re
from datetime import date, datetime

CODE_PATTERN = re.compile(r"[0-9A-Za-z_\-]{4,64}")
SECRET_PATTERN = re.compile(r"[0-9A-Za-z_\-]{0,64}")
DATE_PATTERN = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})")

REJECTION_REASONS = {
    "bad_code": "The code is missing or not 4 to 64 letters, digits, '-' or '_'.",
    "bad_secret": "The secret is longer than 64 characters or holds other than letters, digits, '-' or '_'.",
    "bad_expiry": "The expiry is not a date (YYYY-MM-DD).",
    "expired": "The code's expiry has passed.",
    "duplicate_in_file": "The code appears earlier in the same file.",
    "duplicate_in_stock": "The code is in stock already.",
    "over_quantity": "The purchase does not await this many codes.",
}

HEADER_WORDS = {"code", "codes", "card", "card_no", "卡号", "卡密", "券码", "兑换码", "secret", "password", "密码"}


class RowRefused(ValueError):
    """A row that cannot be imported; ``reason`` is a key of :data:`REJECTION_REASONS`."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():  # a spreadsheet keeps long digit strings as numbers
        value = int(value)
    return str(value).strip()


def parse_expiry(value) -> date | None:
    """A cell's expiry: a date (or datetime), ``YYYY-MM-DD`` (``/`` or ``.`` also), or empty (None)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = _text(value)
    if not text:
        return None
    return _parse_date_text(text)


@functools.lru_cache(maxsize=4096)  # a file's expiries repeat: parse each spelling once
def _parse_date_text(text: str) -> date:
    match = DATE_PATTERN.fullmatch(text.split(" ")[0])
    if not match:
        raise RowRefused("bad_expiry")
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        raise RowRefused("bad_expiry") from None


def is_header(cells: tuple) -> bool:
    """True when a file's first row names its columns instead of holding a code."""
    return any(_text(cell).lower() in HEADER_WORDS for cell in cells[:3])


def check_row(cells: tuple, today: date, default_expiry: date | None) -> tuple[str, str, date | None]:
    """(code, secret, expires_on) of a row, or :class:`RowRefused`; the expiry defaults to ``default_expiry``."""
    cells = tuple(cells) + (None, None, None)
    code, secret = _text(cells[0]), _text(cells[1])
    if not CODE_PATTERN.fullmatch(code):
        raise RowRefused("bad_code")
    if not SECRET_PATTERN.fullmatch(secret):
        raise RowRefused("bad_secret")
    expires_on = parse_expiry(cells[2]) or default_expiry
    if expires_on is not None and expires_on < today:
        raise RowRefused("expired")
    return code, secret, expires_on


def last4(code: str) -> str:
    """The last four characters of a code: all that is ever shown of it outside a reveal."""
    return code[-4:]
