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

On SQLite it is ``Session.execute``. Parameters are one dict (no executemany).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
from psycopg.pq import ExecStatus
from psycopg.rows import namedtuple_row
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import Executable

from server.extensions import db

_CURSOR = "hot_sql_cursor"  # the pool record's info: a cursor kept for the connection


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
        if session.autoflush:  # as Session.execute would: rows the session holds pending exist before this reads
            session.flush()
        keys = tuple(params)
        compiled = self._compiled.get(keys)
        if compiled is None:
            compiled = self._compiled[keys] = _Compiled(self.statement, connection.dialect, keys)
        values = compiled.parameters(params)
        cursor = _cursor(connection)
        dispatch = connection.dispatch.before_cursor_execute
        if dispatch:  # listeners (a test capturing statements): they see what is sent
            for listener in dispatch:
                listener(connection, cursor, compiled.sql, values, None, False)
        try:
            cursor.execute(compiled.sql, values, prepare=True)
        except psycopg.Error as error:  # as SQLAlchemy raises it: IntegrityError, OperationalError (lock timeout)…
            connection_lost = connection.dialect.is_disconnect(error, connection.connection.dbapi_connection, cursor)
            if connection_lost:
                connection.invalidate(error)
            raise DBAPIError.instance(
                compiled.sql, values, error, psycopg.Error, connection_invalidated=connection_lost
            ) from error
        if cursor.pgresult is None or cursor.pgresult.status != ExecStatus.TUPLES_OK:  # no rows (cheaper than
            return []  # ``description``, which builds its column objects on every call)
        found = cursor.fetchall()
        processors = compiled.result_processing(connection.dialect)
        if any(processors):  # a textual statement has no typed result columns: nothing to convert
            found = [
                type(row)(*(value if do is None else do(value) for do, value in zip(processors, row, strict=True)))
                for row in found
            ]
        return found

    def first(self, params: dict[str, Any]):
        found = self.rows(params)
        return found[0] if found else None

    def scalar(self, params: dict[str, Any]):
        row = self.first(params)
        return None if row is None else row[0]


def _cursor(connection):
    """The psycopg cursor kept for this DBAPI connection (a new one if the connection was replaced)."""
    record = connection.connection
    driver = record.driver_connection
    cursor = record.info.get(_CURSOR)
    if cursor is None or cursor.connection is not driver or cursor.closed:
        cursor = record.info[_CURSOR] = driver.cursor(row_factory=namedtuple_row)
    return cursor
