"""Engine set-up per backend: SQLite gets foreign keys, WAL and serialized writers."""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.engine import Engine


def configure_engine(engine: Engine) -> None:
    """Make SQLite behave: enforce foreign keys, WAL, wait for locks, take the write lock at BEGIN."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record):
        # pysqlite's own transaction handling would BEGIN lazily; we issue BEGIN ourselves.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA busy_timeout = 30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection):
        # One writer at a time from the start of the transaction: no lock-upgrade deadlocks, and
        # read-then-write checks (idempotency, balances) are serialized as on PostgreSQL with locks.
        connection.exec_driver_sql("BEGIN IMMEDIATE")
