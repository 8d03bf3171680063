"""Idempotency-Key on state-changing POSTs: replays, reuse, failures that store nothing, per-caller scope."""

from __future__ import annotations

import threading

import pytest
import requests
from sqlalchemy import func, select

from server.extensions import db
from server.models import IdempotencyRecord, Refund, Sale
from server.services import catalog, members
from tests.builders import ACTOR
from tests.live_server import assert_error, db_state, identify, live_server, member_ledger_sum, scene, sell


def count(app, model) -> int:
    with app.app_context():
        total = db.session.scalar(select(func.count()).select_from(model))
        db.session.remove()
        return total


def test_same_key_and_body_replays_the_stored_response(app, client):
    s = scene(app, points=1_000)
    token = identify(client, s.auth, code=s.card.card_no)
    body = {"identification_token": token, "amount_fen": 10_000, "redeem_points": 300}
    first = sell(client, s.auth, key="pos-1-sale-1", **body)
    assert first.status_code == 201, first.json
    assert "Idempotent-Replayed" not in first.headers
    after_first = db_state(app)
    for _ in range(3):
        again = sell(client, s.auth, key="pos-1-sale-1", **body)
        assert again.status_code == 201
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.json == first.json
        assert again.get_data() == first.get_data()
    assert db_state(app) == after_first
    assert after_first["sales"] == 1
    assert after_first["idempotency_records"] == 1
    assert member_ledger_sum(app, s.member.id) == (797, 797)  # 1000 - 300 + 97, once


def test_same_key_with_another_body_is_refused_and_changes_nothing(app, client):
    s = scene(app, points=1_000)
    token = identify(client, s.auth, code=s.card.card_no)
    body = {"identification_token": token, "amount_fen": 10_000, "redeem_points": 0}
    first = sell(client, s.auth, key="k-1", **body)
    assert first.status_code == 201
    before = db_state(app)
    for change in ({"amount_fen": 10_001}, {"redeem_points": 1}, {"client_sale_id": "x"}):
        assert_error(sell(client, s.auth, key="k-1", **{**body, **change}), 422, "idempotency_key_reused")
    # the same key on another endpoint is another request too
    refund = client.post(
        f"/api/v1/sales/{first.json['sale']['id']}/refunds", json={}, headers={**s.auth, "Idempotency-Key": "k-1"}
    )
    assert_error(refund, 422, "idempotency_key_reused")
    assert db_state(app) == before


def test_retry_after_a_lost_response_gets_the_same_receipt(app, client):
    s = scene(app, points=0)
    token = identify(client, s.auth, code=s.card.card_no)
    body = {"identification_token": token, "amount_fen": 2_500, "redeem_points": 0, "client_sale_id": "o-9"}
    sell(client, s.auth, key="lost-1", **body)  # the server committed; the terminal never saw the answer
    with app.app_context():
        receipt_no = db.session.scalars(select(Sale.receipt_no)).one()
    # the identification is used up by now, yet the retry is answered from the stored response
    retry = sell(client, s.auth, key="lost-1", **body)
    assert retry.status_code == 201
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.json["sale"]["receipt_no"] == receipt_no == "0001-000001"
    assert retry.json["sale"]["points_balance"] == 25
    assert count(app, Sale) == 1
    assert member_ledger_sum(app, s.member.id) == (25, 25)


def test_a_failed_request_stores_nothing_so_the_key_can_be_retried(app, client):
    s = scene(app, points=100)
    token = identify(client, s.auth, code=s.card.card_no)
    body = {"identification_token": token, "amount_fen": 10_000, "redeem_points": 300}
    before = db_state(app)
    assert_error(
        sell(client, s.auth, key="retry-me", **body), 409, "insufficient_points", {"balance": 100, "requested": 300}
    )
    assert db_state(app) == before  # no idempotency record, identification not used
    with app.app_context():
        members.adjust_points(ACTOR, s.member.id, 200, "goodwill")
    retried = sell(client, s.auth, key="retry-me", **body)
    assert retried.status_code == 201, retried.json
    assert "Idempotent-Replayed" not in retried.headers
    assert retried.json["sale"]["points_balance"] == 0 + 97
    assert count(app, IdempotencyRecord) == 1


def test_an_invalid_request_does_not_burn_the_key(app, client):
    s = scene(app, points=0)
    token = identify(client, s.auth, code=s.card.card_no)
    assert_error(sell(client, s.auth, key="k", identification_token=token, amount_fen=-5), 422, "invalid_request")
    assert count(app, IdempotencyRecord) == 0
    ok = sell(client, s.auth, key="k", identification_token=token, amount_fen=500)
    assert ok.status_code == 201, ok.json


def test_keys_are_scoped_per_terminal(app, client):
    s = scene(app, points=0)
    with app.app_context():
        second = catalog.create_terminal(ACTOR, s.world.shop_a.merchant.id, "二号收银台")
    callers = [s.world.shop_a.auth, {"Authorization": f"Bearer {second.token}"}, s.world.shop_b.auth]
    sales = []
    for auth in callers:
        token = identify(client, auth, code=s.card.card_no)
        response = sell(client, auth, key="same-key", identification_token=token, amount_fen=1_000)
        assert response.status_code == 201, response.json
        assert "Idempotent-Replayed" not in response.headers
        sales.append(response.json["sale"])
    assert [sale["receipt_no"] for sale in sales] == ["0001-000001", "0003-000001", "0002-000001"]
    assert len({sale["id"] for sale in sales}) == 3
    assert count(app, Sale) == 3
    assert count(app, IdempotencyRecord) == 3
    assert sales[-1]["points_balance"] == 30


def test_refunds_are_idempotent(app, client):
    s = scene(app, points=0)
    token = identify(client, s.auth, code=s.card.card_no)
    sale = sell(client, s.auth, identification_token=token, amount_fen=10_000).json["sale"]
    headers = {**s.auth, "Idempotency-Key": "refund-1"}
    first = client.post(f"/api/v1/sales/{sale['id']}/refunds", json={"amount_fen": 4_000}, headers=headers)
    assert first.status_code == 201, first.json
    after_first = db_state(app)
    again = client.post(f"/api/v1/sales/{sale['id']}/refunds", json={"amount_fen": 4_000}, headers=headers)
    assert (again.status_code, again.json, again.headers["Idempotent-Replayed"]) == (201, first.json, "true")
    assert db_state(app) == after_first
    assert count(app, Refund) == 1
    assert first.json["refund"]["points_balance"] == 60


# --- concurrent duplicates through a real HTTP server ------------------------------------------------------


@pytest.mark.parametrize("which", ["app", pytest.param("pg_app", marks=pytest.mark.postgres)])
def test_twenty_concurrent_identical_sales_commit_once(request, which):
    app = request.getfixturevalue(which)
    s = scene(app, points=1_000)
    with live_server(app) as base:
        found = requests.post(f"{base}/api/v1/identify", json={"code": s.card.card_no}, headers=s.auth, timeout=10)
        assert found.status_code == 200, found.text
        body = {
            "identification_token": found.json()["identification"]["token"],
            "amount_fen": 10_000,
            "redeem_points": 300,
        }
        headers = {**s.auth, "Idempotency-Key": "double-tap"}
        start = threading.Barrier(20)
        responses: list = [None] * 20

        def send(index: int) -> None:
            start.wait()
            responses[index] = requests.post(f"{base}/api/v1/sales", json=body, headers=headers, timeout=60)

        threads = [threading.Thread(target=send, args=(i,)) for i in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert [r.status_code for r in responses] == [201] * 20, [r.text for r in responses if r.status_code != 201]
    assert len({r.content for r in responses}) == 1
    assert sum("Idempotent-Replayed" not in r.headers for r in responses) == 1
    state = db_state(app)
    assert (state["sales"], state["idempotency_records"], state["identifications_used"]) == (1, 1, 1)
    assert member_ledger_sum(app, s.member.id) == (797, 797)
    assert responses[0].json()["sale"]["points_balance"] == 797
