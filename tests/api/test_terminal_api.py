"""The terminal endpoints of docs/terminal-api.md: exact response shapes and the numbers in them."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from alliance_shared.money import MAX_AMOUNT_FEN
from server.extensions import db
from server.models import Identification, LedgerAccount, Member, Refund, Sale
from server.security.credentials import token_hash
from server.services import catalog
from tests.builders import ACTOR
from tests.live_server import (
    ISO_TIME,
    assert_error,
    assert_shape,
    db_state,
    identify,
    member_ledger_sum,
    next_key,
    scene,
    sell,
)

LEVEL = {"code": str, "name": str}
IDENTIFY_SHAPE = {
    "member": {"id": str, "display_name": str, "masked_phone": str, "level": LEVEL},
    "points_balance": int,
    "discount_bp": int,
    "identification": {
        "method": str,
        "token": str,
        "expires_at": ISO_TIME,
        "proof": None,
        "spend_needs_proof": bool,
        "vouchers": list,
    },
    "card_update": None,
}
QUOTE_SHAPE = {
    "amount_fen": int,
    "discount_fen": int,
    "redeem_points": int,
    "redeem_value_fen": int,
    "payable_fen": int,
    "points_to_earn": int,
    "max_redeem_points": int,
    "voucher_fen": int,
    "voucher": None,
}
SALE_SHAPE = {
    "id": str,
    "receipt_no": str,
    "amount_fen": int,
    "discount_fen": int,
    "redeem_points": int,
    "redeem_value_fen": int,
    "payable_fen": int,
    "points_earned": int,
    "points_balance": int,
    "level": LEVEL,
    "payment_method": str,
    "created_at": ISO_TIME,
    "voucher_fen": int,
    "voucher": None,
}
SALE_DETAIL_SHAPE = {
    **{name: kind for name, kind in SALE_SHAPE.items() if name != "points_balance"},
    "merchant_id": str,
    "terminal_id": str,
    "member_id": str,
    "method": str,
    "client_sale_id": str,
    "discount_bp": int,
    "refunded_fen": int,
    "points_reversed": int,
    "points_restored": int,
    "offline": bool,
    "occurred_at": ISO_TIME,
    "refundable_fen": int,
}
REFUND_SHAPE = {
    "refund": {
        "id": str,
        "sale_id": str,
        "amount_fen": int,
        "points_reversed": int,
        "points_restored": int,
        "points_balance": int,
        "receipt_no": str,
        "refundable_fen": int,
        "reason": str,
        "payment_method": str,
        "authorised_by": None,
        "created_at": ISO_TIME,
        "voucher_fen": int,
        "voucher_restored": bool,
    },
}
SALE_ENVELOPE_SHAPE = {
    "sale": SALE_SHAPE,
    "member": {"id": str, "display_name": str, "masked_phone": str, "level": LEVEL},
    "card_update": None,
}
NORMAL = {"code": "normal", "name": "普通会员"}
SILVER = {"code": "silver", "name": "银卡会员"}
GOLD = {"code": "gold", "name": "金卡会员"}


def sale_at(client, auth: dict, card_no: str, amount_fen: int, redeem_points: int = 0) -> dict:
    """Identify by card number and record a sale; return the sale JSON."""
    token = identify(client, auth, code=card_no)
    response = sell(client, auth, identification_token=token, amount_fen=amount_fen, redeem_points=redeem_points)
    assert response.status_code == 201, response.json
    return response.json["sale"]


def refund(client, auth: dict, sale_id: str, amount_fen: int | None = None):
    body = {} if amount_fen is None else {"amount_fen": amount_fen}
    return client.post(
        f"/api/v1/sales/{sale_id}/refunds", json=body, headers={**auth, "Idempotency-Key": next_key("refund")}
    )


def near_now(text: str, offset: timedelta = timedelta(0)) -> bool:
    return abs(datetime.fromisoformat(text) - (datetime.now(UTC) + offset)) < timedelta(seconds=10)


# --- GET /terminal ---------------------------------------------------------------------------------


def test_terminal_info_has_exactly_the_contract_fields(app, client):
    s = scene(app)
    response = client.get("/api/v1/terminal", headers=s.auth)
    assert response.status_code == 200
    body = response.json
    assert_shape(
        body,
        {
            "terminal": {"id": str, "name": str},
            "merchant": {"id": str, "name": str, "address": str},
            # card_read_key: beyond the contract, the secret terminals derive each chip card's read key from
            "alliance": {
                "name": str,
                "member_code_prefix": str,
                "point_value_fen": int,
                "card_public_key": str,
                "card_read_key": str,
                "time_zone": str,
            },
            "receipts": {"prefix": str, "last_seq": int},
            "refunds": {"authorisation_above_fen": None},
            "offline_limits": {"max_sale_fen": int, "max_sales_per_shift": int, "max_age_hours": int},
            "offline_pricing": {"earn_rate_bp": int, "levels": list},
            "server_time": ISO_TIME,
        },
    )
    shop = s.world.shop_a
    assert body["terminal"] == {"id": shop.terminal.id, "name": "收银台"}
    assert body["merchant"] == {"id": shop.merchant.id, "name": "甲店", "address": ""}
    keys = ("card_public_key", "card_read_key")
    assert {k: v for k, v in body["alliance"].items() if k not in keys} == {
        "name": "幸福街商家联盟",
        "member_code_prefix": "88",
        "point_value_fen": 1,
        "time_zone": "Asia/Shanghai",
    }
    assert body["receipts"] == {"prefix": "0001", "last_seq": 0}
    assert body["refunds"] == {"authorisation_above_fen": None}
    for key in keys:
        assert len(base64.b64decode(body["alliance"][key], validate=True)) == 32
    assert body["offline_limits"] == {"max_sale_fen": 50_000, "max_sales_per_shift": 50, "max_age_hours": 24}
    assert near_now(body["server_time"])
    other = client.get("/api/v1/terminal", headers=s.world.shop_b.auth).json
    assert other["terminal"]["id"] == s.world.shop_b.terminal.id
    assert other["merchant"]["name"] == "乙店"


def test_terminal_info_gives_the_merchants_discount_per_level_rank_for_offline_pricing(app, client):
    s = scene(app)
    with app.app_context():
        shop, gold = s.world.shop_a, s.world.levels["gold"]
        catalog.set_level_discount(ACTOR, shop.merchant.id, gold.id, gold.min_discount_bp)
        expected = [
            {
                "rank": level.rank,
                "code": level.code,
                "name": level.name,
                "discount_bp": gold.min_discount_bp if level.code == "gold" else level.default_discount_bp,
            }
            for level in sorted(s.world.levels.values(), key=lambda level: level.rank)
        ]
        earn_rate_bp = shop.merchant.earn_rate_bp
    pricing = client.get("/api/v1/terminal", headers=s.world.shop_a.auth).json["offline_pricing"]
    assert pricing == {"earn_rate_bp": earn_rate_bp, "levels": expected}
    other = client.get("/api/v1/terminal", headers=s.world.shop_b.auth).json["offline_pricing"]
    assert [level["discount_bp"] for level in other["levels"]] == [
        level.default_discount_bp for level in sorted(s.world.levels.values(), key=lambda level: level.rank)
    ]


# --- POST /identify --------------------------------------------------------------------------------


@pytest.mark.parametrize("spelling", ["plain", "spaced", "dashed"])
def test_identify_by_printed_card_number(app, client, spelling):
    s = scene(app, points=500, phone="13800138000")
    number = s.card.card_no
    code = {
        "plain": number,
        "spaced": " ".join(number[i : i + 4] for i in range(0, 16, 4)),
        "dashed": "-".join(number[i : i + 4] for i in range(0, 16, 4)),
    }[spelling]
    response = client.post("/api/v1/identify", json={"code": code}, headers=s.auth)
    assert response.status_code == 200, response.json
    body = response.json
    assert_shape(body, IDENTIFY_SHAPE)
    assert body["member"] == {
        "id": s.member.id,
        "display_name": "测试会员",
        "masked_phone": "138****8000",
        "level": NORMAL,
    }
    assert body["points_balance"] == 500
    assert body["discount_bp"] == 10_000
    assert body["identification"]["method"] == "code"
    assert near_now(body["identification"]["expires_at"], timedelta(seconds=300))
    with app.app_context():
        row = db.session.scalars(select(Identification)).one()
        assert (row.member_id, row.terminal_id, row.card_id, row.method, row.used_at) == (
            s.member.id,
            s.world.shop_a.terminal.id,
            s.card.id,
            "code",
            None,
        )
        assert row.token_hash == token_hash(body["identification"]["token"])  # stored hashed only


@pytest.mark.parametrize(
    "phone", ["13800138000", "+86 138-0013-8000", "+8613800138000", "0086 138 0013 8000", "138-0013-8000"]
)
def test_identify_by_phone_in_any_notation(app, client, phone):
    s = scene(app, points=42, phone="13800138000", level="silver")
    response = client.post("/api/v1/identify", json={"phone": phone}, headers=s.auth)
    assert response.status_code == 200, response.json
    body = response.json
    assert_shape(body, IDENTIFY_SHAPE)
    assert body["member"]["id"] == s.member.id
    assert body["member"]["masked_phone"] == "138****8000"
    assert body["member"]["display_name"] == "测**员"  # a phone lookup shows the masked name only
    assert body["member"]["level"] == SILVER
    assert body["points_balance"] == 42
    assert body["discount_bp"] == 9_500
    assert body["identification"]["method"] == "phone"


def test_identify_shows_the_merchants_own_discount_for_the_level(app, client):
    s = scene(app, level="gold")
    with app.app_context():
        catalog.set_level_discount(ACTOR, s.world.shop_b.merchant.id, s.world.levels["gold"].id, 8_800)
    at_a = client.post("/api/v1/identify", json={"code": s.card.card_no}, headers=s.auth).json
    at_b = client.post("/api/v1/identify", json={"code": s.card.card_no}, headers=s.world.shop_b.auth).json
    assert (at_a["discount_bp"], at_b["discount_bp"]) == (9_000, 8_800)
    assert at_a["identification"]["token"] != at_b["identification"]["token"]


def test_identify_refuses_what_it_cannot_verify(app, client):
    s = scene(app, points=10)
    before = db_state(app)
    chip = client.post(
        "/api/v1/identify", json={"card": {"uid": "04A1B2C3D4E5F6", "blocks": {"4": "00" * 16}}}, headers=s.auth
    )
    assert_error(chip, 422, "card_invalid")
    dynamic = client.post("/api/v1/identify", json={"code": "88" + "1234567890123456"}, headers=s.auth)
    assert_error(dynamic, 422, "code_invalid")
    for junk in ("hello world", "12345", "8860000000000001" + "x", "1" * 18, "13" + "1" * 16):
        assert_error(client.post("/api/v1/identify", json={"code": junk}, headers=s.auth), 422, "code_invalid")
    bad_luhn = s.card.card_no[:-1] + str((int(s.card.card_no[-1]) + 1) % 10)
    assert_error(client.post("/api/v1/identify", json={"code": bad_luhn}, headers=s.auth), 422, "code_invalid")
    assert db_state(app) == before


# --- POST /sales/quote -----------------------------------------------------------------------------


def test_quote_prices_the_sale_and_changes_nothing(app, client):
    s = scene(app, points=10_000, level="silver")
    token = identify(client, s.auth, code=s.card.card_no)
    before = db_state(app)
    response = client.post(
        "/api/v1/sales/quote",
        json={"identification_token": token, "amount_fen": 12_345, "redeem_points": 200},
        headers=s.auth,
    )
    assert response.status_code == 200, response.json
    quote = response.json
    assert_shape(quote, QUOTE_SHAPE)
    # 九五折 rounds half up (11727.75 -> 11728); points pay at most 50% of 11728; 1% earned, rounded down.
    assert quote == {
        "amount_fen": 12_345,
        "discount_fen": 617,
        "redeem_points": 200,
        "redeem_value_fen": 200,
        "payable_fen": 11_528,
        "points_to_earn": 115,
        "max_redeem_points": 5_864,
        "voucher_fen": 0,
        "voucher": None,
    }
    again = client.post(
        "/api/v1/sales/quote", json={"identification_token": token, "amount_fen": 12_345}, headers=s.auth
    )
    assert again.json == {
        **quote,
        "redeem_points": 0,
        "redeem_value_fen": 0,
        "payable_fen": 11_728,
        "points_to_earn": 117,
    }
    assert db_state(app) == before
    # the quote did not use up the identification: the sale goes through with the same numbers
    sale = sell(client, s.auth, identification_token=token, amount_fen=12_345, redeem_points=200).json["sale"]
    assert {k: sale[k] for k in ("amount_fen", "discount_fen", "redeem_points", "redeem_value_fen", "payable_fen")} == {
        k: quote[k] for k in ("amount_fen", "discount_fen", "redeem_points", "redeem_value_fen", "payable_fen")
    }
    assert sale["points_earned"] == quote["points_to_earn"]


def test_quote_accepts_the_largest_amount(app, client):
    s = scene(app, points=0)
    token = identify(client, s.auth, code=s.card.card_no)
    response = client.post(
        "/api/v1/sales/quote", json={"identification_token": token, "amount_fen": MAX_AMOUNT_FEN}, headers=s.auth
    )
    assert response.status_code == 200, response.json
    assert response.json == {
        "amount_fen": MAX_AMOUNT_FEN,
        "discount_fen": 0,
        "redeem_points": 0,
        "redeem_value_fen": 0,
        "payable_fen": MAX_AMOUNT_FEN,
        "points_to_earn": MAX_AMOUNT_FEN // 100,
        "max_redeem_points": 0,
        "voucher_fen": 0,
        "voucher": None,
    }


@pytest.mark.postgres
def test_the_largest_documented_sale_and_refund_are_stored_on_postgresql(pg_app):
    # The document allows amount_fen up to MAX_AMOUNT_FEN: at the highest earn rate the sale, its points and
    # its refund must fit the database's columns (10^10 fen was allowed and got a 500 on PostgreSQL).
    s = scene(pg_app, earn_rate_bp=10_000)
    client = pg_app.test_client()
    token = identify(client, s.auth, code=s.card.card_no)
    assert sell(client, s.auth, identification_token=token, amount_fen=MAX_AMOUNT_FEN + 1).status_code == 422
    sale = sell(client, s.auth, identification_token=token, amount_fen=MAX_AMOUNT_FEN)
    assert sale.status_code == 201, sale.json
    assert sale.json["sale"]["points_earned"] == MAX_AMOUNT_FEN
    refund = client.post(
        f"/api/v1/sales/{sale.json['sale']['id']}/refunds",
        json={},
        headers={**s.auth, "Idempotency-Key": next_key("refund")},
    )
    assert refund.status_code == 201, refund.json
    assert refund.json["refund"]["amount_fen"] == MAX_AMOUNT_FEN


# --- POST /sales ------------------------------------------------------------------------------------


def test_sale_parts_add_up_and_move_points_through_the_ledger(app, client):
    s = scene(app, points=10_000, level="silver")
    token = identify(client, s.auth, code=s.card.card_no)
    response = sell(
        client,
        s.auth,
        identification_token=token,
        amount_fen=12_345,
        redeem_points=200,
        client_sale_id="pos-1",
        occurred_at="2026-01-01T10:00:00+08:00",
        offline=False,
        card_update_written=None,
    )
    assert response.status_code == 201, response.json
    assert response.headers.get("Idempotent-Replayed") is None
    assert_shape(response.json, SALE_ENVELOPE_SHAPE)
    sale = response.json["sale"]
    assert sale["id"].startswith("sal_")
    assert {k: v for k, v in sale.items() if k not in ("id", "created_at")} == {
        "receipt_no": "0001-000001",
        "amount_fen": 12_345,
        "discount_fen": 617,
        "redeem_points": 200,
        "redeem_value_fen": 200,
        "payable_fen": 11_528,
        "points_earned": 115,
        "points_balance": 9_915,
        "level": SILVER,
        "payment_method": "cash",
        "voucher_fen": 0,
        "voucher": None,
    }
    assert sale["amount_fen"] == sale["discount_fen"] + sale["redeem_value_fen"] + sale["payable_fen"]
    assert near_now(sale["created_at"])
    assert member_ledger_sum(app, s.member.id) == (9_915, 9_915)
    with app.app_context():
        stored = db.session.get(Sale, sale["id"])
        assert (stored.member_id, stored.card_id, stored.method, stored.client_sale_id, stored.offline) == (
            s.member.id,
            s.card.id,
            "code",
            "pos-1",
            False,
        )
        assert near_now(stored.occurred_at.isoformat())  # an online sale happens now, whatever the terminal says
        merchant = s.world.shop_a.merchant
        issued = db.session.get(LedgerAccount, merchant.points_issued_account_id).balance
        accepted = db.session.get(LedgerAccount, merchant.points_accepted_account_id).balance
        assert (issued, accepted) == (-115, 200)
        assert db.session.scalars(select(Identification.used_at)).one() is not None


def test_receipt_numbers_count_per_terminal_and_are_unique_across_the_alliance(app, client):
    s = scene(app, points=0)
    shop_a, shop_b = s.world.shop_a, s.world.shop_b
    first = sale_at(client, shop_a.auth, s.card.card_no, 100)
    second = sale_at(client, shop_a.auth, s.card.card_no, 200)
    at_b = sale_at(client, shop_b.auth, s.card.card_no, 300)
    # each terminal's numbers start with its alliance-wide prefix: no number names two sales
    assert (first["receipt_no"], second["receipt_no"], at_b["receipt_no"]) == (
        "0001-000001",
        "0001-000002",
        "0002-000001",
    )
    found_a = client.get("/api/v1/sales", query_string={"receipt_no": "0001-000001"}, headers=shop_a.auth)
    found_b = client.get("/api/v1/sales", query_string={"receipt_no": "0001-000001"}, headers=shop_b.auth)
    assert [row["id"] for row in found_a.json] == [first["id"]]
    assert found_b.json == []
    with app.app_context():  # a second sale can never take a number (the database says so too)
        sale = db.session.get(Sale, at_b["id"])
        sale.receipt_no = first["receipt_no"]
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()
        # a number printed before numbers were alliance-wide still finds its sale at its merchant
        db.session.get(Sale, at_b["id"]).legacy_receipt_no = "T01-000001"
        db.session.commit()
    legacy = client.get("/api/v1/sales", query_string={"receipt_no": "T01-000001"}, headers=shop_b.auth)
    assert [row["id"] for row in legacy.json] == [at_b["id"]]


def test_sale_that_lifts_spend_over_the_silver_threshold_upgrades_at_once(app, client):
    s = scene(app, points=0)
    below = sale_at(client, s.auth, s.card.card_no, 60_000)
    assert below["level"] == NORMAL
    almost = sale_at(client, s.auth, s.card.card_no, 39_999)  # 99 999 fen: one fen short of 1000.00 yuan
    assert almost["level"] == NORMAL
    crossing = sale_at(client, s.auth, s.card.card_no, 1)
    assert crossing["level"] == SILVER
    assert crossing["points_earned"] == 0  # 1% of 1 fen, rounded down
    found = client.post("/api/v1/identify", json={"code": s.card.card_no}, headers=s.auth).json
    assert found["member"]["level"] == SILVER
    assert found["discount_bp"] == 9_500
    with app.app_context():
        assert db.session.get(Member, s.member.id).level_id == s.world.levels["silver"].id


def test_one_big_sale_can_skip_levels(app, client):
    s = scene(app, points=0)
    sale = sale_at(client, s.auth, s.card.card_no, 500_000)
    assert sale["level"] == GOLD
    assert sale["discount_fen"] == 0  # priced at the level the member had when the sale started


@pytest.mark.parametrize(
    ("earn_rate_bp", "amount_fen", "earned"),
    [
        (250, 12_345, 308),  # 308.625 -> 308
        (250, 39, 0),  # 0.975 -> 0
        (100, 9_999, 99),  # 99.99 -> 99
        (0, 100_000, 0),
        (10_000, 777, 777),
    ],
)
def test_points_earned_follow_the_merchants_earn_rate_rounded_down(app, client, earn_rate_bp, amount_fen, earned):
    s = scene(app, points=0)
    with app.app_context():
        catalog.update_merchant(ACTOR, s.world.shop_a.merchant.id, earn_rate_bp=earn_rate_bp)
    sale = sale_at(client, s.auth, s.card.card_no, amount_fen)
    assert (sale["payable_fen"], sale["points_earned"], sale["points_balance"]) == (amount_fen, earned, earned)
    assert member_ledger_sum(app, s.member.id) == (earned, earned)


# --- offline replay ----------------------------------------------------------------------------------


def offline_sale(client, auth, card_no, amount_fen, occurred_at: datetime, key=None, **extra):
    body = {"offline": True, "code": card_no, "amount_fen": amount_fen, "occurred_at": occurred_at.isoformat(), **extra}
    return client.post("/api/v1/sales", json=body, headers={**auth, "Idempotency-Key": key or next_key("offline")})


def test_offline_sale_replays_with_its_original_time_and_earns_points(app, client):
    s = scene(app, points=0)
    occurred = (datetime.now(UTC) - timedelta(hours=3)).astimezone(timezone(timedelta(hours=8))).replace(microsecond=0)
    response = offline_sale(
        client,
        s.auth,
        s.card.card_no,
        20_000,
        occurred,
        client_sale_id="outbox-7",
        redeem_points=0,
        card_update_written=False,
    )
    assert response.status_code == 201, response.json
    assert_shape(response.json, SALE_ENVELOPE_SHAPE)
    sale = response.json["sale"]
    assert (sale["amount_fen"], sale["payable_fen"], sale["points_earned"], sale["points_balance"]) == (
        20_000,
        20_000,
        200,
        200,
    )
    detail = client.get(f"/api/v1/sales/{sale['id']}", headers=s.auth).json["sale"]
    assert detail["offline"] is True
    assert detail["method"] == "code"
    assert detail["client_sale_id"] == "outbox-7"
    assert datetime.fromisoformat(detail["occurred_at"]) == occurred
    assert member_ledger_sum(app, s.member.id) == (200, 200)


def test_offline_sale_at_the_limits_is_accepted(app, client):
    s = scene(app, points=0)
    almost_a_day = datetime.now(UTC) - timedelta(hours=24)
    response = offline_sale(client, s.auth, s.card.card_no, 50_000, almost_a_day)
    assert response.status_code == 201, response.json
    assert response.json["sale"]["points_earned"] == 500


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"redeem_points": 1}, "redeem_points"),
        ({"amount_fen": 50_001}, "amount_fen"),
        ({"hours_ago": 25}, "occurred_at"),
        ({"hours_ago": -1}, "occurred_at"),  # in the future
    ],
)
def test_offline_sale_outside_the_offline_rules_is_refused(app, client, change, field):
    s = scene(app, points=1_000)
    before = db_state(app)
    occurred = datetime.now(UTC) - timedelta(hours=change.pop("hours_ago", 1))
    body = {"amount_fen": 10_000, **change}
    response = offline_sale(client, s.auth, s.card.card_no, body.pop("amount_fen"), occurred, **body)
    error = assert_error(response, 422, "invalid_request")
    assert error["details"]["field"] == field
    assert db_state(app) == before


def test_offline_sale_may_not_send_a_token_and_an_online_sale_may_not_send_a_capture(app, client):
    s = scene(app, points=0)
    token = identify(client, s.auth, code=s.card.card_no)
    before = db_state(app)
    now = datetime.now(UTC)
    with_token = offline_sale(client, s.auth, s.card.card_no, 100, now, identification_token=token)
    assert_error(with_token, 422, "invalid_request")
    online_with_code = sell(client, s.auth, identification_token=token, amount_fen=100, code=s.card.card_no)
    assert_error(online_with_code, 422, "invalid_request")
    offline_without_capture = client.post(
        "/api/v1/sales", json={"offline": True, "amount_fen": 100}, headers={**s.auth, "Idempotency-Key": "no-capture"}
    )
    assert_error(offline_without_capture, 422, "invalid_request")
    assert db_state(app) == before


def test_offline_replay_of_a_recorded_client_sale_id_with_a_new_key_is_a_conflict(app, client):
    s = scene(app, points=0)
    occurred = datetime.now(UTC) - timedelta(hours=1)
    assert offline_sale(client, s.auth, s.card.card_no, 1_000, occurred, client_sale_id="c-1").status_code == 201
    before = db_state(app)
    again = offline_sale(client, s.auth, s.card.card_no, 1_000, occurred, client_sale_id="c-1")
    assert_error(again, 409, "conflict")
    assert db_state(app) == before


# --- GET /sales/{id}, GET /sales?receipt_no= ---------------------------------------------------------


def test_get_sale_and_find_it_by_receipt_number(app, client):
    s = scene(app, points=1_000)
    token = identify(client, s.auth, code=s.card.card_no)
    sale = sell(
        client, s.auth, identification_token=token, amount_fen=10_000, redeem_points=300, client_sale_id="pos-42"
    ).json["sale"]
    response = client.get(f"/api/v1/sales/{sale['id']}", headers=s.auth)
    assert response.status_code == 200
    assert_shape(response.json, {"sale": SALE_DETAIL_SHAPE})
    detail = response.json["sale"]
    assert detail == {
        **{k: v for k, v in sale.items() if k != "points_balance"},
        "merchant_id": s.world.shop_a.merchant.id,
        "terminal_id": s.world.shop_a.terminal.id,
        "member_id": s.member.id,
        "method": "code",
        "client_sale_id": "pos-42",
        "discount_bp": 10_000,
        "refunded_fen": 0,
        "points_reversed": 0,
        "points_restored": 0,
        "offline": False,
        "occurred_at": detail["occurred_at"],
        "refundable_fen": sale["payable_fen"],
    }
    assert near_now(detail["occurred_at"])
    listed = client.get("/api/v1/sales", query_string={"receipt_no": sale["receipt_no"]}, headers=s.auth)
    assert listed.status_code == 200
    assert listed.json == [detail]
    unknown = client.get("/api/v1/sales", query_string={"receipt_no": "T01-999999"}, headers=s.auth)
    assert (unknown.status_code, unknown.json) == (200, [])


# --- POST /sales/{id}/refunds ---------------------------------------------------------------------------


def test_whole_refund_reverses_the_earned_points(app, client):
    s = scene(app, points=0)
    sale = sale_at(client, s.auth, s.card.card_no, 5_000)
    assert sale["points_balance"] == 50
    response = refund(client, s.auth, sale["id"])
    assert response.status_code == 201, response.json
    assert_shape(response.json, REFUND_SHAPE)
    body = response.json["refund"]
    assert body["id"].startswith("rfd_")
    assert {k: v for k, v in body.items() if k not in ("id", "created_at")} == {
        "sale_id": sale["id"],
        "receipt_no": sale["receipt_no"],
        "amount_fen": 5_000,
        "points_reversed": 50,
        "points_restored": 0,
        "points_balance": 0,
        "refundable_fen": 0,
        "reason": "",
        "payment_method": "cash",
        "authorised_by": None,
        "voucher_fen": 0,
        "voucher_restored": False,
    }
    detail = client.get(f"/api/v1/sales/{sale['id']}", headers=s.auth).json["sale"]
    assert (detail["refunded_fen"], detail["points_reversed"], detail["points_restored"]) == (5_000, 50, 0)
    assert member_ledger_sum(app, s.member.id) == (0, 0)
    before = db_state(app)
    assert_error(refund(client, s.auth, sale["id"]), 409, "refund_exceeds_sale", {"remaining_fen": 0})
    assert_error(
        refund(client, s.auth, sale["id"], 1), 409, "refund_exceeds_sale", {"remaining_fen": 0, "requested_fen": 1}
    )
    assert db_state(app) == before


def test_partial_refunds_move_points_in_proportion_and_add_up_exactly(app, client):
    s = scene(app, points=1_000)
    sale = sale_at(client, s.auth, s.card.card_no, 10_000, redeem_points=300)
    assert (sale["payable_fen"], sale["points_earned"], sale["points_balance"]) == (9_700, 97, 797)

    steps = [  # (amount, reversed, restored, balance): cumulative shares rounded down
        (1_000, 10, 30, 817),  # 97*1000/9700 = 10;   300*1000/9700 = 30.9
        (2_333, 23, 73, 867),  # 97*3333/9700 = 33.3; 300*3333/9700 = 103.1
    ]
    for amount, reversed_points, restored, balance in steps:
        body = refund(client, s.auth, sale["id"], amount).json["refund"]
        assert (body["amount_fen"], body["points_reversed"], body["points_restored"], body["points_balance"]) == (
            amount,
            reversed_points,
            restored,
            balance,
        )

    before = db_state(app)
    too_much = refund(client, s.auth, sale["id"], 6_368)
    assert_error(too_much, 409, "refund_exceeds_sale", {"remaining_fen": 6_367, "requested_fen": 6_368})
    assert db_state(app) == before

    rest = refund(client, s.auth, sale["id"]).json["refund"]
    assert (rest["amount_fen"], rest["points_reversed"], rest["points_restored"], rest["points_balance"]) == (
        6_367,
        64,
        197,
        1_000,
    )
    with app.app_context():
        refunds = db.session.scalars(select(Refund).where(Refund.sale_id == sale["id"])).all()
        assert sum(r.amount_fen for r in refunds) == 9_700
        assert sum(r.points_reversed for r in refunds) == 97
        assert sum(r.points_restored for r in refunds) == 300
        merchant = s.world.shop_a.merchant
        assert db.session.get(LedgerAccount, merchant.points_issued_account_id).balance == 0
        assert db.session.get(LedgerAccount, merchant.points_accepted_account_id).balance == 0
    assert member_ledger_sum(app, s.member.id) == (1_000, 1_000)
    detail = client.get(f"/api/v1/sales/{sale['id']}", headers=s.auth).json["sale"]
    assert (detail["refunded_fen"], detail["points_reversed"], detail["points_restored"]) == (9_700, 97, 300)
    assert_error(refund(client, s.auth, sale["id"]), 409, "refund_exceeds_sale")


def test_refund_after_the_member_spent_the_earned_points_never_goes_negative(app, client):
    s = scene(app, points=0)
    earning = sale_at(client, s.auth, s.card.card_no, 10_000)
    assert earning["points_balance"] == 100
    spending = sale_at(client, s.world.shop_b.auth, s.card.card_no, 200, redeem_points=100)
    assert (spending["payable_fen"], spending["points_earned"], spending["points_balance"]) == (100, 1, 1)

    response = refund(client, s.auth, earning["id"])
    assert response.status_code == 201, response.json
    body = response.json["refund"]
    assert (body["amount_fen"], body["points_reversed"], body["points_restored"], body["points_balance"]) == (
        10_000,
        1,
        0,
        0,
    )
    assert member_ledger_sum(app, s.member.id) == (0, 0)
    with app.app_context():
        stored = db.session.get(Refund, body["id"])
        assert stored.points_unrecovered == 99
        # the shortfall stays with the merchant that granted the points
        assert db.session.get(LedgerAccount, s.world.shop_a.merchant.points_issued_account_id).balance == -99
    assert_error(refund(client, s.auth, earning["id"]), 409, "refund_exceeds_sale")


def test_refund_of_a_sale_paid_entirely_with_points_restores_them(app, client):
    s = scene(app, points=5_000, max_redeem_bp=10_000)
    sale = sale_at(client, s.auth, s.card.card_no, 3_000, redeem_points=3_000)
    assert (sale["payable_fen"], sale["points_earned"], sale["points_balance"]) == (0, 0, 2_000)
    body = refund(client, s.auth, sale["id"]).json["refund"]
    assert (body["amount_fen"], body["points_reversed"], body["points_restored"], body["points_balance"]) == (
        0,
        0,
        3_000,
        5_000,
    )
    assert_error(refund(client, s.auth, sale["id"]), 409, "refund_exceeds_sale", {"remaining_fen": 0})
