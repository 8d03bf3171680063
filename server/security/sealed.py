"""Short-lived secrets sealed at rest (AES-256-GCM under a key of their own), e.g. SMS codes until sent."""

from __future__ import annotations

import json
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import current_app

_SMS = b"sms outbox"


def _aead() -> AESGCM:
    return AESGCM(current_app.extensions["alliance_keys"].sms_secret_key)


def seal_sms(text: str, secret: str, recipient: str) -> bytes:
    """Nonce + ciphertext of an SMS's full text and the secret it carries (only the sender opens it).

    ``recipient`` (the phone's lookup hash) is bound in: the blob opens only for the message it was made for.
    """
    nonce = os.urandom(12)
    payload = json.dumps({"text": text, "secret": secret}, ensure_ascii=False).encode()
    return nonce + _aead().encrypt(nonce, payload, _SMS + recipient.encode())


def open_sms(blob: bytes, recipient: str) -> tuple[str, str]:
    """The ``(text, secret)`` sealed by :func:`seal_sms` for ``recipient``."""
    payload = json.loads(_aead().decrypt(blob[:12], blob[12:], _SMS + recipient.encode()))
    return payload["text"], payload["secret"]
