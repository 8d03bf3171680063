"""Reads that may go to a PostgreSQL streaming replica (``DATABASE_REPLICA_URL``): the one home of the rule.

Reports, dashboards, exports and member history tolerate a replica that is a few seconds behind; everything
that decides money (sales, refunds, settlement, withdrawals, points) reads the primary. A view opts in
explicitly, around the read service it calls::

    with reading_replica():
        figures = build_dashboard(scope)

Inside the block ``db.session`` is a separate session on the replica engine (read-only transactions), so:

- nothing read there can feed a write: the block's session refuses any flush (:class:`ReplicaWriteRefused`),
  its connections are read-only (a real replica refuses writes anyway), and when the block ends that
  session is closed, so the rows it loaded never enter the primary session;
- the primary session of the request is put back untouched when the block ends.

Without ``DATABASE_REPLICA_URL`` the block simply reads the primary in the request's own session (there is
no stale data to keep apart). The lag, measured once per block, is kept on ``flask.g`` and
sent as the ``X-Replica-Lag-Seconds`` header (the pages show it too).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from flask import Flask, current_app, g, has_request_context
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from server.config import normalize_database_url
from server.database import configure_engine

ENGINE_KEY = "alliance_replica_engine"
LAG_HEADER = "X-Replica-Lag-Seconds"
_inside: ContextVar[bool] = ContextVar("reading_replica", default=False)

# seconds the replica's replay is behind: 0 when it has replayed all it received (an idle primary sends
# nothing, which is no lag), None when the server is no replica (a primary, or a copy standing in for one)
LAG_SQL = """
SELECT CASE
    WHEN NOT pg_is_in_recovery() THEN NULL
    WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0
    ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())
END
"""


class ReplicaWriteRefused(RuntimeError):
    """Something tried to write through the session of a replica read: a programming error."""


def init_replica(app: Flask) -> None:
    """Create the replica engine when ``DATABASE_REPLICA_URL`` is set (read-only connections)."""
    url = app.config.get("DATABASE_REPLICA_URL")
    if not url:
        return
    options = app.config.get("SQLALCHEMY_REPLICA_ENGINE_OPTIONS") or app.config["SQLALCHEMY_ENGINE_OPTIONS"]
    engine = create_engine(normalize_database_url(url), **options)
    configure_engine(engine)
    _make_read_only(engine)
    app.extensions[ENGINE_KEY] = engine

    @app.after_request
    def show_lag(response):
        lag = g.get("replica_lag_seconds", _NOT_READ)
        if lag is not _NOT_READ:
            response.headers[LAG_HEADER] = "unknown" if lag is None else f"{lag:.1f}"
        return response


_NOT_READ = object()


def _make_read_only(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        if engine.dialect.name == "postgresql":
            cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
            dbapi_connection.commit()
        else:
            cursor.execute("PRAGMA query_only = ON")
        cursor.close()


def replica_engine() -> Engine | None:
    """The replica's engine, or None when no replica is configured."""
    return current_app.extensions.get(ENGINE_KEY)


def inside_replica_read() -> bool:
    """Whether the code runs inside :func:`reading_replica` (money services assert it does not)."""
    return _inside.get()


def replica_lag_seconds(engine: Engine | None = None) -> float | None:
    """How far the replica's replay is behind, in seconds (None: not a replica or no replica)."""
    engine = engine or replica_engine()
    if engine is None or engine.dialect.name != "postgresql":
        return None
    with engine.connect() as connection:
        lag = connection.execute(text(LAG_SQL)).scalar()
    return None if lag is None else max(0.0, float(lag))


@contextmanager
def reading_replica() -> Iterator[float | None]:
    """Run the block's reads on the replica (or, without one, on the primary) in a session that cannot write.

    Yields the replica's lag in seconds (None: unknown or no replica), also kept for the response.
    """
    from server.extensions import db

    engine = replica_engine()
    if engine is None:  # no replica: the primary's own session reads (a second connection could wait on
        token = _inside.set(True)  # the request's open transaction: SQLite's writer lock)
        try:
            yield None
        finally:
            _inside.reset(token)
        return
    lag = replica_lag_seconds(engine)
    if has_request_context():
        g.replica_lag_seconds = lag
    registry = db.session.registry
    primary = registry() if registry.has() else None
    session = Session(bind=engine, expire_on_commit=False, autoflush=False)
    event.listen(session, "before_flush", _refuse_flush)
    registry.set(session)
    token = _inside.set(True)
    try:
        yield lag
    finally:
        _inside.reset(token)
        session.close()  # the rows it loaded stay readable, detached: no later flush can write them
        if primary is not None:
            registry.set(primary)
        else:
            registry.clear()


def _refuse_flush(session, _flush_context, _instances):
    if session.new or session.dirty or session.deleted:
        raise ReplicaWriteRefused("a replica read may not write: money decisions read the primary")
