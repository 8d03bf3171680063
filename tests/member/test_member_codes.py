"""Dynamic member codes at POST /api/v1/identify: valid once, replays, expiry, logout, offline replay."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from server.domain.member_codes import TIME_STEP_SECONDS, match_step, member_code, otp, parse_member_code
from server.extensions import db
from server.services import member_login
from tests.builders import make_world
from tests.live_server import assert_error, identify, next_key, sell
from tests.member.support import code_at, register_phone

T0 = float(int(time.time()) // 30 * 30 + 5)  # a moment early in a time step; the member-code clock is injected


def test_code_layout_and_steps():
    secret = bytes(range(32))
    code = member_code("88", 1234567, secret, 1000)
    assert len(code) == 18 and code.startswith("881234567") and code.isdigit()
    assert parse_member_code(code, "88").device_index == 1234567
    assert match_step(secret, code[9:], 1000) == ("valid", 1000)
    assert match_step(secret, code[9:], 1001) == ("valid", 1000)  # one step of skew either way
    assert match_step(secret, code[9:], 999) == ("valid", 1000)
    assert match_step(secret, code[9:], 1002) == ("expired", 1000)
    assert match_step(secret, "000000000" if code[9:] != "000000000" else "1", 1000) == ("invalid", None)
    assert otp(secret, 1000) != otp(secret, 1001) and otp(secret, 1000) != otp(bytes(32), 1000)


@pytest.fixture
def clock(app):
    moment = {"now": T0}
    app.config["MEMBER_CODE_CLOCK"] = lambda: moment["now"]
    yield moment
    app.config.pop("MEMBER_CODE_CLOCK")


@pytest.fixture
def world_and_phone(app, clock):
    with app.app_context():
        world = make_world()
        login = register_phone("13911112222")
        db.session.remove()
    return world, login


def test_code_identifies_once_then_replay_expired_and_invalid(client, clock, world_and_phone):
    world, login = world_and_phone
    code = code_at(login, T0)
    response = client.post("/api/v1/identify", json={"code": code}, headers=world.shop_a.auth)
    assert response.status_code == 200, response.json
    assert response.json["member"]["id"] == login.member.id
    assert response.json["identification"]["method"] == "code"
    assert response.json["member"]["masked_phone"] == "139****2222"

    assert_error(client.post("/api/v1/identify", json={"code": code}, headers=world.shop_b.auth), 409, "code_used")

    clock["now"] = T0 + 3 * TIME_STEP_SECONDS  # two steps past the code's window
    old = code_at(login, T0 + TIME_STEP_SECONDS)
    assert_error(client.post("/api/v1/identify", json={"code": old}, headers=world.shop_a.auth), 422, "code_expired")

    fresh = code_at(login, clock["now"])
    wrong = fresh[:-1] + str((int(fresh[-1]) + 1) % 10)
    assert_error(client.post("/api/v1/identify", json={"code": wrong}, headers=world.shop_a.auth), 422, "code_invalid")
    unknown_device = "88" + "9" * 16
    assert_error(
        client.post("/api/v1/identify", json={"code": unknown_device}, headers=world.shop_a.auth), 422, "code_invalid"
    )
    token = identify(client, world.shop_a.auth, code=fresh)
    sale = sell(client, world.shop_a.auth, identification_token=token, amount_fen=10_000)
    assert sale.status_code == 201, sale.json


def test_logged_out_device_codes_are_refused(app, client, clock, world_and_phone):
    world, login = world_and_phone
    with app.app_context():
        member_login.log_out(login.session_token)
        db.session.remove()
    code = code_at(login, T0)
    assert_error(client.post("/api/v1/identify", json={"code": code}, headers=world.shop_a.auth), 422, "code_invalid")


def test_offline_sale_replayed_with_a_captured_code(client, clock, world_and_phone):
    world, login = world_and_phone
    captured_at = T0 - 3600  # captured an hour ago while the terminal was offline
    body = {
        "code": code_at(login, captured_at),
        "amount_fen": 5_000,
        "offline": True,
        "occurred_at": datetime.fromtimestamp(captured_at, UTC).isoformat(),
        "client_sale_id": "offline-1",
    }
    clock["now"] = T0
    # the sale's server-side clock is the real one; only the code is checked at the captured moment
    response = client.post("/api/v1/sales", json=body, headers={**world.shop_a.auth, "Idempotency-Key": next_key()})
    assert response.status_code == 201, response.json
    again = {**body, "client_sale_id": "offline-2"}
    replay = client.post("/api/v1/sales", json=again, headers={**world.shop_a.auth, "Idempotency-Key": next_key()})
    assert_error(replay, 409, "code_used")
