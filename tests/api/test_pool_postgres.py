"""No pre-ping round trip per request, and still no error when PostgreSQL closed a pooled connection.

``server/database.py`` checks an idle pooled connection at checkout with one ``poll`` (no statement): a
backend ended by ``pg_terminate_backend`` is replaced before the request's first statement. PostgreSQL
pass only.
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import create_engine, event, text

from server import create_app
from server.config import Config, TestingConfig
from server.extensions import db
from tests.live_server import scene, sell


def test_the_default_pool_sends_no_pre_ping():
    assert Config.SQLALCHEMY_ENGINE_OPTIONS["pool_pre_ping"] is False
    assert Config.SQLALCHEMY_ENGINE_OPTIONS["pool_recycle"] > 0


def _backend_pid(app) -> int:
    with app.app_context():
        pid = db.session.execute(text("SELECT pg_backend_pid()")).scalar_one()
        db.session.remove()  # the connection goes back to the pool, idle
    return pid


def test_a_connection_the_server_terminated_is_replaced_before_the_first_statement(app, client, database):
    if not database.is_postgres:
        pytest.skip("a PostgreSQL backend to terminate: runs in the PostgreSQL pass")
    one = create_app(
        TestingConfig,
        SQLALCHEMY_DATABASE_URI=database.url,
        SQLALCHEMY_ENGINE_OPTIONS={**database.engine_options, "pool_size": 1, "max_overflow": 0},
    )
    s = scene(app, points=0)
    with one.app_context():
        statements: list[str] = []
        event.listen(db.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    before = _backend_pid(one)
    assert _backend_pid(one) == before  # the pool keeps its one connection
    admin = create_engine(database.url)
    with admin.begin() as connection:
        assert connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": before}).scalar_one()
    admin.dispose()
    time.sleep(0.2)  # the backend's FATAL and close reach the socket
    statements.clear()
    after = _backend_pid(one)
    assert after != before
    assert statements == ["SELECT pg_backend_pid()"]  # no ping: the dead connection was found without one
    # a whole sale through the API on the replaced connection
    response = sell(one.test_client(), s.auth, code=s.card.card_no, amount_fen=1_000)
    assert response.status_code == 201, response.json
    with one.app_context():
        db.engine.dispose()
