"""Personal data at rest: AES-GCM encryption plus a keyed hash (HMAC-SHA256) for exact lookup.

Phones, and merchants' settlement account numbers (each under its own associated data)."""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import current_app


def _keys():
    return current_app.extensions["alliance_keys"]


def keyed_hash(value: str) -> str:
    """HMAC-SHA256 of ``value`` under the PII hash key: findable, but useless without the key."""
    return hmac.new(_keys().pii_hash, value.encode(), hashlib.sha256).hexdigest()


def phone_lookup_hash(mobile: str) -> str:
    """The keyed hash used to find a member by phone without storing the phone in clear."""
    return keyed_hash(mobile)


def phone_suffix_hash(mobile: str) -> str:
    """The keyed hash of a phone's last four digits (a partial search narrows to the few members who share them)."""
    return keyed_hash(f"phone-suffix:{mobile[-4:]}")


def encrypt_phone(mobile: str) -> bytes:
    """Nonce + AES-256-GCM ciphertext of the phone number."""
    nonce = os.urandom(12)
    return nonce + AESGCM(_keys().pii_encryption).encrypt(nonce, mobile.encode(), b"phone")


def decrypt_phone(blob: bytes) -> str:
    """The phone number back from :func:`encrypt_phone` (callers audit-log the access)."""
    return AESGCM(_keys().pii_encryption).decrypt(blob[:12], blob[12:], b"phone").decode()


def encrypt_text(value: str, purpose: bytes) -> bytes:
    """Nonce + AES-256-GCM ciphertext of ``value``, bound to ``purpose`` (e.g. ``b"bank_account"``)."""
    nonce = os.urandom(12)
    return nonce + AESGCM(_keys().pii_encryption).encrypt(nonce, value.encode(), purpose)


def decrypt_text(blob: bytes, purpose: bytes) -> str:
    """The text back from :func:`encrypt_text` with the same ``purpose``."""
    return AESGCM(_keys().pii_encryption).decrypt(blob[:12], blob[12:], purpose).decode()
