"""Idempotency-Key handling for state-changing POSTs (docs/terminal-api.md, Conventions)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Callable

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import Response, current_app, jsonify, request
from marshmallow import Schema

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


def declared_response() -> tuple[int, Schema]:
    """The success status and schema the serving view declares with ``@blp.response`` (what the document shows)."""
    view = current_app.view_functions[request.endpoint]
    method = getattr(getattr(view, "view_class", None), request.method.lower(), view)
    apidoc = method._apidoc
    (status,) = apidoc["success_status_codes"]
    (declared,) = apidoc["response"]["responses"][status]
    return int(status), declared["schema"]


def idempotent(
    actor: Actor, work: Callable[[], object], *, sealed_field: str | tuple[str, ...] | None = None
) -> Response:
    """Run ``work`` once per Idempotency-Key; replay its response after that.

    What ``work`` returns is dumped by the view's declared response schema (``declared_response``), in the
    work's transaction; that body is stored, so a replay answers byte for byte what the first call did.
    ``sealed_field`` names a new secret in the body (a token, or an object such as a chip's ``card_update``
    with its sector keys): the stored copy holds it encrypted (tokens are otherwise stored only as hashes),
    a replay still gets it back. Several fields: a tuple of names.
    """
    status, schema = declared_response()
    sealed = (sealed_field,) if isinstance(sealed_field, str) else tuple(sealed_field or ())

    def dumped_work() -> tuple[int, dict]:
        body = schema.dump(work())
        body = body | {name: _seal(body[name]) for name in sealed if body.get(name) is not None}
        return status, body

    stored = run_idempotent(actor.key, _key(), _request_hash(), dumped_work)
    body = stored.body
    body = body | {name: _unseal(body[name]) for name in sealed if body.get(name) is not None}
    response = jsonify(body)
    response.status_code = stored.status
    if stored.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


_SEALED_JSON = "json:"  # a sealed object (a chip's card_update with its sector keys) rather than a token


def _seal(secret: str | dict) -> str:
    text = secret if isinstance(secret, str) else _SEALED_JSON + json.dumps(secret, sort_keys=True)
    nonce = os.urandom(12)
    key = current_app.extensions["alliance_keys"].pii_encryption
    return base64.b64encode(nonce + AESGCM(key).encrypt(nonce, text.encode(), _SEALED_SECRET_AAD)).decode()


def _unseal(sealed: str) -> str | dict:
    blob = base64.b64decode(sealed)
    key = current_app.extensions["alliance_keys"].pii_encryption
    text = AESGCM(key).decrypt(blob[:12], blob[12:], _SEALED_SECRET_AAD).decode()
    return json.loads(text.removeprefix(_SEALED_JSON)) if text.startswith(_SEALED_JSON) else text


def idempotent_issuing_secret(actor: Actor, work: Callable[[], object]) -> Response:
    """``idempotent`` for a body whose ``token`` is a new secret: the stored copy holds it encrypted."""
    return idempotent(actor, work, sealed_field="token")
