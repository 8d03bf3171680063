"""Helpers for driving the API as a terminal does: a real HTTP server, and the database state to compare."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from werkzeug.serving import make_server

from server.extensions import db
from server.models import (
    AuditLog,
    Card,
    IdempotencyRecord,
    Identification,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    Member,
    Refund,
    Sale,
    Terminal,
)
from tests.builders import World, make_member, make_world


@contextmanager
def live_server(app) -> Iterator[str]:
    """Serve ``app`` over real HTTP on a free local port (one thread per request); yield its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


ISO_TIME = "ISO 8601 time with offset"


def assert_shape(value, shape, path: str = "$") -> None:
    """Assert ``value`` has exactly the keys of ``shape`` (nested dicts) and values of its types.

    A type is checked exactly (``True`` is not an ``int``); ``ISO_TIME`` is a string with a UTC offset;
    ``None`` means the value is null.
    """
    if isinstance(shape, dict):
        assert isinstance(value, dict), f"{path}: {value!r} is not an object"
        assert sorted(value) == sorted(shape), f"{path}: keys {sorted(value)} != {sorted(shape)}"
        for key, expected in shape.items():
            assert_shape(value[key], expected, f"{path}.{key}")
    elif shape is ISO_TIME:
        assert isinstance(value, str), f"{path}: {value!r} is not a string"
        assert datetime.fromisoformat(value).utcoffset() is not None, f"{path}: {value!r} has no offset"
    elif shape is None:
        assert value is None, f"{path}: {value!r} is not null"
    else:
        assert type(value) is shape, f"{path}: {value!r} is not {shape.__name__}"


def _json(response):
    return response.json() if callable(response.json) else response.json


def assert_error(response, status: int, code: str, details: dict | None = None) -> dict:
    """Assert the one JSON error shape with this status and stable code; return the body."""
    assert response.status_code == status, (
        response.status_code,
        response.text if hasattr(response, "text") else response.get_data(as_text=True),
    )
    assert response.headers["Content-Type"].startswith("application/json")
    body = _json(response)
    assert_shape(body, {"error": str, "message": str, "status": int, "details": dict})
    assert body["error"] == code
    assert body["status"] == status
    assert body["message"].strip()
    if details is not None:
        assert body["details"] == details
    return body


def _count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def db_state(app) -> dict:
    """Everything a terminal request may change, to compare before and after (call outside a context)."""
    with app.app_context():
        session = db.session
        count = _count
        state = {
            "sales": count(Sale),
            "refunds": count(Refund),
            "ledger_transactions": count(LedgerTransaction),
            "ledger_entries": count(LedgerEntry),
            "idempotency_records": count(IdempotencyRecord),
            "identifications": count(Identification),
            "identifications_used": count(Identification, Identification.used_at.is_not(None)),
            "audit_log": count(AuditLog),
            "balances": dict(session.execute(select(LedgerAccount.id, LedgerAccount.balance)).all()),
            "levels": dict(session.execute(select(Member.id, Member.level_id)).all()),
            "cards": dict(session.execute(select(Card.id, Card.status)).all()),
            "receipt_seqs": dict(session.execute(select(Terminal.id, Terminal.receipt_seq)).all()),
            "sales_refunded": dict(session.execute(select(Sale.id, Sale.refunded_fen)).all()),
        }
        db.session.remove()
        return state


def member_ledger_sum(app, member_id: str) -> tuple[int, int]:
    """(sum of the ledger entries on the member's points account, its cached balance)."""
    with app.app_context():
        account_id = db.session.scalar(select(Member.points_account_id).where(Member.id == member_id))
        total = db.session.scalar(
            select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(LedgerEntry.account_id == account_id)
        )
        balance = db.session.get(LedgerAccount, account_id).balance
        db.session.remove()
        return int(total), int(balance)


# --- building a scene and calling the API like a terminal ----------------------------------------------

_keys = itertools.count(1)


def next_key(kind: str = "sale") -> str:
    """A fresh Idempotency-Key."""
    return f"{kind}-{next(_keys)}"


@dataclass
class Scene:
    """The standard world (shop A and shop B) plus one member with a bound card."""

    world: World
    member: Member
    card: Card

    @property
    def auth(self) -> dict:
        """Shop A's terminal credentials."""
        return self.world.shop_a.auth


def scene(app, points: int = 0, phone: str | None = None, level: str | None = None, **shop_fields) -> Scene:
    """Build the world and a member (optionally moved to ``level``) in ``app``'s database."""
    with app.app_context():
        world = make_world(**shop_fields)
        member, card = make_member(points=points, phone=phone)
        if level:
            db.session.execute(update(Member).where(Member.id == member.id).values(level_id=world.levels[level].id))
            db.session.commit()
        db.session.remove()
    return Scene(world, member, card)


def identify(client, auth: dict, **body) -> str:
    """Identify through the API (test client) and return the identification token."""
    response = client.post("/api/v1/identify", json=body, headers=auth)
    assert response.status_code == 200, response.json
    return response.json["identification"]["token"]


def sell(client, auth: dict, key: str | None = None, **body):
    """POST /sales (test client) with a fresh Idempotency-Key unless ``key`` is given."""
    body.setdefault("redeem_points", 0)
    return client.post("/api/v1/sales", json=body, headers={**auth, "Idempotency-Key": key or next_key()})
