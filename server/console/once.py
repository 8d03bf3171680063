"""Forms that change something run once: a resubmitted form (reload, double click) replays the first result.

Each such form carries a random one-time key rendered with the page; the change and the stored result
commit together through the same idempotency service the API uses (server/services/idempotency.py).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable

from flask import request

from server.console.access import current_actor
from server.domain.errors import InvalidRequest
from server.services.idempotency import StoredResponse, run_idempotent


def new_key() -> str:
    """A fresh one-time key for a form."""
    return secrets.token_urlsafe(18)


def run_once(key: str | None, work: Callable[[], dict]) -> StoredResponse:
    """Run ``work`` (returning a JSON-able dict) once for this form key; ``replayed`` tells a repeat."""
    if not key or len(key) > 64:
        raise InvalidRequest("The form is missing its one-time key; reload the page.")
    fields = {name: value for name, value in request.form.items() if name not in {"csrf_token", "once"}}
    digest = hashlib.sha256(json.dumps([request.path, fields], sort_keys=True).encode()).hexdigest()
    return run_idempotent(current_actor().key, f"console:{key}", digest, lambda: (200, work()))
