"""Terminal API for the till's money: late replays of identifications, terminal receipt numbers, payment
methods, refund authorisation and refused sales reported for an operator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from server.extensions import db
from server.models import AuditLog, Identification, Merchant, Refund, RejectedSale, Sale, Terminal
from server.ratelimit import limiter
from tests.live_server import assert_error, db_state, identify, next_key, scene, sell
from tests.member.support import code_at, register_phone


def expire_identifications(app) -> None:
    with app.app_context():
        db.session.execute(update(Identification).values(expires_at=datetime.now(UTC)))
        db.session.commit()


def test_an_identification_by_member_code_replays_as_an_offline_sale_after_it_expired(app, client):
    """Identified by a member code, committed at the till, the server was away until the token expired."""
    world = scene(app).world
    with app.app_context():
        login = register_phone("13911113333")
        db.session.remove()
    auth = world.shop_a.auth
    code = code_at(login, datetime.now(UTC).timestamp())
    token = identify(client, auth, code=code)
    committed_at = datetime.now(UTC).isoformat()
    expire_identifications(app)
    online = {"identification_token": token, "amount_fen": 3_000, "client_sale_id": "c-1", "occurred_at": committed_at}
    assert_error(sell(client, auth, **online), 409, "identification_expired")
    # what the POS sends then: the same sale, offline, with the identification it was issued (the code is used up)
    assert_error(
        sell(client, auth, **{**online, "offline": True, "code": code, "identification_token": None}), 409, "code_used"
    )
    replay = {**online, "offline": True, "payment_method": "wechat"}
    response = sell(client, auth, **replay)
    assert response.status_code == 201, response.json
    assert response.json["sale"]["payment_method"] == "wechat" and response.json["sale"]["points_earned"] == 30
    with app.app_context():
        sale = db.session.scalars(select(Sale)).one()
        assert (sale.member_id, sale.method, sale.offline) == (login.member.id, "code", True)
    # used once: a second sale on the same identification is refused, and nothing changes
    before = db_state(app)
    assert_error(sell(client, auth, **{**replay, "client_sale_id": "c-2"}), 409, "identification_expired")
    # another terminal cannot use it at all
    assert_error(sell(client, world.shop_b.auth, **{**replay, "client_sale_id": "c-3"}), 404, "not_found")
    assert db_state(app) == before


def test_a_late_replay_is_held_to_the_identification_lifetime_and_the_offline_caps(app, client):
    s = scene(app, points=1_000)
    auth = s.auth
    token = identify(client, auth, code=s.card.card_no)
    on_time = datetime.now(UTC).isoformat()  # committed while the identification was live
    expire_identifications(app)
    late = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()  # committed after the identification expired
    body = {"identification_token": token, "amount_fen": 3_000, "offline": True, "occurred_at": late}
    assert_error(sell(client, auth, **body), 409, "identification_expired")
    assert_error(sell(client, auth, **{**body, "occurred_at": on_time, "redeem_points": 10}), 422, "invalid_request")
    assert_error(sell(client, auth, **{**body, "occurred_at": on_time, "amount_fen": 50_001}), 422, "invalid_request")
    assert sell(client, auth, **{**body, "occurred_at": on_time}).status_code == 201


def test_the_server_keeps_the_receipt_number_a_terminal_printed(app, client):
    s = scene(app)
    auth = s.auth
    token = identify(client, auth, code=s.card.card_no)
    sold = sell(client, auth, identification_token=token, amount_fen=1_000, receipt_no="0001-000007")
    assert sold.status_code == 201, sold.json
    assert sold.json["sale"]["receipt_no"] == "0001-000007"
    # the server's own numbering continues after the highest number the terminal used
    token = identify(client, auth, code=s.card.card_no)
    assert sell(client, auth, identification_token=token, amount_fen=1_000).json["sale"]["receipt_no"] == "0001-000008"
    with app.app_context():
        assert db.session.scalar(select(Terminal.receipt_seq).where(Terminal.id == s.world.shop_a.terminal.id)) == 8
    before = db_state(app)
    token = identify(client, auth, code=s.card.card_no)
    taken = sell(client, auth, identification_token=token, amount_fen=1_000, receipt_no="0001-000007")
    assert_error(taken, 409, "receipt_no_taken")
    for foreign in ("0002-000009", "T01-000009", "0001-9", "0001-000000"):  # another terminal's, or malformed
        token = identify(client, auth, code=s.card.card_no)
        refused = sell(client, auth, identification_token=token, amount_fen=1_000, receipt_no=foreign)
        assert_error(refused, 422, "invalid_request")
    assert count_sales(app) == 2 and db_state(app)["sales"] == before["sales"]


def count_sales(app) -> int:
    with app.app_context():
        return len(db.session.scalars(select(Sale.id)).all())


def test_payment_method_is_one_of_the_five_and_defaults_to_cash(app, client):
    s = scene(app)
    token = identify(client, s.auth, code=s.card.card_no)
    assert_error(
        sell(client, s.auth, identification_token=token, amount_fen=1_000, payment_method="bitcoin"),
        422,
        "invalid_request",
    )
    sale = sell(client, s.auth, identification_token=token, amount_fen=1_000).json["sale"]
    assert sale["payment_method"] == "cash"
    refund = client.post(
        f"/api/v1/sales/{sale['id']}/refunds",
        json={"amount_fen": 100, "payment_method": "alipay", "reason": "少找零"},
        headers={**s.auth, "Idempotency-Key": next_key()},
    )
    assert refund.status_code == 201, refund.json
    assert (refund.json["refund"]["payment_method"], refund.json["refund"]["reason"]) == ("alipay", "少找零")
    assert refund.json["refund"]["refundable_fen"] == sale["payable_fen"] - 100
    spec = client.get("/api/v1/openapi.json").json["components"]["schemas"]
    assert spec["SaleRequest"]["properties"]["payment_method"]["enum"] == ["cash", "wechat", "alipay", "card", "other"]
    assert spec["RefundRequest"]["properties"]["payment_method"]["enum"] == [
        "cash",
        "wechat",
        "alipay",
        "card",
        "other",
    ]


@pytest.fixture
def pin_shop(app, client):
    s = scene(app)
    merchant_url = f"/api/v1/merchants/{s.world.shop_a.merchant.id}"
    no_pin = client.patch(merchant_url, json={"refund_auth_threshold_fen": 5_000}, headers=s.world.staff_auth("admin"))
    assert_error(no_pin, 422, "invalid_request", {"field": "refund_pin"})
    response = client.patch(
        f"/api/v1/merchants/{s.world.shop_a.merchant.id}",
        json={"refund_auth_threshold_fen": 5_000, "refund_pin": "2468"},
        headers=s.world.staff_auth("admin"),
    )
    assert response.status_code == 200, response.json
    assert response.json["merchant"]["refund_auth_threshold_fen"] == 5_000
    assert response.json["merchant"]["refund_pin_set"] is True and "refund_pin" not in response.json["merchant"]
    with app.app_context():
        stored = db.session.get(Merchant, s.world.shop_a.merchant.id).refund_pin_hash
        assert stored.startswith("$argon2") and "2468" not in stored
        logged = db.session.scalars(select(AuditLog).where(AuditLog.action == "merchant.update")).all()
        assert all("2468" not in str(row.details) for row in logged)
    return s


def test_a_refund_above_the_threshold_needs_the_supervisor_pin_checked_by_the_server(app, client, pin_shop):
    s = pin_shop
    token = identify(client, s.auth, code=s.card.card_no)
    sale = sell(client, s.auth, identification_token=token, amount_fen=20_000).json["sale"]
    assert client.get("/api/v1/terminal", headers=s.auth).json["refunds"] == {"authorisation_above_fen": 5_000}

    def refund(**body):
        return client.post(
            f"/api/v1/sales/{sale['id']}/refunds", json=body, headers={**s.auth, "Idempotency-Key": next_key()}
        )

    small = refund(amount_fen=5_000, reason="退一件")  # at the threshold: no PIN asked
    assert small.status_code == 201 and small.json["refund"]["authorised_by"] is None
    before = db_state(app)
    assert_error(refund(amount_fen=6_000, reason="退两件"), 403, "refund_authorisation_required")
    assert_error(refund(amount_fen=6_000, reason="退两件", supervisor_pin="1111"), 403, "refund_pin_wrong")
    assert_error(refund(amount_fen=6_000, supervisor_pin="12ab"), 422, "invalid_request")
    assert db_state(app) == before
    done = refund(amount_fen=6_000, reason="退两件", supervisor_pin="2468")
    assert done.status_code == 201, done.json
    assert done.json["refund"]["authorised_by"] == "supervisor_pin"
    assert done.json["refund"]["refundable_fen"] == sale["payable_fen"] - 11_000
    with app.app_context():
        stored = db.session.scalars(select(Refund).order_by(Refund.created_at)).all()
        assert [(r.amount_fen, r.reason, r.authorised_by) for r in stored] == [
            (5_000, "退一件", None),
            (6_000, "退两件", "supervisor_pin"),
        ]
    # staff refunding through the API are themselves the authorised person
    staff = client.post(
        f"/api/v1/sales/{sale['id']}/refunds",
        json={"amount_fen": 6_000},
        headers={**s.world.staff_auth("admin"), "Idempotency-Key": next_key()},
    )
    assert staff.status_code == 201, staff.json


def test_wrong_supervisor_pins_are_rate_limited(app, client, pin_shop):
    s = pin_shop
    limiter.reset()
    try:
        token = identify(client, s.auth, code=s.card.card_no)
        sale = sell(client, s.auth, identification_token=token, amount_fen=20_000).json["sale"]

        def refund(pin):
            return client.post(
                f"/api/v1/sales/{sale['id']}/refunds",
                json={"amount_fen": 6_000, "supervisor_pin": pin},
                headers={**s.auth, "Idempotency-Key": next_key()},
            )

        for _ in range(5):
            assert_error(refund("0000"), 403, "refund_pin_wrong")
        limited = refund("2468")  # even the right PIN waits once the wrong ones are used up
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
        assert limited.json["error"] == "rate_limited"
    finally:
        limiter.reset()


def test_a_refused_sale_is_reported_by_the_terminal_and_resolved_by_an_operator(app, client):
    s = scene(app)
    body = {
        "client_sale_id": "lost-1",
        "receipt_no": "0001-000004",
        "amount_fen": 8_800,
        "payable_fen": 8_800,
        "payment_method": "cash",
        "error_code": "card_blocked",
        "error_message": "This card is blocked.",
        "occurred_at": datetime.now(UTC).isoformat(),
        "request": {"amount_fen": 8_800, "offline": True},
    }
    first = client.post("/api/v1/sales/rejected", json=body, headers=s.auth)
    assert first.status_code == 201, first.json
    again = client.post("/api/v1/sales/rejected", json=body, headers=s.auth)
    assert again.json["rejected_sale"]["id"] == first.json["rejected_sale"]["id"]
    listed = client.get("/api/v1/sales/rejected", query_string={"status": "open"}, headers=s.world.staff_auth("admin"))
    assert [(row["receipt_no"], row["amount_fen"], row["error_code"]) for row in listed.json] == [
        ("0001-000004", 8_800, "card_blocked")
    ]
    rejected_id = listed.json[0]["id"]
    assert_error(
        client.post(f"/api/v1/sales/rejected/{rejected_id}/resolve", json={"resolution": "x"}, headers=s.auth),
        403,
        "forbidden",
    )
    resolved = client.post(
        f"/api/v1/sales/rejected/{rejected_id}/resolve",
        json={"resolution": "顾客已补办新卡，按原价补录"},
        headers=s.world.staff_auth("admin"),
    )
    assert resolved.status_code == 200, resolved.json
    assert resolved.json["rejected_sale"]["status"] == "resolved"
    with app.app_context():
        assert db.session.scalars(select(RejectedSale.status)).one() == "resolved"
    still_open = client.get(
        "/api/v1/sales/rejected", query_string={"status": "open"}, headers=s.world.staff_auth("admin")
    )
    assert still_open.json == []
    # another merchant's terminal does not see it
    assert client.get("/api/v1/sales/rejected", headers=s.world.shop_b.auth).json == []
