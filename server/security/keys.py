"""Key material from configuration; in development derived from SECRET_KEY, in production explicit."""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from functools import cached_property

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from flask import Flask

from server.config import INSTANCE_DIR

KEY_NAMES = (
    "PII_ENCRYPTION_KEY",
    "PII_HASH_KEY",
    "CARD_SIGNING_KEY",
    "CARD_MASTER_KEY",
    "CARD_READ_KEY",
    "BENEFIT_SECRET_KEY",
)


@dataclass(frozen=True)
class KeyRing:
    """The secrets the server works with, each 32 bytes (``card_read`` is shared with terminals)."""

    pii_encryption: bytes
    pii_hash: bytes
    card_signing: bytes
    card_master: bytes
    card_read: bytes
    # benefit codes and secrets (卡密, vouchers): a key of their own (server/security/benefit_secrets.py); empty
    # only in key rings built by hand for tests that never touch benefits (using it then refuses)
    benefit_secret: bytes = b""

    @cached_property
    def card_public_key(self) -> str:
        """The alliance's Ed25519 card-record public key, base64 (terminals verify cards with it)."""
        public = Ed25519PrivateKey.from_private_bytes(self.card_signing).public_key()
        return base64.b64encode(public.public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()

    @cached_property
    def card_read_key(self) -> str:
        """The terminal read secret, base64 (terminals derive each card's read key from it)."""
        return base64.b64encode(self.card_read).decode()

    @cached_property
    def card_counter_key(self) -> bytes:
        """The key of the anti-clone counter MAC, derived from the master key (server only)."""
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"card counter mac").derive(self.card_master)

    @cached_property
    def sms_secret_key(self) -> bytes:
        """The key that seals one-time codes in the SMS outbox until sent, derived from the PII key."""
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"sms outbox secrets").derive(
            self.pii_encryption
        )

    @cached_property
    def benefit_lookup_key(self) -> bytes:
        """The HMAC key of benefit codes' lookup hashes, derived from the benefit secret key."""
        if len(self.benefit_secret) != 32:
            raise RuntimeError("BENEFIT_SECRET_KEY is not loaded")
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"benefit code lookup").derive(
            self.benefit_secret
        )


def _derive(secret_key: str, label: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label.encode()).derive(secret_key.encode())


def _decode(name: str, value: str) -> bytes:
    raw = base64.b64decode(value)
    if len(raw) != 32:
        raise RuntimeError(f"{name} must be 32 bytes, base64-encoded")
    return raw


def development_secret_key() -> str:
    """A SECRET_KEY kept in instance/secret_key, created on first use (development only)."""
    path = INSTANCE_DIR / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def load_keyring(app: Flask) -> KeyRing:
    """Build the key ring from app.config; refuse derived keys where explicit ones are required."""
    values = {}
    for name in KEY_NAMES:
        if app.config.get(name):
            values[name] = _decode(name, app.config[name])
        elif app.config.get("REQUIRE_EXPLICIT_KEYS"):
            raise RuntimeError(f"{name} must be set in production")
        else:
            values[name] = _derive(app.config["SECRET_KEY"], name)
    return KeyRing(*(values[name] for name in KEY_NAMES))
