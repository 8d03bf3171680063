"""Idempotency-Key handling for state-changing POSTs (TERMINAL_API.md, Conventions)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

from flask import Response, jsonify, request

from server.api.auth import Actor
from server.domain.errors import DomainError, InvalidRequest
from server.services.idempotency import run_idempotent

IDEMPOTENCY_HEADER = {
    "Idempotency-Key": {
        "description": "1-255 printable ASCII characters, new for every distinct operation",
        "schema": {"type": "string", "minLength": 1, "maxLength": 255},
        "required": True,
    }
}


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
