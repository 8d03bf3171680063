"""Real concurrency on PostgreSQL through a real HTTP server: the points guard, receipt numbers, in-flight keys."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import UTC, datetime

import pytest
import requests
from sqlalchemy import insert, select

from server.extensions import db
from server.models import IdempotencyRecord, Terminal
from tests.builders import make_member
from tests.live_server import assert_error, db_state, identify, live_server, member_ledger_sum, scene, sell

pytestmark = pytest.mark.postgres


def run_at_once(count: int, send) -> list:
    """Call ``send(i)`` for i in range(count) on as many threads, released together; return the results."""
    start = threading.Barrier(count)
    results: list = [None] * count

    def worker(index: int) -> None:
        start.wait()
        try:
            results[index] = send(index)
        except Exception as exc:  # noqa: BLE001 - reported by the assertions below
            results[index] = exc

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def test_fifty_terminals_racing_for_the_last_hundred_points_let_exactly_one_win(pg_app):
    s = scene(pg_app, points=100, earn_rate_bp=0)  # nothing earned: the balance must end at exactly 0
    with live_server(pg_app) as base:
        tokens = []
        for _ in range(50):
            found = requests.post(f"{base}/api/v1/identify", json={"code": s.card.card_no}, headers=s.auth, timeout=10)
            assert found.status_code == 200, found.text
            tokens.append(found.json()["identification"]["token"])

        def redeem(index: int):
            body = {"identification_token": tokens[index], "amount_fen": 1_000, "redeem_points": 100}
            return requests.post(
                f"{base}/api/v1/sales", json=body, headers={**s.auth, "Idempotency-Key": f"redeem-{index}"}, timeout=60
            )

        responses = run_at_once(50, redeem)
    assert all(isinstance(r, requests.Response) for r in responses), responses
    assert Counter(r.status_code for r in responses) == {201: 1, 409: 49}
    for response in responses:
        if response.status_code == 409:
            assert_error(response, 409, "insufficient_points")
    winner = next(r for r in responses if r.status_code == 201).json()["sale"]
    assert (winner["redeem_points"], winner["redeem_value_fen"], winner["payable_fen"], winner["points_balance"]) == (
        100,
        100,
        900,
        0,
    )
    assert member_ledger_sum(pg_app, s.member.id) == (0, 0)
    state = db_state(pg_app)
    assert (state["sales"], state["idempotency_records"], state["identifications_used"]) == (1, 1, 1)


def test_twenty_concurrent_sales_at_one_terminal_get_distinct_receipt_numbers(pg_app):
    s = scene(pg_app, points=0)
    with pg_app.app_context():
        cards = [make_member()[1] for _ in range(20)]
    client = pg_app.test_client()
    tokens = [identify(client, s.auth, code=card.card_no) for card in cards]
    with live_server(pg_app) as base:

        def buy(index: int):
            body = {"identification_token": tokens[index], "amount_fen": 1_000 + index, "redeem_points": 0}
            return requests.post(
                f"{base}/api/v1/sales", json=body, headers={**s.auth, "Idempotency-Key": f"sale-{index}"}, timeout=60
            )

        responses = run_at_once(20, buy)
    assert [getattr(r, "status_code", r) for r in responses] == [201] * 20
    receipts = [r.json()["sale"]["receipt_no"] for r in responses]
    assert sorted(receipts) == [f"0001-{n:06d}" for n in range(1, 21)]
    assert sorted(r.json()["sale"]["amount_fen"] for r in responses) == list(range(1_000, 1_020))
    with pg_app.app_context():
        assert db.session.get(Terminal, s.world.shop_a.terminal.id).receipt_seq == 20
        db.session.remove()
    assert db_state(pg_app)["sales"] == 20


def test_a_duplicate_that_waits_too_long_gets_request_in_progress(pg_app):
    s = scene(pg_app, points=0)
    client = pg_app.test_client()
    token = identify(client, s.auth, code=s.card.card_no)
    body = {"identification_token": token, "amount_fen": 1_000, "redeem_points": 0}
    before = db_state(pg_app)
    saved = pg_app.config["IDEMPOTENCY_WAIT_SECONDS"]
    with pg_app.app_context():
        holder = db.engine.connect()  # the "first request", still running: its record is not committed
    try:
        transaction = holder.begin()
        holder.execute(
            insert(IdempotencyRecord).values(
                actor=f"terminal:{s.world.shop_a.terminal.id}",
                key="slow-1",
                request_hash="0" * 64,
                status_code=0,
                response_body=None,
                created_at=datetime.now(UTC),
            )
        )
        pg_app.config["IDEMPOTENCY_WAIT_SECONDS"] = 1
        started = time.monotonic()
        response = sell(client, s.auth, key="slow-1", **body)
        waited = time.monotonic() - started
        assert_error(response, 409, "request_in_progress")
        assert 0.9 <= waited < 10, waited
        assert db_state(pg_app) == before  # the identification was not used up either
        transaction.rollback()  # the first request failed: it stored nothing
    finally:
        pg_app.config["IDEMPOTENCY_WAIT_SECONDS"] = saved
        holder.close()
    retried = sell(client, s.auth, key="slow-1", **body)
    assert retried.status_code == 201, retried.json
    assert "Idempotent-Replayed" not in retried.headers
    with pg_app.app_context():
        assert db.session.scalars(select(IdempotencyRecord.key)).all() == ["slow-1"]
        db.session.remove()


def test_the_claims_lock_timeout_ends_with_the_claim(pg_app):
    """The key's wait is bounded; the rest of the request's transaction (a sale's row locks) is not."""
    from sqlalchemy import text

    from server.services.idempotency import run_idempotent

    seen = {}

    def work():
        seen["lock_timeout"] = db.session.execute(text("SHOW lock_timeout")).scalar()
        return 201, {}

    with pg_app.app_context():
        default = db.session.execute(text("SHOW lock_timeout")).scalar()
        db.session.rollback()
        run_idempotent("terminal:t-timeout", "key-1", "0" * 64, work)
        db.session.remove()
    assert seen["lock_timeout"] == default == "0"
