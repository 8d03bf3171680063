"""Health, readiness, Prometheus metrics and JSON logs (docs/operations.md). The gunicorn side (multiprocess
metrics, nginx's request id in the log file) is in tests/test_production_server.py."""

from __future__ import annotations

import io
import json
import logging
import re
from datetime import timedelta

import pytest

from server import create_app
from server.config import TestingConfig
from server.extensions import db
from server.models import SmsMessage
from server.models.base import utcnow
from server.notifications.sms import queue_sms
from server.observability.logs import json_handler
from server.services.jobs import run_job
from tests.builders import make_member, make_world
from tests.conftest import RATE_LIMIT_STORAGE_OPTIONS
from tests.live_server import identify, next_key

UNREACHABLE_DATABASE = "postgresql+psycopg://postgres@127.0.0.1:9/nothing?connect_timeout=2"


def scrape(client, **kwargs) -> dict[str, float]:
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.data[:300]
    assert response.content_type.startswith("text/plain")
    samples = {}
    for line in response.data.decode().splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


def test_healthz_needs_no_database_and_readyz_names_the_part_that_failed():
    app = create_app(
        TestingConfig,
        SQLALCHEMY_DATABASE_URI=UNREACHABLE_DATABASE,
        RATELIMIT_STORAGE_URI="redis://127.0.0.1:6379",
        RATELIMIT_STORAGE_OPTIONS=RATE_LIMIT_STORAGE_OPTIONS,
    )
    client = app.test_client()
    assert client.get("/healthz").json == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 503
    body = ready.json
    assert set(body) == {"error", "message", "status", "details"} and body["error"] == "not_ready"
    assert body["details"]["failed"] == ["database"]
    assert body["details"]["checks"]["redis"]["ok"] is True  # the real Redis answered
    assert "database" in body["message"]


def test_readyz_on_a_working_database(client):
    answer = client.get("/readyz")
    assert answer.status_code == 200
    assert answer.json["checks"]["database"]["ok"] is True


def test_sales_refunds_identification_failures_outboxes_and_jobs_are_counted(app, client):
    with app.app_context():
        world = make_world()
        _, card = make_member()
        till = world.shop_a.auth
        queue_sms("13900000001", "account_closed", alliance="联盟")
        db.session.query(SmsMessage).update({"created_at": utcnow() - timedelta(minutes=5)})
        db.session.commit()
    before = scrape(client)

    token = identify(client, till, code=card.card_no)
    sale = client.post(
        "/api/v1/sales",
        json={"identification_token": token, "amount_fen": 12_345},
        headers={**till, "Idempotency-Key": next_key()},
    )
    assert sale.status_code == 201
    refund = client.post(
        f"/api/v1/sales/{sale.json['sale']['id']}/refunds",
        json={"amount_fen": 1_000},
        headers={**till, "Idempotency-Key": next_key("refund")},
    )
    assert refund.status_code == 201, refund.json
    failed = client.post("/api/v1/identify", json={"code": "8860999999999999"}, headers=till)
    assert failed.status_code >= 400
    with app.app_context():
        run_job("purge-idempotency-keys")

    after = scrape(client)
    grew = {name: after[name] - before.get(name, 0.0) for name in after}
    assert grew["alliance_sales_total"] == 1 and grew["alliance_sales_amount_fen_total"] == 12_345
    assert grew["alliance_refunds_total"] == 1 and grew["alliance_refunds_amount_fen_total"] == 1_000
    assert grew[f'alliance_identification_failures_total{{code="{failed.json["error"]}"}}'] == 1
    # latency by Flask endpoint, never by raw path (a card number or a sale id is no label)
    histograms = [name for name in after if name.startswith("alliance_request_duration_seconds_count")]
    assert 'alliance_request_duration_seconds_count{endpoint="terminal.Sales",method="POST"}' in histograms
    assert not any(card.card_no in name or sale.json["sale"]["id"] in name for name in after)
    assert after['alliance_outbox_backlog{outbox="sms"}'] == 1
    assert 290 < after['alliance_outbox_oldest_age_seconds{outbox="sms"}'] < 600
    assert after['alliance_outbox_backlog{outbox="webhooks"}'] == 0
    assert (
        after['alliance_job_last_success_timestamp_seconds{job="purge-idempotency-keys"}'] > utcnow().timestamp() - 60
    )


def test_a_failed_sale_is_not_counted(app, client):
    with app.app_context():
        world = make_world()
        _, card = make_member()
    before = scrape(client)
    token = identify(client, world.shop_a.auth, code=card.card_no)
    refused = client.post(
        "/api/v1/sales",
        json={"identification_token": token, "amount_fen": 500, "redeem_points": 10**6},
        headers={**world.shop_a.auth, "Idempotency-Key": next_key()},
    )
    assert refused.status_code >= 400
    assert scrape(client).get("alliance_sales_total") == before.get("alliance_sales_total")


def test_metrics_are_refused_outside_the_allowed_networks_unless_the_token_is_given(app, client):
    outside = {"environ_base": {"REMOTE_ADDR": "203.0.113.7"}}
    refused = client.get("/metrics", **outside)
    assert refused.status_code == 403 and refused.json["error"] == "forbidden"
    # behind nginx the peer is local: the address nginx saw decides
    relayed = client.get("/metrics", headers={"X-Forwarded-For": "127.0.0.1, 203.0.113.7"})
    assert relayed.status_code == 403
    app.config["METRICS_TOKEN"] = "scrape-secret"
    try:
        assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}, **outside).status_code == 403
        scrape(client, headers={"Authorization": "Bearer scrape-secret"}, **outside)
    finally:
        app.config["METRICS_TOKEN"] = ""


@pytest.fixture
def json_lines():
    """The server's log records as the production handler writes them (one JSON object per line)."""
    stream = io.StringIO()
    handler = json_handler(stream)
    logger = logging.getLogger("server")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def test_json_logs_carry_the_request_id_and_no_personal_data(app, client, json_lines):
    phone, name = "13912345678", "欧阳娜娜"
    with app.app_context():
        world = make_world()
        _, card = make_member(phone=phone, name=name)
    till = world.shop_a.auth
    answer = client.post(
        "/api/v1/identify", json={"phone": phone}, headers={**till, "X-Request-Id": "req-from-nginx-1"}
    )
    assert answer.headers["X-Request-Id"] == "req-from-nginx-1"
    token = identify(client, till, code=card.card_no)
    client.post("/api/v1/identify", json={"code": "8860123456789012"}, headers=till)  # refused
    generated = client.get("/healthz", headers={"X-Request-Id": "bad id with spaces"}).headers["X-Request-Id"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    logging.getLogger("server.test").warning("texted %s code 482913 token %s", phone, token)  # a careless line

    lines = json_lines()
    requests = [line for line in lines if line["logger"] == "server.requests"]
    assert {"req-from-nginx-1", generated} <= {line["request_id"] for line in requests}
    first = next(line for line in requests if line["request_id"] == "req-from-nginx-1")
    assert (first["endpoint"], first["route"], first["status"]) == ("terminal.Identify", "/api/v1/identify", 200)
    written = "\n".join(json.dumps(line, ensure_ascii=False) for line in lines)
    for secret in (phone, name, card.card_no, token, world.shop_a.token, "482913", "8860123456789012"):
        assert secret not in written
    assert "[phone]" in written and "[token]" in written
