"""Per-worker copies of rows that rarely change, kept exact across workers by one version counter.

The sale's hot path reads the alliance settings, the terminal behind a token (with its merchant), the levels,
the webhook subscriptions and the merchant's gift rules on every request; each worker keeps a copy of them
instead. Every transaction that changes one of those rows through the ORM (``WATCHED``) adds 1 to
``alliance_settings.copies_version`` in the same transaction (after its flush), and a copy is used only
while it carries the version the database shows *now*: :func:`version` reads it once per transaction (one
one-column primary-key read, the first statement of the request), so a change committed by any worker or
process is seen by the next transaction everywhere, and one rolled back never was. A transaction that
changed watched rows itself reads them from the database and caches nothing (its version may yet roll
back).

A change made without the ORM (a Core ``UPDATE`` of a watched table, a manual SQL fix) must bump the
counter too: :data:`BUMP` is the statement.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TypeVar

from flask import current_app
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from server.extensions import db
from server.hot_sql import HotStatement
from server.models import AllianceSettings, Level, Merchant, MerchantGiftRule, Terminal, WebhookSubscription

T = TypeVar("T")

WATCHED = (AllianceSettings, Terminal, Merchant, Level, WebhookSubscription, MerchantGiftRule)
MAX_ENTRIES = 10_000  # per copy: keys (tokens) of rows long gone are dropped all at once beyond it

_settings = AllianceSettings.__table__
_VERSION = HotStatement(select(_settings.c.copies_version).where(_settings.c.id == 1))
BUMP = update(_settings).where(_settings.c.id == 1).values(copies_version=_settings.c.copies_version + 1)

_SEEN = "worker_copies_version"  # session.info: the version this transaction read
_CHANGED = "worker_copies_changed"  # session.info: this transaction changed watched rows (and bumped)


@event.listens_for(Session, "after_flush")
def _bump_when_watched_rows_change(session, _context) -> None:
    if session.info.get(_CHANGED):
        return
    if any(isinstance(row, WATCHED) for row in (*session.new, *session.dirty, *session.deleted)):
        session.connection().execute(BUMP)
        session.info[_CHANGED] = True


@event.listens_for(Session, "after_transaction_end")
def _forget_at_transaction_end(session, transaction) -> None:
    if transaction.parent is None:  # the outermost transaction, committed or rolled back
        session.info.pop(_SEEN, None)
        session.info.pop(_CHANGED, None)


_MISSING = object()


def version() -> int | None:
    """The version a copy must carry to be used in this transaction; ``None``: read the rows, keep no copy."""
    info = db.session.info
    if info.get(_CHANGED):
        return None
    seen = info.get(_SEEN, _MISSING)
    if seen is _MISSING:
        info[_SEEN] = seen = _VERSION.scalar({})  # None before the alliance is set up
    return seen


def copied(name: str, key: Hashable, load: Callable[[], T], copy: Callable[[T], T] | None = None) -> T:
    """The worker's copy ``name[key]`` if it is current, else ``load()`` (kept as ``copy(loaded)`` if given).

    ``load`` may raise (an unknown token): nothing is kept then, and an older copy under ``key`` goes.
    """
    current = version()
    store = current_app.extensions.setdefault(name, {})
    hit = store.get(key)
    if hit is not None and current is not None and hit[1] == current:
        return hit[0]
    store.pop(key, None)
    loaded = load()
    if current is not None:
        if len(store) >= MAX_ENTRIES:
            store.clear()
        store[key] = (loaded if copy is None else copy(loaded), current)
    return loaded


def forget_all(app) -> None:
    """Drop every copy this app's worker holds (tests wipe the rows they copy)."""
    for name in [name for name, value in app.extensions.items() if name.startswith(PREFIX)]:
        app.extensions.pop(name, None)


PREFIX = "worker_copy:"  # the names of the copies in ``app.extensions``
