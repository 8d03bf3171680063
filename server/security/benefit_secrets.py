"""Benefit codes and secrets (卡密, alliance vouchers) at rest: AES-256-GCM under a key of their own.

- :func:`seal` encrypts a code and its secret together; the associated data binds the stock row's id and its
  SKU, so a blob copied onto another row (or another SKU) does not decrypt.
- :func:`lookup_hash` is the keyed hash (HMAC-SHA256 under a key derived from the benefit key) by which a code is
  found at redemption and de-duplicated at import; without the key it says nothing about the code.
- Only the last four characters are ever stored or shown in clear (``server.domain.voucher_codes.mask``).

The key is ``BENEFIT_SECRET_KEY`` (server/security/keys.py), separate from the PII keys.
"""

from __future__ import annotations

import hmac
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import current_app


class BenefitSealer:
    """Seals and opens benefit codes with explicit keys (the bulk import uses one per file, outside Flask too)."""

    def __init__(self, secret_key: bytes, lookup_key: bytes):
        if len(secret_key) != 32 or len(lookup_key) != 32:
            raise RuntimeError("the benefit keys must be 32 bytes")
        self._aead = AESGCM(secret_key)
        self._lookup_key = lookup_key

    def lookup_hash(self, code: str) -> str:
        """The keyed hash of a code (white space removed)."""
        return hmac.digest(self._lookup_key, normalize_code(code).encode(), "sha256").hex()

    def seal(self, code_id: str, sku_id: str, code: str, secret: str, nonce: bytes | None = None) -> bytes:
        """Nonce + AES-GCM ciphertext of the code and its secret, bound to the row ``code_id`` of ``sku_id``.

        The plaintext is a format byte, the code's length in UTF-8 bytes (2 bytes), the code, the secret.
        ``nonce``: 12 fresh random bytes (a bulk import draws them in one call); by default drawn here."""
        nonce = nonce or os.urandom(12)
        code_bytes = code.encode()
        plain = b"\x01" + len(code_bytes).to_bytes(2, "big") + code_bytes + secret.encode()
        return nonce + self._aead.encrypt(nonce, plain, _associated_data(code_id, sku_id))

    def open(self, code_id: str, sku_id: str, blob: bytes) -> tuple[str, str]:
        """The code and secret back from :meth:`seal` (callers audit the reveal)."""
        plain = self._aead.decrypt(blob[:12], blob[12:], _associated_data(code_id, sku_id))
        if plain[:1] != b"\x01":
            raise ValueError("unknown sealed benefit code format")
        length = int.from_bytes(plain[1:3], "big")
        return plain[3 : 3 + length].decode(), plain[3 + length :].decode()


def _associated_data(code_id: str, sku_id: str) -> bytes:
    return f"benefit-code:{code_id}:{sku_id}".encode()


def normalize_code(code: str) -> str:
    """A code as it is hashed: without surrounding or inner white space (third parties' codes keep their case;
    alliance vouchers are normalised further by ``server.domain.voucher_codes.normalize``)."""
    return "".join(code.split())


def sealer() -> BenefitSealer:
    """The sealer of the running app's key ring."""
    keys = current_app.extensions["alliance_keys"]
    return BenefitSealer(keys.benefit_secret, keys.benefit_lookup_key)
