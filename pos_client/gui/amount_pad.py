"""The amount pad's rule for one key: what the amount text becomes (yuan, at most two decimals)."""

from __future__ import annotations

MAX_YUAN_DIGITS = 6  # up to 999,999.99 yuan, within what parse_amount accepts
CLEAR, BACK = "C", "←"


def amount_after_key(current: str, key: str) -> str:
    """The amount text after pressing ``key`` (a digit, '.', CLEAR or BACK); keys that make no amount are ignored."""
    if key == CLEAR:
        return ""
    if key == BACK:
        return current[:-1]
    whole, dot, cents = current.partition(".")
    if key == ".":
        return current if dot else (current or "0") + "."
    if not key.isdigit() or len(key) != 1:
        return current
    if dot:
        return current if len(cents) >= 2 else current + key
    if whole == "0":
        return key  # no leading zeros: "05" is "5"
    return current if len(whole) >= MAX_YUAN_DIGITS else current + key
