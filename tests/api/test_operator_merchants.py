"""Operator endpoints for merchants and their level discounts."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from server.extensions import db
from server.models import AuditLog, Merchant, MerchantLevelDiscount
from server.services import catalog
from server.services.staff import staff_for_token
from tests.api.operator_support import API, assert_error, iso, make_staffed_world, snapshot, with_key
from tests.builders import ACTOR


def merchant_json(merchant, **changes) -> dict:
    body = {
        name: getattr(merchant, name)
        for name in (
            "id",
            "name",
            "trade",
            "region",
            "region_code",
            "agent_id",
            "address",
            "contact_phone",
            "status",
            "earn_rate_bp",
            "max_redeem_bp",
            "service_fee_bp",
            "service_fee_per_sale_fen",
        )
    }
    refunds = {"refund_auth_threshold_fen": merchant.refund_auth_threshold_fen, "refund_pin_set": False}
    return {**body, **refunds, "created_at": iso(merchant.created_at), **changes}


def discount_json(merchant_id, level, discount_bp) -> dict:
    return {
        "merchant_id": merchant_id,
        "level_id": level.id,
        "level_code": level.code,
        "level_name": level.name,
        "rank": level.rank,
        "discount_bp": discount_bp,
        "min_discount_bp": level.min_discount_bp,
        "max_discount_bp": level.max_discount_bp,
    }


def test_list_merchants_in_creation_order_with_pagination_header(app, client):
    with app.app_context():
        s = make_staffed_world()
    response = client.get(f"{API}/merchants", headers=s.auth("admin"))
    assert response.status_code == 200
    assert response.json == [merchant_json(s.a.merchant), merchant_json(s.b.merchant)]
    assert json.loads(response.headers["X-Pagination"]) == {
        "total": 2,
        "total_pages": 1,
        "first_page": 1,
        "last_page": 1,
        "page": 1,
    }

    second = client.get(f"{API}/merchants?page=2&page_size=1", headers=s.auth("finance"))
    assert second.json == [merchant_json(s.b.merchant)]
    assert json.loads(second.headers["X-Pagination"]) == {
        "total": 2,
        "total_pages": 2,
        "first_page": 1,
        "last_page": 2,
        "page": 2,
        "previous_page": 1,
    }


def test_merchant_filters(app, client):
    with app.app_context():
        s = make_staffed_world()
        tea = catalog.create_merchant(ACTOR, name="Green TEA House", trade="food", region="光明路")
        closed = catalog.create_merchant(ACTOR, name="100% 果汁", trade="retail", region="光明路")
        catalog.update_merchant(ACTOR, closed.id, status="closed")
    auth = s.auth("support")

    def ids(query):
        response = client.get(f"{API}/merchants?{query}", headers=auth)
        assert response.status_code == 200, response.json
        return [item["id"] for item in response.json]

    assert ids("trade=retail") == [s.b.merchant.id, closed.id]
    assert ids("region=光明路") == [tea.id, closed.id]
    assert ids("status=closed") == [closed.id]
    assert ids("status=active") == [s.a.merchant.id, s.b.merchant.id, tea.id]
    assert ids("q=tea") == [tea.id]
    assert ids("q=甲") == [s.a.merchant.id]
    assert ids("q=%25") == [closed.id]  # a literal '%', not a wildcard
    assert ids("q=_") == []
    assert ids("trade=food&region=光明路") == [tea.id]
    assert ids("trade=beauty") == []


def test_merchant_staff_list_only_their_own_merchant(app, client):
    with app.app_context():
        s = make_staffed_world()
    for role in ("owner", "cashier"):
        assert client.get(f"{API}/merchants", headers=s.auth(role)).json == [merchant_json(s.a.merchant)]
        other = client.get(f"{API}/merchants?q=乙", headers=s.auth(role))
        assert other.status_code == 200 and other.json == []
        assert json.loads(other.headers["X-Pagination"])["total"] == 0


def test_create_merchant_opens_accounts_and_default_discounts_once(app, client):
    with app.app_context():
        s = make_staffed_world()
    body = {
        "name": "丽人美发",
        "trade": "beauty",
        "region": "光明路",
        "address": "光明路 8 号",
        "contact_phone": "021-5555",
        "earn_rate_bp": 300,
        "max_redeem_bp": 2000,
        "service_fee_bp": 45,
        "service_fee_per_sale_fen": 3,
    }
    headers = with_key(s.auth("admin"), "new-merchant")
    created = client.post(f"{API}/merchants", json=body, headers=headers)
    assert created.status_code == 201, created.json
    merchant = created.json["merchant"]
    assert merchant == {
        **body,
        "id": merchant["id"],
        "region_code": None,
        "agent_id": None,
        "status": "active",
        "created_at": merchant["created_at"],
        "refund_auth_threshold_fen": None,
        "refund_pin_set": False,
    }
    assert merchant["id"].startswith("mer_")

    replay = client.post(f"{API}/merchants", json=body, headers=headers)
    assert replay.status_code == 201 and replay.json == created.json
    assert replay.headers["Idempotent-Replayed"] == "true"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Merchant)) == 3
        discounts = dict(
            db.session.execute(
                select(MerchantLevelDiscount.level_id, MerchantLevelDiscount.discount_bp).where(
                    MerchantLevelDiscount.merchant_id == merchant["id"]
                )
            ).all()
        )
        assert discounts == {level.id: level.default_discount_bp for level in s.levels.values()}
        log = db.session.scalars(select(AuditLog).where(AuditLog.object_id == merchant["id"])).all()
        admin_key = f"staff:{staff_for_token(s.tokens['admin']).id}"
        assert [(row.actor, row.action, row.details) for row in log] == [
            (admin_key, "merchant.create", {"name": "丽人美发"})
        ]

    defaults = client.post(
        f"{API}/merchants", json={"name": "小店", "trade": "other"}, headers=with_key(s.auth("admin"))
    )
    assert defaults.status_code == 201
    assert {
        k: defaults.json["merchant"][k]
        for k in ("region", "address", "contact_phone", "earn_rate_bp", "max_redeem_bp", "status")
    } == {
        "region": "",
        "address": "",
        "contact_phone": "",
        "earn_rate_bp": 100,
        "max_redeem_bp": 5000,
        "status": "active",
    }


def test_get_and_patch_merchant(app, client):
    with app.app_context():
        s = make_staffed_world()
    merchant_id = s.a.merchant.id
    assert client.get(f"{API}/merchants/{merchant_id}", headers=s.auth("card_issuer")).json == {
        "merchant": merchant_json(s.a.merchant)
    }
    assert client.get(f"{API}/merchants/{merchant_id}", headers=s.auth("cashier")).json == {
        "merchant": merchant_json(s.a.merchant)
    }

    changes = {
        "name": "甲店(新)",
        "status": "suspended",
        "earn_rate_bp": 0,
        "max_redeem_bp": 10000,
        "region": "",
        "trade": "leisure",
    }
    patched = client.patch(f"{API}/merchants/{merchant_id}", json=changes, headers=s.auth("admin"))
    assert patched.status_code == 200, patched.json
    assert patched.json == {"merchant": merchant_json(s.a.merchant, **changes)}
    assert client.get(f"{API}/merchants/{merchant_id}", headers=s.auth("admin")).json == patched.json
    with app.app_context():
        row = db.session.scalars(select(AuditLog).where(AuditLog.action == "merchant.update")).one()
        before = row.details.pop("before")  # what each changed field held, for the audit log's diff
        assert row.object_id == merchant_id and row.details == changes and sorted(before) == sorted(changes)
        assert before["name"] == s.a.merchant.name
    # A suspended merchant's terminals are refused.
    assert client.get(f"{API}/terminal", headers=s.a.auth).status_code == 401


def test_unknown_merchant_is_404(app, client):
    with app.app_context():
        s = make_staffed_world()
    for method, url, body in [
        ("get", "/merchants/mer_nope", None),
        ("patch", "/merchants/mer_nope", {"name": "x"}),
        ("get", "/merchants/mer_nope/level-discounts", None),
        ("put", f"/merchants/mer_nope/level-discounts/{s.levels['gold'].id}", {"discount_bp": 9000}),
    ]:
        response = getattr(client, method)(API + url, json=body, headers=s.auth("admin"))
        assert_error(response, 404, "not_found")


def test_level_discounts_list_and_set_within_bounds(app, client):
    with app.app_context():
        s = make_staffed_world()
    merchant_id, levels = s.a.merchant.id, s.levels
    listed = client.get(f"{API}/merchants/{merchant_id}/level-discounts", headers=s.auth("cashier"))
    assert listed.status_code == 200
    assert listed.json == [
        discount_json(merchant_id, levels[code], levels[code].default_discount_bp)
        for code in ("normal", "silver", "gold", "diamond")
    ]

    gold = levels["gold"]  # bounds 8000..9800
    for role, value in (("admin", gold.min_discount_bp), ("owner", gold.max_discount_bp), ("owner", 8800)):
        response = client.put(
            f"{API}/merchants/{merchant_id}/level-discounts/{gold.id}",
            json={"discount_bp": value},
            headers=s.auth(role),
        )
        assert response.status_code == 200, response.json
        assert response.json == discount_json(merchant_id, gold, value)
    after = client.get(f"{API}/merchants/{merchant_id}/level-discounts", headers=s.auth("admin")).json
    assert [item["discount_bp"] for item in after] == [10000, 9500, 8800, 8500]
    # Merchant B is untouched.
    other = client.get(f"{API}/merchants/{s.b.merchant.id}/level-discounts", headers=s.auth("admin")).json
    assert [item["discount_bp"] for item in other] == [10000, 9500, 9000, 8500]
    with app.app_context():
        actions = db.session.scalars(
            select(AuditLog.details).where(AuditLog.action == "merchant.set_level_discount").order_by(AuditLog.id)
        ).all()
        assert actions == [
            {"level": "gold", "discount_bp": 8000},
            {"level": "gold", "discount_bp": 9800},
            {"level": "gold", "discount_bp": 8800},
        ]


def test_discount_outside_the_level_bounds_is_refused_and_changes_nothing(app, client):
    with app.app_context():
        s = make_staffed_world()
    gold = s.levels["gold"]
    url = f"{API}/merchants/{s.a.merchant.id}/level-discounts/{gold.id}"
    before = snapshot(app)
    for value in (gold.min_discount_bp - 1, gold.max_discount_bp + 1):
        details = assert_error(
            client.put(url, json={"discount_bp": value}, headers=s.auth("owner")), 422, "invalid_request"
        )
        assert details == {"field": "discount_bp", "min_discount_bp": 8000, "max_discount_bp": 9800}
    for body in (
        {"discount_bp": "9000"},
        {"discount_bp": 9000.5},
        {"discount_bp": -1},
        {"discount_bp": 10001},
        {"discount_bp": 10**30},
        {"discount_bp": None},
        {"discount_bp": True},
        {},
        {"discount_bp": 9000, "earn_rate_bp": 5},
    ):
        details = assert_error(client.put(url, json=body, headers=s.auth("admin")), 422, "invalid_request")
        assert set(details["fields"]) <= {"discount_bp", "earn_rate_bp"}, details
    assert_error(
        client.put(
            f"{API}/merchants/{s.a.merchant.id}/level-discounts/lvl_nope",
            json={"discount_bp": 9000},
            headers=s.auth("admin"),
        ),
        404,
        "not_found",
    )
    assert snapshot(app) == before


def test_bad_merchant_bodies_change_nothing(app, client):
    with app.app_context():
        s = make_staffed_world()
    admin = s.auth("admin")
    valid = {"name": "新店", "trade": "food"}
    bad_creates = [
        ({}, {"name", "trade"}),
        ({"name": "新店"}, {"trade"}),
        ({**valid, "name": ""}, {"name"}),
        ({**valid, "name": "x" * 101}, {"name"}),
        ({**valid, "name": 5}, {"name"}),
        ({**valid, "trade": "casino"}, {"trade"}),
        ({**valid, "earn_rate_bp": "100"}, {"earn_rate_bp"}),
        ({**valid, "earn_rate_bp": 1.5}, {"earn_rate_bp"}),
        ({**valid, "earn_rate_bp": -1}, {"earn_rate_bp"}),
        ({**valid, "max_redeem_bp": 10001}, {"max_redeem_bp"}),
        ({**valid, "max_redeem_bp": 2**70}, {"max_redeem_bp"}),
        ({**valid, "earn_rate_bp": False}, {"earn_rate_bp"}),
        ({**valid, "status": "active"}, {"status"}),
        ({**valid, "id": "mer_mine"}, {"id"}),
        ({**valid, "region": "r" * 65}, {"region"}),
    ]
    bad_patches = [
        ({}, {"_schema"}),
        ({"status": "gone"}, {"status"}),
        ({"earn_rate_bp": 10**20}, {"earn_rate_bp"}),
        ({"name": None}, {"name"}),
        ({"name": ""}, {"name"}),
        ({"terminal_seq": 9}, {"terminal_seq"}),
        ({"trade": "casino"}, {"trade"}),
    ]
    before = snapshot(app)
    for body, fields in bad_creates:
        response = client.post(f"{API}/merchants", json=body, headers=with_key(admin))
        assert set(assert_error(response, 422, "invalid_request")["fields"]) == fields, body
    for body, fields in bad_patches:
        response = client.patch(f"{API}/merchants/{s.a.merchant.id}", json=body, headers=admin)
        assert set(assert_error(response, 422, "invalid_request")["fields"]) == fields, body
    not_json = client.post(
        f"{API}/merchants", data="{name", headers={**with_key(admin), "Content-Type": "application/json"}
    )
    assert_error(not_json, 422, "invalid_request")
    assert_error(client.post(f"{API}/merchants", json=valid, headers=admin), 400, "idempotency_key_required")
    assert snapshot(app) == before
