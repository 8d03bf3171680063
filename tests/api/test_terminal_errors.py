"""Every error path of the terminal API: the one JSON error shape, the stable code, and nothing changed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from server.domain.identifiers import make_card_number
from server.extensions import db
from server.models import Card, Identification
from server.services import catalog, members
from tests.builders import ACTOR, make_shop
from tests.live_server import assert_error, db_state, identify, next_key, scene, sell


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


@pytest.fixture
def s(app, client):
    """Shop A and B, a member with 500 points and a card, and one recorded sale of 10.00 yuan at shop A."""
    built = scene(app, points=500)
    token = identify(client, built.auth, code=built.card.card_no)
    response = sell(client, built.auth, identification_token=token, amount_fen=1_000)
    assert response.status_code == 201, response.json
    built.sale = response.json["sale"]
    built.token = identify(client, built.auth, code=built.card.card_no)  # a live identification
    return built


def post(client, path: str, body, auth: dict, key: str | None = "auto", **kwargs):
    headers = dict(auth)
    if key is not None:
        headers["Idempotency-Key"] = next_key("err") if key == "auto" else key
    if body is not None:
        kwargs["json"] = body
    return client.post(path, headers=headers, **kwargs)


def valid_bodies(s) -> dict[str, dict]:
    """For each state-changing or pricing endpoint, a body that would succeed."""
    return {
        "/api/v1/identify": {"code": s.card.card_no},
        "/api/v1/sales/quote": {"identification_token": s.token, "amount_fen": 1_000, "redeem_points": 0},
        "/api/v1/sales": {
            "identification_token": s.token,
            "amount_fen": 1_000,
            "redeem_points": 0,
            "client_sale_id": "c-1",
            "occurred_at": now_iso(),
            "offline": False,
            "card_update_written": None,
        },
        f"/api/v1/sales/{s.sale['id']}/refunds": {"amount_fen": 100, "reason": "退货"},
    }


def expect_invalid(app, client, s, path: str, body, field: str | None, **kwargs) -> None:
    before = db_state(app)
    response = post(client, path, body, s.auth, **kwargs)
    error = assert_error(response, 422, "invalid_request")
    if field is not None:
        assert field in error["details"]["fields"], (body, error)
    assert db_state(app) == before, body


# --- invalid_request -------------------------------------------------------------------------------

BAD_AMOUNTS = [-1, 0, 1.5, 100.0, "100", "1e3", True, False, None, 10**10 + 1, 10**20, [], {}]


@pytest.mark.parametrize("endpoint", ["quote", "sale", "refund"])
def test_bad_amounts_are_invalid_requests(app, client, s, endpoint):
    path = {"quote": "/api/v1/sales/quote", "sale": "/api/v1/sales", "refund": f"/api/v1/sales/{s.sale['id']}/refunds"}[
        endpoint
    ]
    for amount in BAD_AMOUNTS:
        body = {**valid_bodies(s)[path], "amount_fen": amount}
        expect_invalid(app, client, s, path, body, "amount_fen")


WRONG_FIELDS = {
    "/api/v1/identify": [
        ("code", 123),
        ("code", ""),
        ("code", "8" * 65),
        ("code", ["x"]),
        ("code", True),
        ("phone", 13800138000),
        ("phone", ""),
        ("phone", "1" * 33),
        ("card", "04A1B2C3"),
        ("card", {"uid": "XYZXYZXY", "blocks": {}}),
        ("card", {"uid": "04A1B2C3"}),
        ("card", {"uid": "04A1B2C3", "blocks": {"4": "00"}}),
        ("card", {"uid": "04A1B2C3", "blocks": {"x": "0" * 32}}),
        ("card", {"uid": "04A1B2C3", "blocks": {"4": "G" * 32}}),
        ("card", {"uid": "04", "blocks": {}}),
        ("card", {"uid": "04A1B2C3", "blocks": {}, "extra": 1}),
    ],
    "/api/v1/sales/quote": [
        ("identification_token", 123),
        ("identification_token", ""),
        ("identification_token", "x" * 201),
        ("identification_token", None),
        ("redeem_points", -1),
        ("redeem_points", 1.5),
        ("redeem_points", "1"),
        ("redeem_points", True),
        ("redeem_points", None),
        ("redeem_points", 10**9 + 1),
    ],
    "/api/v1/sales": [
        ("identification_token", 123),
        ("identification_token", "x" * 201),
        ("identification_token", ""),
        ("redeem_points", -5),
        ("redeem_points", "0"),
        ("redeem_points", False),
        ("client_sale_id", 7),
        ("client_sale_id", ""),
        ("client_sale_id", "x" * 65),
        ("occurred_at", "yesterday"),
        ("occurred_at", "2026-01-01T10:00:00"),
        ("occurred_at", 1_700_000_000),
        ("offline", "false"),
        ("offline", 0),
        ("offline", None),
        ("card_update_written", "true"),
        ("card_update_written", 1),
        ("code", 42),
        ("card", "04A1B2C3"),
    ],
    "/api/v1/sales/{sale}/refunds": [("reason", 5), ("reason", "x" * 201), ("reason", None)],
}


@pytest.mark.parametrize("path", sorted(WRONG_FIELDS))
def test_wrong_types_and_values_for_every_field(app, client, s, path):
    real_path = path.format(sale=s.sale["id"])
    for field, value in WRONG_FIELDS[path]:
        body = {**valid_bodies(s)[real_path], field: value}
        if path == "/api/v1/identify" and field != "code":
            del body["code"]
        # an online sale must not carry a capture at all: the schema names the field or the whole body
        expected = None if field in ("code", "card") and path == "/api/v1/sales" else field
        expect_invalid(app, client, s, real_path, body, expected)


@pytest.mark.parametrize(
    "path", ["/api/v1/identify", "/api/v1/sales/quote", "/api/v1/sales", "/api/v1/sales/{sale}/refunds"]
)
def test_unknown_fields_are_refused(app, client, s, path):
    real_path = path.format(sale=s.sale["id"])
    body = {**valid_bodies(s)[real_path], "discount_bp": 5_000}
    expect_invalid(app, client, s, real_path, body, "discount_bp")


def test_missing_fields(app, client, s):
    cases = [
        ("/api/v1/identify", {}, "_schema"),
        ("/api/v1/identify", {"code": s.card.card_no, "phone": "13800138000"}, "_schema"),
        ("/api/v1/sales/quote", {"amount_fen": 1_000}, "identification_token"),
        ("/api/v1/sales/quote", {"identification_token": s.token}, "amount_fen"),
        ("/api/v1/sales", {"identification_token": s.token}, "amount_fen"),
        ("/api/v1/sales", {"amount_fen": 1_000}, "identification_token"),
        ("/api/v1/sales", {}, "amount_fen"),
    ]
    for path, body, field in cases:
        expect_invalid(app, client, s, path, body, field)


@pytest.mark.parametrize(
    "path", ["/api/v1/identify", "/api/v1/sales/quote", "/api/v1/sales", "/api/v1/sales/{sale}/refunds"]
)
def test_malformed_or_non_json_bodies(app, client, s, path):
    real_path = path.format(sale=s.sale["id"])
    valid = valid_bodies(s)[real_path]
    cases = [
        {"data": "{bad json", "content_type": "application/json"},
        {"data": json.dumps(valid)[:-1], "content_type": "application/json"},
        {"data": b"\xff\xfe{}", "content_type": "application/json"},
        {"data": "", "content_type": "application/json"},
        {"data": "[]", "content_type": "application/json"},
        {"data": '"just a string"', "content_type": "application/json"},
        {"data": "5", "content_type": "application/json"},
        {"data": "null", "content_type": "application/json"},
        # not JSON: never read as an empty body (for a refund that would mean "refund the whole rest")
        {"data": json.dumps(valid), "content_type": "text/plain"},
        {"data": {k: str(v) for k, v in valid.items()}},  # form-encoded
        {},  # no body at all
    ]
    before = db_state(app)
    for kwargs in cases:
        response = post(client, real_path, None, s.auth, **kwargs)
        assert_error(response, 422, "invalid_request")
        assert db_state(app) == before, kwargs


def test_oversize_body_is_413_in_the_error_shape(app, client, s):
    before = db_state(app)
    padding = "x" * (64 * 1024)
    for path in ("/api/v1/identify", "/api/v1/sales", f"/api/v1/sales/{s.sale['id']}/refunds"):
        response = post(client, path, {"code": s.card.card_no, "padding": padding}, s.auth)
        assert_error(response, 413, "payload_too_large")
    assert db_state(app) == before


# --- unauthorized / forbidden / not_found -----------------------------------------------------------


def all_requests(s) -> list[tuple[str, str, dict | None]]:
    bodies = valid_bodies(s)
    return [
        ("GET", "/api/v1/terminal", None),
        ("POST", "/api/v1/identify", bodies["/api/v1/identify"]),
        ("POST", "/api/v1/sales/quote", bodies["/api/v1/sales/quote"]),
        ("POST", "/api/v1/sales", bodies["/api/v1/sales"]),
        ("GET", f"/api/v1/sales/{s.sale['id']}", None),
        ("GET", f"/api/v1/sales?receipt_no={s.sale['receipt_no']}", None),
        ("POST", f"/api/v1/sales/{s.sale['id']}/refunds", bodies[f"/api/v1/sales/{s.sale['id']}/refunds"]),
    ]


def call(client, method: str, path: str, body, headers: dict):
    if method == "GET":
        return client.get(path, headers=headers)
    return client.post(path, json=body, headers={**headers, "Idempotency-Key": next_key("auth")})


def test_missing_or_wrong_credentials_are_401(app, client, s):
    with app.app_context():
        disabled = catalog.create_terminal(ACTOR, s.world.shop_a.merchant.id, "旧收银台")
        catalog.set_terminal_status(ACTOR, disabled.terminal.id, "disabled")
        suspended = make_shop("停业店")
        catalog.update_merchant(ACTOR, suspended.merchant.id, status="suspended")
    token = s.world.shop_a.token
    credentials = [
        {},
        {"Authorization": ""},
        {"Authorization": f"Basic {token}"},
        {"Authorization": token},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer   "},
        {"Authorization": "Bearer tt_" + "A" * 43},
        {"Authorization": "Bearer pt_" + "A" * 43},
        {"Authorization": "Bearer something-else"},
        {"Authorization": f"Bearer {token}x"},
        {"Authorization": f"Bearer {disabled.token}"},
        {"Authorization": f"Bearer {suspended.token}"},
    ]
    before = db_state(app)
    for headers in credentials:
        for method, path, body in all_requests(s):
            response = call(client, method, path, body, headers)
            assert_error(response, 401, "unauthorized")
            # the body is not even looked at without valid credentials
            if method == "POST":
                assert_error(call(client, method, path, {"amount_fen": "junk"}, headers), 401, "unauthorized")
    assert db_state(app) == before


def test_other_merchants_terminal_cannot_see_or_use_a_sale_or_identification(app, client, s):
    shop_b = s.world.shop_b.auth
    before = db_state(app)
    assert_error(client.get(f"/api/v1/sales/{s.sale['id']}", headers=shop_b), 404, "not_found")
    refund = post(client, f"/api/v1/sales/{s.sale['id']}/refunds", {}, shop_b)
    assert_error(refund, 404, "not_found")
    listed = client.get("/api/v1/sales", query_string={"receipt_no": s.sale["receipt_no"]}, headers=shop_b)
    assert (listed.status_code, listed.json) == (200, [])
    quote = client.post(
        "/api/v1/sales/quote", json={"identification_token": s.token, "amount_fen": 100}, headers=shop_b
    )
    assert_error(quote, 404, "not_found")
    sale = sell(client, shop_b, identification_token=s.token, amount_fen=100)
    assert_error(sale, 404, "not_found")
    assert db_state(app) == before
    # still good where it was issued
    assert sell(client, s.auth, identification_token=s.token, amount_fen=100).status_code == 201


def test_another_terminal_of_the_same_merchant_cannot_use_the_identification(app, client, s):
    with app.app_context():
        second = catalog.create_terminal(ACTOR, s.world.shop_a.merchant.id, "二号收银台")
    auth = {"Authorization": f"Bearer {second.token}"}
    before = db_state(app)
    assert_error(sell(client, auth, identification_token=s.token, amount_fen=100), 404, "not_found")
    assert db_state(app) == before


def test_staff_token_may_not_act_as_a_terminal(app, client, s):
    owner_b = s.world.shop_b.owner_auth
    before = db_state(app)
    assert_error(
        post(client, "/api/v1/identify", {"code": s.card.card_no}, s.world.shop_a.owner_auth), 403, "forbidden"
    )
    assert_error(
        post(client, "/api/v1/sales", valid_bodies(s)["/api/v1/sales"], s.world.shop_a.owner_auth), 403, "forbidden"
    )
    assert_error(client.get("/api/v1/terminal", headers=s.world.shop_a.owner_auth), 403, "forbidden")
    assert_error(client.get(f"/api/v1/sales/{s.sale['id']}", headers=owner_b), 404, "not_found")
    assert db_state(app) == before


def test_unknown_sale_is_not_found(app, client, s):
    before = db_state(app)
    assert_error(
        client.get("/api/v1/sales/sal_doesnotexist0000", headers=s.auth),
        404,
        "not_found",
        {"sale_id": "sal_doesnotexist0000"},
    )
    assert_error(post(client, "/api/v1/sales/sal_doesnotexist0000/refunds", {}, s.auth), 404, "not_found")
    assert db_state(app) == before


# --- Idempotency-Key errors -----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/sales", "/api/v1/sales/{sale}/refunds"])
def test_idempotency_key_is_required_and_must_be_printable_ascii(app, client, s, path):
    real_path = path.format(sale=s.sale["id"])
    body = valid_bodies(s)[real_path]
    before = db_state(app)
    assert_error(post(client, real_path, body, s.auth, key=None), 400, "idempotency_key_required")
    assert_error(post(client, real_path, body, s.auth, key=""), 400, "idempotency_key_required")
    for bad in ("k" * 256, "tab\there", "bell\x07"):
        error = assert_error(post(client, real_path, body, s.auth, key=bad), 422, "invalid_request")
        assert error["details"] == {"field": "Idempotency-Key"}
    assert db_state(app) == before
    assert post(client, real_path, body, s.auth, key="k" * 255).status_code == 201


# --- member and card errors -----------------------------------------------------------------------


def test_member_not_found(app, client, s):
    with app.app_context():
        unbound = members.create_cards(ACTOR, 1)[0]
    before = db_state(app)
    assert_error(post(client, "/api/v1/identify", {"phone": "13912345678"}, s.auth), 404, "member_not_found")
    assert_error(post(client, "/api/v1/identify", {"code": unbound.card_no}, s.auth), 404, "member_not_found")
    assert db_state(app) == before


def test_invalid_phone_is_invalid_request(app, client, s):
    before = db_state(app)
    for phone in ("12345", "23800138000", "+1 415 555 0100", "1380013800a"):
        error = assert_error(post(client, "/api/v1/identify", {"phone": phone}, s.auth), 422, "invalid_request")
        assert error["details"] == {"field": "phone"}
    assert db_state(app) == before


def test_card_unknown(app, client, s):
    before = db_state(app)
    unknown = make_card_number("8860", 9_999_999)
    assert_error(post(client, "/api/v1/identify", {"code": unknown}, s.auth), 404, "card_unknown")
    offline = post(
        client, "/api/v1/sales", {"offline": True, "code": unknown, "amount_fen": 100, "occurred_at": now_iso()}, s.auth
    )
    assert_error(offline, 404, "card_unknown")
    assert db_state(app) == before


@pytest.mark.parametrize("status", ["lost", "frozen", "replaced", "cancelled"])
def test_blocked_card(app, client, s, status):
    with app.app_context():
        db.session.execute(update(Card).where(Card.id == s.card.id).values(status=status))
        db.session.commit()
    before = db_state(app)
    error = assert_error(post(client, "/api/v1/identify", {"code": s.card.card_no}, s.auth), 409, "card_blocked")
    assert error["details"] == {"status": status}
    offline = post(
        client,
        "/api/v1/sales",
        {"offline": True, "code": s.card.card_no, "amount_fen": 100, "occurred_at": now_iso()},
        s.auth,
    )
    assert_error(offline, 409, "card_blocked")
    assert db_state(app) == before


# --- identification_expired -------------------------------------------------------------------------


def test_identification_is_single_use(app, client, s):
    assert sell(client, s.auth, identification_token=s.token, amount_fen=100).status_code == 201
    before = db_state(app)
    assert_error(sell(client, s.auth, identification_token=s.token, amount_fen=100), 409, "identification_expired")
    quote = client.post(
        "/api/v1/sales/quote", json={"identification_token": s.token, "amount_fen": 100}, headers=s.auth
    )
    assert_error(quote, 409, "identification_expired")
    made_up = sell(client, s.auth, identification_token="id_" + "x" * 43, amount_fen=100)
    assert_error(made_up, 409, "identification_expired")
    assert db_state(app) == before


def test_identification_expires_after_its_ttl(app, client, s):
    saved = app.config["IDENTIFICATION_TTL_SECONDS"]
    app.config["IDENTIFICATION_TTL_SECONDS"] = 0
    try:
        token = identify(client, s.auth, code=s.card.card_no)
    finally:
        app.config["IDENTIFICATION_TTL_SECONDS"] = saved
    before = db_state(app)
    assert_error(sell(client, s.auth, identification_token=token, amount_fen=100), 409, "identification_expired")
    assert db_state(app) == before


def test_identification_past_its_expiry_time_is_refused(app, client, s):
    with app.app_context():
        db.session.execute(
            update(Identification)
            .where(Identification.used_at.is_(None))
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        db.session.commit()
    before = db_state(app)
    quote = client.post(
        "/api/v1/sales/quote", json={"identification_token": s.token, "amount_fen": 100}, headers=s.auth
    )
    assert_error(quote, 409, "identification_expired")
    assert_error(sell(client, s.auth, identification_token=s.token, amount_fen=100), 409, "identification_expired")
    assert db_state(app) == before


# --- points errors -------------------------------------------------------------------------------------


def test_insufficient_points_and_redeem_limit(app, client, s):
    balance = 500 + s.sale["points_earned"]  # 510
    cases = [
        # amount, redeem, status/code, details
        (100_000, balance + 1, "insufficient_points", {"balance": balance, "requested": balance + 1}),
        (1_000, 501, "redeem_limit_exceeded", {"max_redeem_points": 500, "requested": 501}),
        (1, 1, "redeem_limit_exceeded", {"max_redeem_points": 0, "requested": 1}),
    ]
    before = db_state(app)
    for amount, redeem, code, details in cases:
        body = {"identification_token": s.token, "amount_fen": amount, "redeem_points": redeem}
        assert_error(client.post("/api/v1/sales/quote", json=body, headers=s.auth), 409, code, details)
        assert_error(sell(client, s.auth, **body), 409, code, details)
        assert db_state(app) == before  # also: the identification was not used up
    ok = sell(client, s.auth, identification_token=s.token, amount_fen=1_020, redeem_points=balance)
    assert ok.status_code == 201, ok.json
    assert (ok.json["sale"]["payable_fen"], ok.json["sale"]["points_balance"]) == (510, 5)


def test_error_responses_are_json_even_for_unknown_routes_and_methods(app, client, s):
    assert_error(client.get("/api/v1/no-such-thing", headers=s.auth), 404, "not_found")
    assert_error(client.delete("/api/v1/sales", headers=s.auth), 405, "method_not_allowed")
