"""Idempotency-Key handling for state-changing POSTs (docs/terminal-api.md, Conventions)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Callable

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import Response, current_app, jsonify, request

from server.domain.errors import DomainError, InvalidRequest
from server.domain.permissions import Actor
from server.services.idempotency import run_idempotent

IDEMPOTENCY_PARAMETER = {
    "in": "header",
    "name": "Idempotency-Key",
    "description": "1-255 printable ASCII characters, new for every distinct operation",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[ -~]+$"},
    "required": True,
}
_SEALED_SECRET_AAD = b"idempotent-response-secret"


class IdempotencyKeyRequired(DomainError):
    code, status, default_message = "idempotency_key_required", 400, "Send an Idempotency-Key header."


def _key() -> str:
    key = request.headers.get("Idempotency-Key")
    if key is None or key == "":
        raise IdempotencyKeyRequired()
    if len(key) > 255 or not all(32 <= ord(char) <= 126 for char in key):
        raise InvalidRequest("The Idempotency-Key must be 1-255 printable ASCII characters.", field="Idempotency-Key")
    return key


def _request_hash() -> str:
    body = request.get_json(silent=True)
    canonical = json.dumps([request.method, request.path, body], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def idempotent(actor: Actor, status: int, work: Callable[[], dict]) -> Response:
    """Run ``work`` (returning the JSON body) once per Idempotency-Key; replay its response after that."""
    stored = run_idempotent(actor.key, _key(), _request_hash(), lambda: (status, work()))
    response = jsonify(stored.body)
    response.status_code = stored.status
    if stored.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


def _seal(secret: str) -> str:
    nonce = os.urandom(12)
    key = current_app.extensions["alliance_keys"].pii_encryption
    return base64.b64encode(nonce + AESGCM(key).encrypt(nonce, secret.encode(), _SEALED_SECRET_AAD)).decode()


def _unseal(sealed: str) -> str:
    blob = base64.b64decode(sealed)
    key = current_app.extensions["alliance_keys"].pii_encryption
    return AESGCM(key).decrypt(blob[:12], blob[12:], _SEALED_SECRET_AAD).decode()


def idempotent_issuing_secret(actor: Actor, status: int, work: Callable[[], dict]):
    """Like ``idempotent``, for a body whose ``token`` is a new secret: the stored copy holds it encrypted.

    A retry with the same Idempotency-Key still gets the token back, but the database never holds a
    usable token in clear (tokens themselves are stored only as hashes).
    """

    def sealed_work() -> dict:
        body = work()
        return body | {"token": _seal(body["token"])}

    response = idempotent(actor, status, sealed_work)
    body = response.get_json()
    unsealed = jsonify(body | {"token": _unseal(body["token"])})
    unsealed.status_code = response.status_code
    if "Idempotent-Replayed" in response.headers:
        unsealed.headers["Idempotent-Replayed"] = response.headers["Idempotent-Replayed"]
    return unsealed
