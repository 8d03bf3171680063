"""Bearer tokens (random, stored as SHA-256) and staff passwords (argon2)."""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

TERMINAL_TOKEN_PREFIX = "tt_"
PERSONAL_TOKEN_PREFIX = "pt_"
IDENTIFICATION_TOKEN_PREFIX = "id_"

_password_hasher = PasswordHasher()


def new_token(prefix: str) -> str:
    """A fresh bearer token with 256 random bits."""
    return prefix + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """SHA-256 hex digest: tokens are high-entropy, so a fast hash is enough and keeps lookups cheap."""
    return hashlib.sha256(token.encode()).hexdigest()


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    return _password_hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True when ``password`` matches ``stored_hash``."""
    if not stored_hash:
        return False
    try:
        return _password_hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False
