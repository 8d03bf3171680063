"""Time-based one-time codes (RFC 6238, pyotp) for the console's optional second factor.

The secret is kept encrypted (``server.security.pii.encrypt_text`` under its own purpose); the
authenticator app reads it from a QR code of its ``otpauth://`` URI (segno).
"""

from __future__ import annotations

import io

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


def code_matches(secret: str, code: str) -> bool:
    """True when ``code`` (six digits) is the current one, or the one just before or after (clock drift)."""
    digits = "".join(ch for ch in code if ch.isdigit())
    return len(digits) == 6 and pyotp.TOTP(secret).verify(digits, valid_window=1)


def seal(secret: str) -> bytes:
    """The secret encrypted for storage."""
    return encrypt_text(secret, PURPOSE)


def unseal(blob: bytes) -> str:
    """The stored secret back."""
    return decrypt_text(blob, PURPOSE)
