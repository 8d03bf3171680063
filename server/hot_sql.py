"""The sale's most frequent statements, sent to psycopg as prepared statements on PostgreSQL.

Through ``Session.execute`` one Core statement costs about twice the Python of the same statement sent on the
session's own psycopg connection, prepared once per connection (execution context, result metadata, ORM
execution events: 181 against 80 µs of CPU in bench/README.md, "Hot statements"). A :class:`HotStatement`
compiles its Core statement once per set of parameter names and sends it on the DBAPI connection of the
session's transaction, so it commits or rolls back with everything else. It keeps what SQLAlchemy would
have done with the values: the columns' bind processors (a naive datetime for a UTC column is refused) and
result processors (datetimes come back in UTC), and the engine's ``before_cursor_execute`` listeners see
the statement (tests capture the sale's statements that way), the session is flushed first as
``Session.execute`` would (autoflush), and a driver error is raised as SQLAlchemy's (``IntegrityError``,
``OperationalError``; a lost connection is invalidated). Rows are named tuples (``row.status``).

Fewer round trips: a write whose answer the caller does not need (an INSERT, the stored response) can be
*deferred* (``defer(params)``): it is queued on the connection and sent, in psycopg's pipeline mode, in the
same round trip as the next statement that needs a result — the next hot statement, any statement
SQLAlchemy executes, or the transaction's COMMIT. The BEGIN psycopg sends before a transaction's first
statement rides with that statement the same way. Order is kept (a deferred row exists before any later
statement runs), so is the transaction: a deferred statement that fails makes the statement it was sent
with (or the commit) raise its error, and the whole transaction rolls back as it would have; a rollback
drops what is still queued. A statement whose answer is needed later, not now, is *sent ahead*
(``send(params)``, a :class:`Pending`): queued the same way, its rows read when wanted (sending the queue
then if nothing carried it yet).

On SQLite it is ``Session.execute`` (``defer`` runs at once). Parameters are one dict (no executemany).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
from psycopg.pq import ExecStatus, TransactionStatus
from psycopg.rows import namedtuple_row
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import Pool
from sqlalchemy.sql import Executable

from server.extensions import db

_CURSOR = "hot_sql_cursor"  # the pool record's info: a cursor kept for the connection
_DEFERRED = "hot_sql_deferred"  # an attribute of the psycopg connection: [(sql, values, Pending | None)] to send


class _Compiled:
    """One compilation: the SQL text, how to complete and convert parameters, how to convert results."""

    def __init__(self, statement: Executable, dialect, keys: tuple[str, ...]):
        compiled = statement.compile(dialect=dialect, column_keys=list(keys))
        self.compiled = compiled
        self.sql: str = compiled.string
        self.bind_processors: dict[str, Callable] = dict(compiled._bind_processors)
        self.result_processors: list[Callable | None] | None = None  # by result column, made at first use

    def parameters(self, params: dict[str, Any]) -> dict[str, Any]:
        values = self.compiled.construct_params(params, _check=False)
        for name, process in self.bind_processors.items():
            if name in values:
                values[name] = process(values[name])
        return values

    def result_processing(self, dialect) -> list[Callable | None]:
        if self.result_processors is None:
            self.result_processors = [
                entry.type._cached_result_processor(dialect, None) for entry in self.compiled._result_columns
            ]
        return self.result_processors


class HotStatement:
    """A Core statement of the hot path: ``rows(params)``, ``first(params)``, ``scalar(params)``."""

    def __init__(self, statement: Executable):
        self.statement = statement
        self._compiled: dict[tuple[str, ...], _Compiled] = {}

    def rows(self, params: dict[str, Any]) -> list:
        session = db.session()  # the request's Session itself, not the scoped proxy
        connection = session.connection()
        if connection.dialect.name != "postgresql":
            result = session.execute(self.statement, params)
            return list(result) if getattr(result, "returns_rows", True) else []
        compiled, values, cursor = self._prepare(session, connection, params)
        driver = cursor.connection
        deferred = driver.__dict__.pop(_DEFERRED, None)
        try:
            if deferred or driver.info.transaction_status == TransactionStatus.IDLE:
                with driver.pipeline():  # one round trip: the BEGIN still to send, what was deferred, this
                    _send(driver, deferred)
                    cursor.execute(compiled.sql, values, prepare=True)
            else:
                cursor.execute(compiled.sql, values, prepare=True)
        except psycopg.Error as error:  # as SQLAlchemy raises it: IntegrityError, OperationalError (lock timeout)…
            raise _translated(connection, cursor, compiled.sql, values, error) from error
        return _fetched(compiled, cursor, connection.dialect)

    def defer(self, params: dict[str, Any]) -> None:
        """Run the statement, its result unused, in the round trip of the next statement needing one (or the
        COMMIT) on PostgreSQL; at once on SQLite."""
        session = db.session()
        connection = session.connection()
        if connection.dialect.name != "postgresql":
            session.execute(self.statement, params)
            return
        compiled, values, cursor = self._prepare(session, connection, params)
        cursor.connection.__dict__.setdefault(_DEFERRED, []).append((compiled.sql, values, None))

    def send(self, params: dict[str, Any]) -> Pending:
        """Send the statement ahead (as ``defer``); its rows are read later from the :class:`Pending`."""
        session = db.session()
        connection = session.connection()
        if connection.dialect.name != "postgresql":
            return Pending(None, connection, self.rows(params))
        compiled, values, cursor = self._prepare(session, connection, params)
        pending = Pending(compiled, connection)
        cursor.connection.__dict__.setdefault(_DEFERRED, []).append((compiled.sql, values, pending))
        return pending

    def _prepare(self, session, connection, params: dict[str, Any]):
        """The compiled statement, its values and the connection's cursor; the session flushed first and the
        listeners told, as ``Session.execute`` would."""
        if session.autoflush:  # rows the session holds pending exist before this statement runs
            session.flush()
        keys = tuple(params)
        compiled = self._compiled.get(keys)
        if compiled is None:
            compiled = self._compiled[keys] = _Compiled(self.statement, connection.dialect, keys)
        values = compiled.parameters(params)
        cursor = _cursor(connection)
        dispatch = connection.dispatch.before_cursor_execute
        if dispatch:  # listeners (a test capturing statements): they see what is sent, in order
            for listener in dispatch:
                listener(connection, cursor, compiled.sql, values, None, False)
        return compiled, values, cursor

    def first(self, params: dict[str, Any]):
        found = self.rows(params)
        return found[0] if found else None

    def scalar(self, params: dict[str, Any]):
        row = self.first(params)
        return None if row is None else row[0]


class Pending:
    """A statement sent ahead: ``rows()``, ``first()``, ``scalar()`` once its round trip is back."""

    def __init__(self, compiled: _Compiled | None, connection, rows: list | None = None):
        self._compiled, self._connection, self._rows = compiled, connection, rows
        self.cursor = None  # the cursor its results arrive on, once sent (``_send``)

    def rows(self) -> list:
        if self._rows is None:
            if self.cursor is None:  # nothing carried it yet: send the queue now
                _send_queue(self._connection, self._connection.connection.driver_connection)
            self._rows = _fetched(self._compiled, self.cursor, self._connection.dialect)
        return self._rows

    def first(self):
        found = self.rows()
        return found[0] if found else None

    def scalar(self):
        row = self.first()
        return None if row is None else row[0]


def _fetched(compiled: _Compiled, cursor, dialect) -> list:
    """The rows a cursor received, converted by the statement's result columns."""
    if cursor.pgresult is None or cursor.pgresult.status != ExecStatus.TUPLES_OK:  # no rows (cheaper than
        return []  # ``description``, which builds its column objects on every call)
    found = cursor.fetchall()
    processors = compiled.result_processing(dialect)
    if any(processors):  # a textual statement has no typed result columns: nothing to convert
        found = [
            type(row)(*(value if do is None else do(value) for do, value in zip(processors, row, strict=True)))
            for row in found
        ]
    return found


def _cursor(connection):
    """The psycopg cursor kept for this DBAPI connection (a new one if the connection was replaced)."""
    record = connection.connection
    driver = record.driver_connection
    cursor = record.info.get(_CURSOR)
    if cursor is None or cursor.connection is not driver or cursor.closed:
        cursor = record.info[_CURSOR] = driver.cursor(row_factory=namedtuple_row)
    return cursor


def _send(driver: psycopg.Connection, deferred: list | None) -> None:
    """Queue the deferred statements in the pipeline the caller opened; one sent ahead gets a cursor of its own
    for its results (those of a deferred one are not read)."""
    if deferred:
        shared = driver.cursor()
        for sql, values, pending in deferred:
            cursor = shared if pending is None else driver.cursor(row_factory=namedtuple_row)
            cursor.execute(sql, values, prepare=True)
            if pending is not None:
                pending.cursor = cursor


def _send_queue(connection, driver, *, commit: bool = False) -> None:
    """Send what is queued on the connection in one round trip, with COMMIT after it if ``commit``."""
    deferred = driver.__dict__.pop(_DEFERRED, None)
    if not deferred:
        return
    try:
        with driver.pipeline():
            _send(driver, deferred)
            if commit:
                driver.cursor().execute("COMMIT")
    except psycopg.Error as error:
        raise _translated(connection, None, deferred[0][0], deferred[0][1], error) from error


def _translated(connection, cursor, sql: str, values, error: psycopg.Error) -> DBAPIError:
    """The driver's error as SQLAlchemy raises it; a lost connection is invalidated."""
    connection_lost = connection.dialect.is_disconnect(error, connection.connection.dbapi_connection, cursor)
    if connection_lost:
        connection.invalidate(error)
    return DBAPIError.instance(sql, values, error, psycopg.Error, connection_invalidated=connection_lost)


@event.listens_for(Engine, "before_cursor_execute")
def _send_deferred_first(connection, cursor, sql, values, context, executemany) -> None:
    """A statement SQLAlchemy is about to run comes after the deferred ones: they go first (one round trip)."""
    driver = getattr(cursor, "connection", None)
    if getattr(driver, _DEFERRED, None) and cursor is not connection.connection.info.get(_CURSOR):  # not a hot
        _send_queue(connection, driver)  # statement's own (it carries the queue itself)


@event.listens_for(Engine, "commit")
def _commit_with_deferred(connection) -> None:
    """The deferred statements and COMMIT in one round trip; psycopg's own commit then finds nothing to do."""
    driver = connection.connection.driver_connection
    if getattr(driver, _DEFERRED, None):
        _send_queue(connection, driver, commit=True)


@event.listens_for(Engine, "rollback")
def _drop_deferred(connection) -> None:
    """A rollback: what was deferred is never sent."""
    fairy = connection._dbapi_connection  # None once invalidated: nothing to drop (the driver is gone)
    driver = getattr(fairy, "driver_connection", None)
    if hasattr(driver, _DEFERRED):
        del driver.__dict__[_DEFERRED]


@event.listens_for(Pool, "reset")
def _drop_deferred_on_return(dbapi_connection, record, reset_state) -> None:
    """A connection back in the pool (rolled back there, without the engine's events) holds nothing deferred."""
    if hasattr(dbapi_connection, _DEFERRED):
        del dbapi_connection.__dict__[_DEFERRED]
