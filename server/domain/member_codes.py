"""Dynamic member codes: prefix + device index + a time-based one-time password (TOTP over HMAC-SHA256).

Layout of the 18 digits: the alliance's 2-digit prefix, the 7-digit index of the phone (device) that
shows it, and 9 digits of HOTP (RFC 4226 dynamic truncation, SHA-256) over the 30-second time step.
The phone computes the same function in JavaScript (server/member/static/member-code.js) from the
device secret it received at login, so it keeps showing valid codes without network.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from server.domain.identifiers import MEMBER_CODE_LENGTH

TIME_STEP_SECONDS = 30
INDEX_DIGITS = 7
OTP_DIGITS = MEMBER_CODE_LENGTH - 2 - INDEX_DIGITS  # 9
ACCEPTED_STEPS = (-1, 0, 1)  # clock skew between phone and server: one step either way
EXPIRED_LOOKBACK_STEPS = 24 * 3600 // TIME_STEP_SECONDS  # older genuine codes are "expired", not "invalid"


@dataclass(frozen=True)
class ParsedCode:
    """The device index and one-time password read from a member code."""

    device_index: int
    otp: str


def time_step(unix_seconds: float) -> int:
    """The TOTP time step of a moment."""
    return int(unix_seconds // TIME_STEP_SECONDS)


def otp(secret: bytes, step: int) -> str:
    """The 9-digit one-time password of ``secret`` at ``step`` (HOTP truncation over HMAC-SHA256)."""
    digest = hmac.new(secret, step.to_bytes(8, "big"), hashlib.sha256).digest()
    offset = digest[-1] & 0x0F
    value = int.from_bytes(digest[offset : offset + 4], "big") & 0x7FFFFFFF
    return f"{value % 10**OTP_DIGITS:0{OTP_DIGITS}d}"


def member_code(prefix: str, device_index: int, secret: bytes, step: int) -> str:
    """The 18-digit code a device shows during ``step``."""
    return f"{prefix}{device_index:0{INDEX_DIGITS}d}{otp(secret, step)}"


def parse_member_code(digits: str, prefix: str) -> ParsedCode:
    """Split an 18-digit member code (already routed by its prefix) into device index and password."""
    body = digits[len(prefix) :]
    return ParsedCode(int(body[:INDEX_DIGITS]), body[INDEX_DIGITS:])


def match_step(secret: bytes, presented_otp: str, now_step: int) -> tuple[str, int | None]:
    """``('valid', step)``, ``('expired', step)`` or ``('invalid', None)`` for a presented password."""
    for delta in ACCEPTED_STEPS:
        if hmac.compare_digest(otp(secret, now_step + delta), presented_otp):
            return "valid", now_step + delta
    for step in range(now_step - 2, max(-1, now_step - EXPIRED_LOOKBACK_STEPS), -1):
        if hmac.compare_digest(otp(secret, step), presented_otp):
            return "expired", step
    return "invalid", None
