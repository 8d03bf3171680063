"""Engine set-up per backend: SQLite gets foreign keys, WAL and serialized writers; PostgreSQL a pool that
finds connections the server closed without a round trip per request."""

from __future__ import annotations

import select

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError


def configure_engine(engine: Engine) -> None:
    """Per backend: :func:`_configure_postgresql` or :func:`_configure_sqlite`."""
    if engine.dialect.name == "postgresql":
        _configure_postgresql(engine)
    elif engine.dialect.name == "sqlite":
        _configure_sqlite(engine)


def closed_by_server(dbapi_connection) -> bool:
    """Whether an idle connection's socket has something to read: the server closed it (or said why, FATAL).

    An idle PostgreSQL connection is sent nothing unprompted (this application does not LISTEN), so data
    waiting on it means ``pg_terminate_backend``, a restart or ``idle_session_timeout`` ended it. One
    ``poll`` system call, no round trip.
    """
    poller = select.poll()
    poller.register(dbapi_connection.fileno(), select.POLLIN | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(0))


def _configure_postgresql(engine: Engine) -> None:
    """No pre-ping (one round trip per request): a connection the server closed is replaced at checkout.

    Raising ``DisconnectionError`` in ``checkout`` makes the pool drop that connection and hand out another
    (or a new one) before any statement of the transaction ran. A connection lost silently (a network
    partition) fails its first statement instead, which also invalidates the pool's older connections;
    ``pool_recycle`` (server/config.py) bounds a connection's age.
    """

    @event.listens_for(engine, "checkout")
    def on_checkout(dbapi_connection, _record, _proxy):
        if closed_by_server(dbapi_connection):
            raise DisconnectionError("the server closed this pooled connection")


def _configure_sqlite(engine: Engine) -> None:
    """Make SQLite behave: enforce foreign keys, WAL, wait for locks, take the write lock at BEGIN."""

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
