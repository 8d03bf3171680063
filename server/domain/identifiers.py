"""Card numbers (prefix + random serial + Luhn check digit), mobile numbers and scanned-code routing."""

from __future__ import annotations

import re

from server.domain.errors import CodeInvalid, InvalidRequest

CARD_NUMBER_LENGTH = 16
MEMBER_CODE_LENGTH = 18
# Prefixes a POS must route elsewhere: WeChat Pay (10-15) and Alipay (25-30) payment codes.
RESERVED_CODE_PREFIXES = {str(n) for n in (*range(10, 16), *range(25, 31))}

_MOBILE = re.compile(r"^1[3-9][0-9]{9}$")  # [0-9], not \d: \d also matches full-width digits


def _ascii_digits(text: str) -> bool:
    # str.isdigit alone accepts full-width and superscript digits, which int() may then reject.
    return text.isascii() and text.isdigit()


def luhn_check_digit(digits: str) -> str:
    """The Luhn check digit to append to ``digits``."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 0:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return str((10 - total % 10) % 10)


def make_card_number(prefix: str, serial: int) -> str:
    """The printed card number for ``serial``: prefix, zero-padded serial, Luhn check digit."""
    width = CARD_NUMBER_LENGTH - len(prefix) - 1
    if serial < 0 or len(str(serial)) > width:
        raise ValueError(f"card serial {serial} does not fit in {width} digits")
    body = f"{prefix}{serial:0{width}d}"
    return body + luhn_check_digit(body)


def card_serial_space(prefix: str) -> int:
    """How many serials a card number with ``prefix`` can hold (serial 0 is never issued)."""
    return 10 ** (CARD_NUMBER_LENGTH - len(prefix) - 1)


def is_valid_card_number(text: str) -> bool:
    """True for a 16-digit number whose last digit is its Luhn check digit."""
    return len(text) == CARD_NUMBER_LENGTH and _ascii_digits(text) and luhn_check_digit(text[:-1]) == text[-1]


def check_member_code_prefix(prefix: str) -> str:
    """Return a valid 2-digit alliance member-code prefix; raise ValueError otherwise."""
    if len(prefix) != 2 or not _ascii_digits(prefix) or prefix in RESERVED_CODE_PREFIXES or prefix[0] == "0":
        raise ValueError("the member-code prefix must be 2 digits, not 0x, 10-15 (WeChat) or 25-30 (Alipay)")
    return prefix


def classify_scanned_code(text: str, member_code_prefix: str) -> tuple[str, str]:
    """Route what a scanner returned: ``('member_code', digits)`` or ``('card_number', digits)``."""
    cleaned = re.sub(r"[\s-]", "", text)
    is_member_code = len(cleaned) == MEMBER_CODE_LENGTH and cleaned.startswith(member_code_prefix)
    if is_member_code and _ascii_digits(cleaned):
        return "member_code", cleaned
    if is_valid_card_number(cleaned):
        return "card_number", cleaned
    raise CodeInvalid()


def normalize_mobile(text: str) -> str:
    """A mainland China mobile number as 11 digits, from forms like ``+86 138-0013-8000``."""
    cleaned = re.sub(r"[\s()-]", "", text)
    for prefix in ("+86", "0086"):
        if cleaned.startswith(prefix):
            cleaned = cleaned[len(prefix) :]
    if not _MOBILE.match(cleaned):
        raise InvalidRequest("Not a valid mainland China mobile number.", field="phone")
    return cleaned


def mask_mobile(mobile: str) -> str:
    """``13800138000`` → ``138****8000``."""
    return f"{mobile[:3]}****{mobile[-4:]}"


def mask_account_number(number: str) -> str:
    """A bank account number shown to most eyes: its last four digits only (``**** **** 1234``)."""
    digits = "".join(number.split())
    return f"**** **** {digits[-4:]}" if len(digits) > 4 else "****"


def mask_name(name: str) -> str:
    """``王小明`` → ``王*明``, ``张三`` → ``张*``: what a till may show of a member it cannot trust yet."""
    if len(name) <= 1:
        return "*" if name else ""
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def mask_card_number(card_no: str) -> str:
    """``8860000012345678`` → ``8860 **** **** 5678``: what a slip shows of a card number."""
    return f"{card_no[:4]} **** **** {card_no[-4:]}" if len(card_no) > 8 else "****"
