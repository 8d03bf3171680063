"""Operator endpoints for member levels and the level evaluation."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select, update

from server.extensions import db
from server.models import AuditLog, Member, MerchantLevelDiscount
from server.models.base import utcnow
from server.services import catalog, checkout
from tests.api.operator_support import API, assert_error, iso, make_staffed_world, snapshot, with_key
from tests.builders import ACTOR, make_member

LEVEL_FIELDS = (
    "id",
    "code",
    "name",
    "name_en",
    "rank",
    "upgrade_spend_fen",
    "keep_spend_fen",
    "protection_days",
    "default_discount_bp",
    "min_discount_bp",
    "max_discount_bp",
)


def level_json(level, **changes) -> dict:
    return {**{name: getattr(level, name) for name in LEVEL_FIELDS}, "created_at": iso(level.created_at), **changes}


def test_list_and_get_levels(app, client):
    with app.app_context():
        s = make_staffed_world()
    ordered = [s.levels[code] for code in ("normal", "silver", "gold", "diamond")]
    listed = client.get(f"{API}/levels", headers=s.auth("cashier"))
    assert listed.status_code == 200
    assert listed.json == [level_json(level) for level in ordered]
    assert listed.json[2] == {
        "id": s.levels["gold"].id,
        "code": "gold",
        "name": "金卡会员",
        "name_en": "Gold",
        "rank": 2,
        "upgrade_spend_fen": 500_000,
        "keep_spend_fen": 400_000,
        "protection_days": 90,
        "default_discount_bp": 9000,
        "min_discount_bp": 8000,
        "max_discount_bp": 9800,
        "created_at": iso(s.levels["gold"].created_at),
    }
    page = client.get(f"{API}/levels?page=2&page_size=3", headers=s.auth("admin"))
    assert page.json == [level_json(ordered[3])]
    assert json.loads(page.headers["X-Pagination"])["total"] == 4
    one = client.get(f"{API}/levels/{s.levels['silver'].id}", headers=s.auth("card_issuer"))
    assert one.json == {"level": level_json(s.levels["silver"])}
    assert_error(client.get(f"{API}/levels/lvl_nope", headers=s.auth("admin")), 404, "not_found")


def test_create_level_gives_every_merchant_its_default_discount(app, client):
    with app.app_context():
        s = make_staffed_world()
    body = {
        "code": "platinum",
        "name": "白金会员",
        "name_en": "Platinum",
        "rank": 4,
        "upgrade_spend_fen": 5_000_000,
        "keep_spend_fen": 4_000_000,
        "protection_days": 180,
        "default_discount_bp": 8000,
        "min_discount_bp": 6000,
        "max_discount_bp": 9000,
    }
    headers = with_key(s.auth("admin"), "platinum")
    created = client.post(f"{API}/levels", json=body, headers=headers)
    assert created.status_code == 201, created.json
    level = created.json["level"]
    assert level == {**body, "id": level["id"], "created_at": level["created_at"]}
    replay = client.post(f"{API}/levels", json=body, headers=headers)
    assert replay.json == created.json and replay.headers["Idempotent-Replayed"] == "true"
    for shop in (s.a, s.b):
        discounts = client.get(f"{API}/merchants/{shop.merchant.id}/level-discounts", headers=s.auth("admin")).json
        assert discounts[-1] == {
            "merchant_id": shop.merchant.id,
            "level_id": level["id"],
            "level_code": "platinum",
            "level_name": "白金会员",
            "rank": 4,
            "discount_bp": 8000,
            "min_discount_bp": 6000,
            "max_discount_bp": 9000,
        }
    minimal = client.post(
        f"{API}/levels", json={"code": "vip-2", "name": "二级", "rank": 9}, headers=with_key(s.auth("admin"))
    )
    assert minimal.status_code == 201
    assert {k: v for k, v in minimal.json["level"].items() if k not in ("id", "created_at")} == {
        "code": "vip-2",
        "name": "二级",
        "name_en": "",
        "rank": 9,
        "upgrade_spend_fen": 0,
        "keep_spend_fen": 0,
        "protection_days": 90,
        "default_discount_bp": 10000,
        "min_discount_bp": 5000,
        "max_discount_bp": 10000,
    }


def test_patch_level_clamps_merchant_discounts_into_new_bounds(app, client):
    with app.app_context():
        s = make_staffed_world()
        gold = s.levels["gold"]
        catalog.set_level_discount(ACTOR, s.a.merchant.id, gold.id, 8200)
        catalog.set_level_discount(ACTOR, s.b.merchant.id, gold.id, 9800)
    changes = {
        "name": "黄金会员",
        "min_discount_bp": 8500,
        "max_discount_bp": 9500,
        "protection_days": 30,
        "upgrade_spend_fen": 600_000,
    }
    patched = client.patch(f"{API}/levels/{gold.id}", json=changes, headers=s.auth("admin"))
    assert patched.status_code == 200, patched.json
    assert patched.json == {"level": level_json(gold, **changes)}
    with app.app_context():
        rows = dict(
            db.session.execute(
                select(MerchantLevelDiscount.merchant_id, MerchantLevelDiscount.discount_bp).where(
                    MerchantLevelDiscount.level_id == gold.id
                )
            ).all()
        )
        assert rows == {s.a.merchant.id: 8500, s.b.merchant.id: 9500}
        [details] = db.session.scalars(select(AuditLog.details).where(AuditLog.action == "level.update")).all()
        assert sorted(details.pop("before")) == sorted(changes) and details == changes


def _sale(terminal, card_no, amount_fen):
    found = checkout.identify(terminal, code=card_no)
    return checkout.record_sale(terminal, identification_token=found.token, amount_fen=amount_fen)


def test_evaluation_upgrades_downgrades_and_keeps(app, client):
    with app.app_context():
        s = make_staffed_world()
        levels = s.levels
        climber, climber_card = make_member()
        _sale(s.a.terminal, climber_card.card_no, 150_000)  # lifts the member to silver at once ...
        faller, _ = make_member()
        keeper, _ = make_member()
        long_ago = utcnow() - timedelta(days=200)
        db.session.execute(
            update(Member)
            .where(Member.id == climber.id)  # ... which we undo
            .values(level_id=levels["normal"].id)
        )
        db.session.execute(
            update(Member).where(Member.id == faller.id).values(level_id=levels["gold"].id, level_since=long_ago)
        )
        db.session.commit()
    response = client.post(f"{API}/levels/evaluations", headers=with_key(s.auth("admin")))
    assert response.status_code == 200, response.json
    assert response.json == {"upgraded": 1, "downgraded": 1, "kept": 1}
    with app.app_context():
        assert db.session.get(Member, climber.id).level_id == levels["silver"].id
        assert db.session.get(Member, faller.id).level_id == levels["normal"].id
        assert db.session.get(Member, keeper.id).level_id == levels["normal"].id
        changes = db.session.execute(
            select(AuditLog.object_id, AuditLog.details).where(AuditLog.action == "member.level_change")
        ).all()
        assert sorted(changes) == sorted(
            [(climber.id, {"old": "normal", "new": "silver"}), (faller.id, {"old": "gold", "new": "normal"})]
        )
    again = client.post(f"{API}/levels/evaluations", json={}, headers=with_key(s.auth("admin")))
    assert again.json == {"upgraded": 0, "downgraded": 0, "kept": 3}


def test_bad_level_requests_change_nothing(app, client):
    with app.app_context():
        s = make_staffed_world()
    admin = s.auth("admin")
    valid = {"code": "vip", "name": "VIP", "rank": 7}
    bad_creates = [
        ({}, {"code", "name", "rank"}),
        ({**valid, "code": "Bad Code"}, {"code"}),
        ({**valid, "code": ""}, {"code"}),
        ({**valid, "code": "x" * 33}, {"code"}),
        ({**valid, "rank": -1}, {"rank"}),
        ({**valid, "rank": "1"}, {"rank"}),
        ({**valid, "rank": 1.0}, {"rank"}),
        ({**valid, "rank": 256}, {"rank"}),  # a card records the rank in one byte
        ({**valid, "upgrade_spend_fen": -1}, {"upgrade_spend_fen"}),
        ({**valid, "upgrade_spend_fen": 10**11}, {"upgrade_spend_fen"}),
        ({**valid, "upgrade_spend_fen": 2**31}, {"upgrade_spend_fen"}),  # beyond the database's column
        ({**valid, "protection_days": 4000}, {"protection_days"}),
        ({**valid, "min_discount_bp": 0.5}, {"min_discount_bp"}),
        ({**valid, "max_discount_bp": 10001}, {"max_discount_bp"}),
        ({**valid, "colour": "gold"}, {"colour"}),
        ({**valid, "name": ""}, {"name"}),
    ]
    before = snapshot(app)
    for body, fields in bad_creates:
        response = client.post(f"{API}/levels", json=body, headers=with_key(admin))
        assert set(assert_error(response, 422, "invalid_request")["fields"]) == fields, body
    for body, field in [
        ({**valid, "min_discount_bp": 9600, "default_discount_bp": 9500}, "discount_bp"),
        ({**valid, "min_discount_bp": 0, "default_discount_bp": 0}, "discount_bp"),
        ({**valid, "keep_spend_fen": 2, "upgrade_spend_fen": 1}, "keep_spend_fen"),
    ]:
        response = client.post(f"{API}/levels", json=body, headers=with_key(admin))
        assert assert_error(response, 422, "invalid_request")["field"] == field, body
    for body in ({**valid, "code": "gold"}, {**valid, "rank": 2}):
        assert_error(client.post(f"{API}/levels", json=body, headers=with_key(admin)), 409, "conflict")

    gold_url = f"{API}/levels/{s.levels['gold'].id}"
    for body, fields in [
        ({}, {"_schema"}),
        ({"code": "au"}, {"code"}),
        ({"rank": 9}, {"rank"}),
        ({"max_discount_bp": "9000"}, {"max_discount_bp"}),
        ({"name": None}, {"name"}),
    ]:
        response = client.patch(gold_url, json=body, headers=admin)
        assert set(assert_error(response, 422, "invalid_request")["fields"]) == fields, body
    # Bounds that contradict the default are refused before any merchant discount is clamped.
    details = assert_error(
        client.patch(gold_url, json={"min_discount_bp": 9500}, headers=admin), 422, "invalid_request"
    )
    assert details == {"field": "discount_bp"}
    assert_error(client.patch(gold_url, json={"keep_spend_fen": 600_000}, headers=admin), 422, "invalid_request")
    assert_error(client.patch(f"{API}/levels/lvl_nope", json={"name": "x"}, headers=admin), 404, "not_found")
    assert_error(
        client.post(f"{API}/levels/evaluations", json={"now": "2020-01-01T00:00:00Z"}, headers=with_key(admin)),
        422,
        "invalid_request",
    )
    assert snapshot(app) == before
