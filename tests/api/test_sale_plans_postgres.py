"""A sale's cost stays flat as the data grows: no statement of identify + sale scans a large table.

The statements of real requests (identify, an earning sale, a redeeming sale, the one-request sale with
the card number, through the API) are captured with an engine event listener, then each is EXPLAINed with
its own parameters against a database grown to tens of thousands of members, sales, points lots and identifications
(``bench/_grow.py``, the same growth ``bench/checkout.py --members N`` uses) and ANALYZEd, so the planner
works from realistic row counts (``enable_seqscan`` stays on). The member who buys has a long past too:
hundreds of sales in the level window and hundreds of spent lots. Any ``Seq Scan`` on a table holding
1,000 rows or more fails the test. PostgreSQL pass only.
"""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import event, text

from bench._grow import grow
from server.domain import payments
from server.extensions import db
from tests.builders import make_member, make_world

GROWN_MEMBERS = 12_000
LARGE_TABLE_ROWS = 1_000
MEMBER_HISTORY = 400  # past sales (and spent lots) of the member who buys

MEMBER_PAST = """
INSERT INTO sales (id, merchant_id, terminal_id, member_id, card_id, level_id, method, receipt_no, amount_fen,
                   discount_bp, discount_fen, redeem_points, redeem_value_fen, payable_fen, points_earned,
                   refunded_fen, points_reversed, points_restored, offline, payment_method, occurred_at, created_at)
SELECT 'sal_.past' || lpad(n::text, 6, '0'), t.merchant_id, t.id, :member_id, NULL, :level_id, 'code',
       'past' || lpad(n::text, 6, '0'), 1000, 0, 0, 0, 0, 1000, 10, 0, 0, 0, false, 'cash',
       now() - make_interval(hours => n), now() - make_interval(hours => n)
FROM generate_series(1, CAST(:count AS integer)) AS n, (SELECT id, merchant_id FROM terminals LIMIT 1) AS t;
INSERT INTO points_lots (member_id, source, sale_id, earned_on, expires_on, points, remaining, expired_points,
                         created_at)
SELECT member_id, 'sale', id, occurred_at::date, occurred_at::date + 730, 10, 0, 0, occurred_at
FROM sales WHERE id LIKE 'sal\\_.past%';
"""


def _plans_scanning(connection, statement: str, parameters, large: set[str]) -> list[str]:
    """The large tables the plan of ``statement`` reads with a sequential scan."""
    if isinstance(parameters, list | tuple) and parameters and isinstance(parameters[0], dict | list | tuple):
        parameters = parameters[0]  # executemany: one row's parameters give the plan
    plan = connection.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {statement}", parameters or {}).scalar_one()
    plan = json.loads(plan) if isinstance(plan, str) else plan
    found, todo = [], [plan[0]["Plan"]]
    while todo:
        node = todo.pop()
        if node.get("Node Type") == "Seq Scan" and node.get("Relation Name") in large:
            found.append(node["Relation Name"])
        todo.extend(node.get("Plans", []))
    return found


@pytest.fixture
def truncated_afterwards(app):
    """The grown rows go with one TRUNCATE: the per-row DELETE of the fixtures' wipe checks each foreign key
    row by row (minutes for tens of thousands of rows, most of this test's time in CI)."""
    yield
    with app.app_context():
        db.session.remove()
        with db.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                names = ", ".join(f'"{table.name}"' for table in db.metadata.sorted_tables)
                connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


def test_no_statement_of_a_sale_scans_a_large_table(app, client, database, truncated_afterwards):
    if not database.is_postgres:
        pytest.skip("query plans of PostgreSQL: runs in the PostgreSQL pass")
    with app.app_context():
        world = make_world()
        member, card = make_member(points=5_000)
        level_id = db.session.execute(text("SELECT id FROM levels ORDER BY rank LIMIT 1")).scalar_one()
        with db.engine.begin() as connection:
            for statement in MEMBER_PAST.strip().split(";\n")[:2]:
                connection.execute(
                    text(statement), {"member_id": member.id, "level_id": level_id, "count": MEMBER_HISTORY}
                )
            grow(connection, GROWN_MEMBERS, sales_each=4)
            connection.execute(text("ANALYZE"))
            large = set(
                connection.execute(
                    text(
                        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE n.nspname = current_schema() AND c.relkind = 'r' AND c.reltuples >= :rows"
                    ),
                    {"rows": LARGE_TABLE_ROWS},
                ).scalars()
            )
        terminal = world.shop_a.terminal
        printed = payments.receipt_no(terminal.receipt_prefix or terminal.code, 900)  # numbered by the terminal
        db.session.remove()

        captured: list[tuple[str, object]] = []

        def capture(conn, cursor, statement, parameters, context, executemany):
            captured.append((statement, parameters))

        event.listen(db.engine, "before_cursor_execute", capture)
        try:
            for redeem in (0, 100):
                found = client.post("/api/v1/identify", json={"code": card.card_no}, headers=world.shop_a.auth)
                assert found.status_code == 200, found.json
                sold = client.post(
                    "/api/v1/sales",
                    json={
                        "identification_token": found.json["identification"]["token"],
                        "amount_fen": 12_345,
                        "redeem_points": redeem,
                    },
                    headers={**world.shop_a.auth, "Idempotency-Key": uuid.uuid4().hex},
                )
                assert sold.status_code == 201, sold.json
            sold = client.post(  # the one-request sale: the card number sent with it
                "/api/v1/sales",
                json={"code": card.card_no, "amount_fen": 12_345},
                headers={**world.shop_a.auth, "Idempotency-Key": uuid.uuid4().hex},
            )
            assert sold.status_code == 201, sold.json
            sold = client.post(  # as the POS sends it: its own client_sale_id and receipt number
                "/api/v1/sales",
                json={
                    "code": card.card_no,
                    "amount_fen": 12_345,
                    "client_sale_id": uuid.uuid4().hex,
                    "receipt_no": printed,
                },
                headers={**world.shop_a.auth, "Idempotency-Key": uuid.uuid4().hex},
            )
            assert sold.status_code == 201, sold.json
        finally:
            event.remove(db.engine, "before_cursor_execute", capture)

        assert {"sales", "points_lots", "identifications", "members", "cards"} <= large, large
        explained, scans = 0, []
        with db.engine.connect() as connection:
            for statement, parameters in captured:
                if statement.lstrip().split(None, 1)[0].upper() not in {"SELECT", "INSERT", "UPDATE", "DELETE", "WITH"}:
                    continue
                explained += 1
                scans += [
                    (table, " ".join(statement.split())[:200])
                    for table in _plans_scanning(connection, statement, parameters, large)
                ]
            connection.rollback()
        assert explained >= 20, captured
        assert not scans, "sequential scans of large tables:\n" + "\n".join(f"{t}: {s}" for t, s in scans)
