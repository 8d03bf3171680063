"""Hot statements (server/hot_sql.py) behave as ``Session.execute`` does: same rows, UTC datetimes, the
session's transaction, autoflush, listeners, SQLAlchemy's errors. Runs on both databases: on PostgreSQL
the statements go to psycopg as prepared statements, on SQLite through the session."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import bindparam, event, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from server.extensions import db
from server.hot_sql import HotStatement
from server.models import Member, Terminal
from server.services.sales import persist
from tests.builders import make_member, make_world

_MEMBER = HotStatement(select(Member.id, Member.status, Member.created_at).where(Member.id == bindparam("member_id")))
_NEXT_SEQ = persist._NEXT_RECEIPT_SEQ  # the sale's receipt counter: an UPDATE … RETURNING


def test_rows_are_those_the_session_reads_with_datetimes_in_utc(ctx):
    make_world()
    member, _ = make_member(with_card=False)
    row = _MEMBER.first({"member_id": member.id})
    expected = db.session.execute(_MEMBER.statement, {"member_id": member.id}).one()
    assert tuple(row) == tuple(expected)
    assert (row.id, row.status) == (member.id, "active")
    assert row.created_at.tzinfo is not None and row.created_at.utcoffset() == timedelta(0)
    assert _MEMBER.first({"member_id": "mem_missing"}) is None
    assert _MEMBER.scalar({"member_id": "mem_missing"}) is None


def test_a_write_is_in_the_session_transaction_and_rolls_back_with_it(ctx):
    world = make_world()
    db.session.commit()
    terminal_id = world.shop_a.terminal.id
    before = db.session.scalar(select(Terminal.receipt_seq).where(Terminal.id == terminal_id))
    assert _NEXT_SEQ.scalar({"terminal": terminal_id}) == before + 1
    assert db.session.scalar(select(Terminal.receipt_seq).where(Terminal.id == terminal_id)) == before + 1
    db.session.rollback()
    assert db.session.scalar(select(Terminal.receipt_seq).where(Terminal.id == terminal_id)) == before


def test_pending_rows_are_flushed_first_and_listeners_see_the_statement(ctx):
    make_world()
    member, _ = make_member(with_card=False)
    db.session.commit()
    db.session.get(Member, member.id).display_name = "改名"  # pending in the session
    seen = []

    def listen(_conn, _cursor, statement, parameters, _context, _many):
        seen.append((statement, parameters))

    name = HotStatement(select(Member.display_name).where(Member.id == bindparam("member_id")))
    event.listen(db.engine, "before_cursor_execute", listen)
    try:
        assert name.scalar({"member_id": member.id}) == "改名"
    finally:
        event.remove(db.engine, "before_cursor_execute", listen)
    assert any("display_name" in statement and member.id in str(parameters) for statement, parameters in seen)


def test_errors_are_sqlalchemys_and_a_naive_datetime_is_refused(ctx):
    make_world()
    member, _ = make_member(with_card=False)
    db.session.commit()
    duplicate = HotStatement(insert(Member.__table__))
    row = db.session.execute(select(Member.__table__).where(Member.id == member.id)).one()._asdict()
    with pytest.raises(IntegrityError):
        duplicate.rows(row)
    db.session.rollback()
    since = HotStatement(select(Member.id).where(Member.created_at >= bindparam("since", type_=Member.created_at.type)))
    assert since.rows({"since": datetime.now(UTC) - timedelta(days=1)})
    with pytest.raises(Exception, match="naive datetime"):
        since.rows({"since": datetime.now()})  # noqa: DTZ005 (the point of the test)
    db.session.rollback()
    assert HotStatement(text("SELECT 42")).scalar({}) == 42


_terminals = Terminal.__table__
_SEQ = HotStatement(select(_terminals.c.receipt_seq).where(_terminals.c.id == bindparam("terminal")))
_SET_SEQ = HotStatement(
    update(_terminals).where(_terminals.c.id == bindparam("terminal")).values(receipt_seq=bindparam("seq"))
)


def _committed_seq(terminal_id: str) -> int:
    db.session.rollback()  # a new transaction: what was committed
    return db.session.scalar(select(Terminal.receipt_seq).where(Terminal.id == terminal_id))


def test_a_deferred_write_comes_before_the_next_statement_and_commits_with_the_transaction(ctx):
    terminal_id = make_world().shop_a.terminal.id
    db.session.commit()
    start = _committed_seq(terminal_id)
    _SET_SEQ.defer({"terminal": terminal_id, "seq": start + 5})
    assert _SEQ.scalar({"terminal": terminal_id}) == start + 5  # the next hot statement
    _SET_SEQ.defer({"terminal": terminal_id, "seq": start + 6})
    assert db.session.scalar(select(Terminal.receipt_seq).where(Terminal.id == terminal_id)) == start + 6  # any
    _SET_SEQ.defer({"terminal": terminal_id, "seq": start + 7})
    db.session.commit()  # with the COMMIT
    assert _committed_seq(terminal_id) == start + 7


def test_a_rollback_drops_what_was_deferred(ctx):
    terminal_id = make_world().shop_a.terminal.id
    db.session.commit()
    start = _committed_seq(terminal_id)
    _SET_SEQ.defer({"terminal": terminal_id, "seq": start + 9})
    db.session.rollback()
    assert _SEQ.scalar({"terminal": terminal_id}) == start
    db.session.commit()  # the next transaction does not send it either
    assert _committed_seq(terminal_id) == start


def test_a_deferred_write_that_fails_raises_sqlalchemys_error_where_it_is_sent(ctx):
    terminal_id = make_world().shop_a.terminal.id
    member, _ = make_member(with_card=False)
    db.session.commit()
    start = _committed_seq(terminal_id)
    row = db.session.execute(select(Member.__table__).where(Member.id == member.id)).one()._asdict()
    duplicate = HotStatement(insert(Member.__table__))
    for send in (lambda: _SEQ.scalar({"terminal": terminal_id}), db.session.commit):  # the next statement, COMMIT
        _SET_SEQ.defer({"terminal": terminal_id, "seq": start + 3})
        with pytest.raises(IntegrityError):
            duplicate.defer(row)  # on SQLite it fails here, at once, as Session.execute does
            send()
        db.session.rollback()
        assert _committed_seq(terminal_id) == start  # the whole transaction rolled back


def test_deferred_writes_and_begin_ride_in_the_round_trip_of_the_next_statement(pg_app, monkeypatch):
    import psycopg

    trips = []
    execute, command, leave = psycopg.Cursor.execute, psycopg.Connection._exec_command, psycopg.Pipeline.__exit__

    def counted_execute(cursor, *args, **kwargs):
        trips.extend(["statement"] if cursor.connection._pipeline is None else [])
        return execute(cursor, *args, **kwargs)

    def counted_command(connection, *args, **kwargs):
        trips.extend(["command"] if connection._pipeline is None else [])
        return command(connection, *args, **kwargs)

    def counted_sync(pipeline, *args):
        trips.append("pipeline")
        return leave(pipeline, *args)

    with pg_app.app_context():
        terminal_id = make_world().shop_a.terminal.id
        db.session.commit()
        monkeypatch.setattr(psycopg.Cursor, "execute", counted_execute)
        monkeypatch.setattr(psycopg.Connection, "_exec_command", counted_command)
        monkeypatch.setattr(psycopg.Pipeline, "__exit__", counted_sync)
        start = _SEQ.scalar({"terminal": terminal_id})  # BEGIN and the read
        _SET_SEQ.defer({"terminal": terminal_id, "seq": start + 1})
        ahead = _SEQ.send({"terminal": terminal_id})
        _SET_SEQ.defer({"terminal": terminal_id, "seq": start + 2})
        assert _SEQ.scalar({"terminal": terminal_id}) == start + 2  # both updates, the read sent ahead and this
        assert ahead.scalar() == start + 1
        _SET_SEQ.defer({"terminal": terminal_id, "seq": start + 3})
        db.session.commit()  # the update and COMMIT
        assert trips == ["pipeline"] * 3
        monkeypatch.undo()
        assert _committed_seq(terminal_id) == start + 3
        db.session.remove()


def test_a_statement_sent_ahead_is_answered_later_in_order(ctx):
    terminal_id = make_world().shop_a.terminal.id
    db.session.commit()
    start = _committed_seq(terminal_id)
    _SET_SEQ.defer({"terminal": terminal_id, "seq": start + 1})
    ahead = _SEQ.send({"terminal": terminal_id})  # after the deferred update, before the next one
    _SET_SEQ.defer({"terminal": terminal_id, "seq": start + 2})
    assert _SEQ.scalar({"terminal": terminal_id}) == start + 2  # carries all three
    assert ahead.scalar() == start + 1 and ahead.rows() == ahead.rows()
    alone = _SEQ.send({"terminal": terminal_id})
    assert alone.first() is not None and alone.scalar() == start + 2  # nothing carried it: it is sent when read
    db.session.rollback()
