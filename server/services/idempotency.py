"""Idempotent execution: the stored response and the change commit in one transaction.

A first request inserts its (actor, key) record before doing the work; a concurrent duplicate blocks
on that unique key until the first commits, then replays its stored response. If it has to wait
longer than ``IDEMPOTENCY_WAIT_SECONDS`` it gets ``request_in_progress``. A request that fails stores
nothing, so a retry with the same key runs again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, select, text
from sqlalchemy.exc import IntegrityError, OperationalError

from server.domain.errors import DomainError
from server.extensions import db
from server.models import IdempotencyRecord
from server.models.base import utcnow
from server.services.unit_of_work import transaction, transactional

KEY_RETENTION = timedelta(days=8)


class IdempotencyKeyReused(DomainError):
    code, status, default_message = (
        "idempotency_key_reused", 422, "This Idempotency-Key was already used with a different request.",
    )


class RequestInProgress(DomainError):
    code, status, default_message = (
        "request_in_progress", 409, "A request with this Idempotency-Key is still being processed.",
    )


@dataclass(frozen=True)
class StoredResponse:
    """What the first request answered."""

    status: int
    body: dict
    replayed: bool


class _DuplicateKey(Exception):
    pass


def _replay(actor: str, key: str, request_hash: str) -> StoredResponse | None:
    record = db.session.scalar(
        select(IdempotencyRecord).where(IdempotencyRecord.actor == actor, IdempotencyRecord.key == key)
    )
    if record is None:
        return None
    if record.request_hash != request_hash:
        raise IdempotencyKeyReused()
    return StoredResponse(record.status_code, record.response_body, replayed=True)


def _is_lock_timeout(exc: OperationalError) -> bool:
    return getattr(exc.orig, "sqlstate", None) == "55P03"


def run_idempotent(actor: str, key: str, request_hash: str, work: Callable[[], tuple[int, dict]]) -> StoredResponse:
    """Run ``work`` (which returns status and JSON body) at most once for (actor, key)."""
    postgres = db.session.get_bind().dialect.name == "postgresql"
    try:
        with transaction():
            stored = _replay(actor, key, request_hash)
            if stored is not None:
                return stored
            record = IdempotencyRecord(actor=actor, key=key, request_hash=request_hash, created_at=utcnow())
            db.session.add(record)
            try:
                if postgres:
                    wait_ms = current_app.config["IDEMPOTENCY_WAIT_SECONDS"] * 1000
                    db.session.execute(text(f"SET LOCAL lock_timeout = {int(wait_ms)}"))
                db.session.flush()
                if postgres:
                    db.session.execute(text("SET LOCAL lock_timeout = DEFAULT"))
            except IntegrityError as exc:
                raise _DuplicateKey() from exc
            status, body = work()
            record.status_code, record.response_body = status, body
            return StoredResponse(status, body, replayed=False)
    except _DuplicateKey:
        with transaction():
            stored = _replay(actor, key, request_hash)
        if stored is None:  # the other request failed and left nothing: ours may run now
            raise RequestInProgress() from None
        return stored
    except OperationalError as exc:
        if _is_lock_timeout(exc):
            raise RequestInProgress() from exc
        raise


@transactional
def purge_expired_keys() -> int:
    """Delete idempotency records older than the retention period; return how many."""
    cutoff = utcnow() - KEY_RETENTION
    return db.session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.created_at < cutoff)).rowcount
