"""Time-based one-time codes (RFC 6238, pyotp) for the console's optional second factor.

The secret is kept encrypted (``server.security.pii.encrypt_text`` under its own purpose); the
authenticator app reads it from a QR code of its ``otpauth://`` URI (segno).
"""

from __future__ import annotations

import hmac
import io
import time
from datetime import UTC, datetime

import pyotp
import segno

from server.security.pii import decrypt_text, encrypt_text

PURPOSE = b"totp"
ISSUER = "AllianceCard"


def new_secret() -> str:
    """A fresh base32 secret (160 bits)."""
    return pyotp.random_base32(32)


def provisioning_uri(secret: str, username: str, issuer: str = ISSUER) -> str:
    """The ``otpauth://totp/...`` URI an authenticator app scans."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=issuer)


def qr_svg(uri: str) -> str:
    """The QR code of ``uri`` as inline SVG."""
    out = io.BytesIO()
    segno.make(uri, error="m", micro=False).save(out, kind="svg", scale=5, border=4, xmldecl=False, svgns=True)
    return out.getvalue().decode()


def matching_step(secret: str, code: str, at: float | None = None) -> int | None:
    """The 30-second step whose code ``code`` (six digits) is: the current one, or the one just before or
    after (clock drift); None when it is none of them. Callers refuse a step already used (no replay)."""
    digits = "".join(ch for ch in code if ch.isdigit())
    if len(digits) != 6:
        return None
    generator = pyotp.TOTP(secret)
    now = time.time() if at is None else at
    for offset in (0, -1, 1):
        moment = now + offset * generator.interval
        if hmac.compare_digest(generator.at(moment), digits):
            return generator.timecode(datetime.fromtimestamp(moment, tz=UTC))
    return None


def code_matches(secret: str, code: str) -> bool:
    """True when ``code`` is the current code or the one just before or after."""
    return matching_step(secret, code) is not None


def seal(secret: str) -> bytes:
    """The secret encrypted for storage."""
    return encrypt_text(secret, PURPOSE)


def unseal(blob: bytes) -> str:
    """The stored secret back."""
    return decrypt_text(blob, PURPOSE)
