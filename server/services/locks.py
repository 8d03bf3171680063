"""Named PostgreSQL advisory transaction locks, one namespace per database schema.

Advisory lock keys are shared by the whole database, while the alliance's tables live in one schema
(``public`` unless the connection's ``search_path`` names another, as each test run's does). A lock is
the key pair (schema, name), both CRC-32 hashes kept to 31 bits so they read the same as ``int4`` and as
the ``oid`` columns of ``pg_locks``: two alliances, or two test runs, in one database never block each
other, and every worker on one schema takes the same key. On SQLite these take nothing: a transaction
there begins with BEGIN IMMEDIATE, the database's single writer lock.
"""

from __future__ import annotations

import zlib

from sqlalchemy import text

from server.extensions import db


def lock_key(value: str) -> int:
    """A non-negative 31-bit key for ``value`` (the same in every process and on every machine)."""
    return zlib.crc32(value.encode()) & 0x7FFFFFFF


def lock_keys(connection, name: str) -> tuple[int, int]:
    """The advisory lock key pair of lock ``name`` in the schema ``connection`` (or a session) works in."""
    return lock_key(connection.scalar(text("SELECT current_schema()"))), lock_key(name)


def _on_postgres() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def lock(name: str) -> None:
    """Wait for lock ``name`` and hold it until this transaction ends (PostgreSQL only)."""
    if _on_postgres():
        namespace, key = lock_keys(db.session, name)
        db.session.execute(text("SELECT pg_advisory_xact_lock(:namespace, :key)"), {"namespace": namespace, "key": key})


def try_lock(name: str) -> bool:
    """Take lock ``name`` until this transaction ends; False at once if another transaction holds it."""
    if not _on_postgres():
        return True
    namespace, key = lock_keys(db.session, name)
    return bool(
        db.session.scalar(
            text("SELECT pg_try_advisory_xact_lock(:namespace, :key)"), {"namespace": namespace, "key": key}
        )
    )
