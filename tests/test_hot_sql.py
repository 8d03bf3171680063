"""Hot statements (server/hot_sql.py) behave as ``Session.execute`` does: same rows, UTC datetimes, the
session's transaction, autoflush, listeners, SQLAlchemy's errors. Runs on both databases: on PostgreSQL
the statements go to psycopg as prepared statements, on SQLite through the session."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import bindparam, event, insert, select, text
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
