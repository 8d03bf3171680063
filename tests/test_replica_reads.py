"""Reads that may go to a replica (server/replica.py): reports come from it, money decisions never do.

The replica here is a stand-in, documented as such: a second schema of the test PostgreSQL database
holding a copy of the primary taken before the last sale, i.e. a replica that has not replayed that sale
yet (replication lag, frozen). Pointing ``DATABASE_REPLICA_URL`` at it exercises exactly the application's
side: which session each read goes to, and what a stale read may reach. Streaming replication itself
(pg_basebackup, recovery) is brought up and checked by the deployment topology's test.
"""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import DBAPIError

from server.extensions import db
from server.models import Member
from server.replica import LAG_HEADER, ReplicaWriteRefused, inside_replica_read, reading_replica, replica_engine
from server.services import finance, members, staff
from tests.builders import make_member, make_world
from tests.console.support import PASSWORD, sign_in
from tests.live_server import identify, next_key


@pytest.fixture(scope="module")
def replica(pg_app, pg_database):
    """The stand-in replica's schema (tables made once) and an app on the same primary configured with it."""
    schema = f"r_{secrets.token_hex(6)}"
    admin = create_engine(pg_database.url)
    with admin.begin() as connection:  # the same tables and keys, no foreign keys: a copy only read
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        for table in db.metadata.sorted_tables:
            connection.execute(
                text(
                    f'CREATE TABLE "{schema}"."{table.name}" (LIKE "{pg_database.schema}"."{table.name}" INCLUDING ALL)'
                )
            )
    options = {"connect_args": {"options": f"-csearch_path={schema}"}}
    app = pg_database.make_app(DATABASE_REPLICA_URL=pg_database.url, SQLALCHEMY_REPLICA_ENGINE_OPTIONS=options)
    try:
        yield app, schema, admin
    finally:
        with app.app_context():
            replica_engine().dispose()
            db.engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def lagging(replica, pg_app, pg_database):
    """A world with one sale on the primary, copied to the replica, then a second sale the replica lacks."""
    app, schema, admin = replica
    for cache in ("alliance_settings_copy", "terminal_credentials", "webhook_subscriptions_copy"):
        app.extensions.pop(cache, None)  # the rows they copied were wiped after the last test
    with pg_app.app_context():
        world = make_world()
        member, card = make_member(points=500)
    client = pg_app.test_client()
    _sell(client, world, card.card_no, 10_000)
    with admin.begin() as connection:  # the replica as it stood after the first sale
        names = ", ".join(f'"{schema}"."{table.name}"' for table in db.metadata.sorted_tables)
        connection.execute(text(f"TRUNCATE {names}"))
        for table in db.metadata.sorted_tables:
            connection.execute(
                text(f'INSERT INTO "{schema}"."{table.name}" SELECT * FROM "{pg_database.schema}"."{table.name}"')
            )
    _sell(client, world, card.card_no, 20_000)  # not on the replica: it is behind by this sale
    return app, world, member, card


def _sell(client, world, card_no: str, amount_fen: int) -> dict:
    token = identify(client, world.shop_a.auth, code=card_no)
    answer = client.post(
        "/api/v1/sales",
        json={"identification_token": token, "amount_fen": amount_fen},
        headers={**world.shop_a.auth, "Idempotency-Key": next_key()},
    )
    assert answer.status_code == 201, answer.json
    return answer.json["sale"]


def test_a_report_reads_the_lagging_replica_and_says_so_while_sales_read_the_primary(lagging):
    app, world, member, card = lagging
    client = app.test_client()
    with app.app_context():
        on_primary = finance.points_report()["points_outstanding"]
    report = client.get("/api/v1/reports/points", headers=world.staff_auth("finance"))
    assert report.status_code == 200
    assert report.headers[LAG_HEADER] == "unknown"  # the stand-in is no server in recovery: lag not measurable
    stale = report.json["points_outstanding"]
    assert 500 < stale < on_primary  # the first sale's points are there, the second sale's not yet

    # the money path: identification and sale read the primary, whatever the replica says
    token = client.post("/api/v1/identify", json={"code": card.card_no}, headers=world.shop_a.auth)
    assert token.json["points_balance"] == on_primary
    sale = client.post(
        "/api/v1/sales",
        json={"identification_token": token.json["identification"]["token"], "amount_fen": 100, "redeem_points": 0},
        headers={**world.shop_a.auth, "Idempotency-Key": next_key()},
    )
    assert sale.status_code == 201 and LAG_HEADER not in sale.headers
    assert sale.json["sale"]["points_balance"] >= on_primary


def test_what_a_replica_read_loaded_can_never_feed_a_write(lagging):
    app, _world, member, _card = lagging
    with app.app_context():
        primary_session = db.session()
        with reading_replica():
            assert inside_replica_read()
            stale = db.session.get(Member, member.id)
            assert db.session() is not primary_session
            # a write path run inside the block is refused before anything is written
            with pytest.raises((ReplicaWriteRefused, DBAPIError)):
                members.adjust_points("test:replica", member.id, 1, "must not happen")
        assert db.session() is primary_session and not inside_replica_read()
        assert inspect(stale).detached and stale not in db.session  # the stale row left with its session
        stale.display_name = "changed from a stale read"
        db.session.commit()  # nothing to write: the primary session never saw that object
        assert db.session.get(Member, member.id).display_name != "changed from a stale read"
        assert db.session.get(Member, member.id) is not stale


def test_the_console_reports_and_dashboard_show_the_lag(lagging):
    app, world, _member, _card = lagging
    client = app.test_client()
    with app.app_context():
        staff.create_staff_user("test:builder", "c-admin", "admin", PASSWORD)  # on the primary: sign-in reads it
    assert sign_in(client, "c-admin").status_code == 302
    for url in ("/console/", "/console/reports/points", "/console/reports/days"):
        page = client.get(url)
        assert page.status_code == 200, url
        assert page.headers[LAG_HEADER] == "unknown"
        assert "只读副本" in page.get_data(as_text=True)
