"""The alliance's voucher codes: random, readable, with a check character (pure).

A code is :data:`PAYLOAD_LENGTH` characters drawn from a CSPRNG (``secrets``) over :data:`ALPHABET` — 32
characters without the look-alikes 0/O and 1/I — followed by one check character computed with the Luhn
mod N algorithm over the alphabet. The check catches every single mistyped character and nearly every swap of
two adjacent characters, so a till refuses a typo before asking the server; it adds no secrecy (the 75 random
bits do). Codes are shown in groups of four (``ABCD-EFGH-JKLM-NPQR``); dashes and spaces are ignored on input.
"""

from __future__ import annotations

import secrets

ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
N = len(ALPHABET)
PAYLOAD_LENGTH = 15
CODE_LENGTH = PAYLOAD_LENGTH + 1
_INDEX = {char: index for index, char in enumerate(ALPHABET)}


def check_character(payload: str) -> str:
    """The Luhn mod N check character of ``payload`` (every character in :data:`ALPHABET`)."""
    factor = 2
    total = 0
    for char in reversed(payload):
        addend = factor * _INDEX[char]
        factor = 1 if factor == 2 else 2
        total += addend // N + addend % N
    return ALPHABET[(N - total % N) % N]


def new_code() -> str:
    """A fresh voucher code (payload from the CSPRNG, then its check character)."""
    payload = "".join(secrets.choice(ALPHABET) for _ in range(PAYLOAD_LENGTH))
    return payload + check_character(payload)


def normalize(text: str) -> str:
    """A typed or scanned code without dashes and spaces, in upper case."""
    return "".join(text.split()).replace("-", "").upper()


def is_valid(text: str) -> bool:
    """True when ``text`` (normalised) has the right length, only alphabet characters and a matching check."""
    code = normalize(text)
    if len(code) != CODE_LENGTH or any(char not in _INDEX for char in code):
        return False
    return check_character(code[:-1]) == code[-1]


def display(code: str) -> str:
    """The code in groups of four, as printed and shown to the member."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def mask(code: str) -> str:
    """The only form shown outside a reveal: its last four characters after a mask (``****-…-QR7X``)."""
    return "****" + code[-4:] if len(code) > 4 else "****"
