"""Operator endpoints for members: look-up, registration, phone reveal, cards, points and history."""

from __future__ import annotations

import json

from sqlalchemy import func, select, update

from server.domain.identifiers import make_card_number
from server.extensions import db
from server.models import AuditLog, Card, Member
from server.services import checkout, members
from server.services.staff import staff_for_token
from tests.api.operator_support import API, assert_error, card_json, iso, make_staffed_world, snapshot, with_key
from tests.builders import ACTOR, make_member


def summary_json(member, level, **changes) -> dict:
    return {
        "id": member.id,
        "display_name": member.display_name,
        "masked_phone": member.phone_masked,
        "status": member.status,
        "level": {"id": level.id, "code": level.code, "name": level.name},
        "level_since": iso(member.level_since),
        "recruited_by_merchant_id": member.recruited_by_merchant_id,
        "created_at": iso(member.created_at),
        **changes,
    }


def test_list_members_newest_first_with_masked_phones_and_filters(app, client):
    with app.app_context():
        s = make_staffed_world()
        normal = s.levels["normal"]
        first, first_card = make_member(phone="13800138000", name="张伟")
        second, _ = make_member(phone="13900139000", name="王芳", with_card=False)
        third, third_card = make_member(phone="15000150000", name="李娜")
        db.session.execute(update(Member).where(Member.id == third.id).values(level_id=s.levels["gold"].id))
        db.session.execute(update(Member).where(Member.id == second.id).values(status="frozen"))
        db.session.commit()
    auth = s.auth("card_issuer")
    listed = client.get(f"{API}/members", headers=auth)
    assert listed.status_code == 200
    assert listed.json == [
        summary_json(third, s.levels["gold"]),
        summary_json(second, normal, status="frozen"),
        summary_json(first, normal),
    ]
    assert listed.json[2]["masked_phone"] == "138****8000"
    for phone in ("13800138000", "13900139000", "15000150000"):
        assert phone not in listed.get_data(as_text=True)

    def ids(query):
        response = client.get(f"{API}/members?{query}", headers=auth)
        assert response.status_code == 200, response.json
        return [item["id"] for item in response.json]

    assert ids(f"card_no={third_card.card_no}") == [third.id]
    assert ids(f"card_no={first_card.card_no}&level=gold") == []
    assert ids("level=normal") == [second.id, first.id]
    assert ids("level=gold") == [third.id]
    assert ids("status=frozen") == [second.id]
    assert ids("status=active&level=normal") == [first.id]
    page = client.get(f"{API}/members?page=2&page_size=2", headers=auth)
    assert [item["id"] for item in page.json] == [first.id]
    assert json.loads(page.headers["X-Pagination"])["total"] == 3
    # a phone number never goes in a URL (access logs keep URLs): the list refuses it, the search takes it
    refused = assert_error(client.get(f"{API}/members?phone=13800138000", headers=auth), 422, "invalid_request")
    assert "13800138000" not in json.dumps(refused)


def test_search_members_by_phone_in_the_body(app, client):
    with app.app_context():
        s = make_staffed_world()
        first, _ = make_member(phone="13800138000", name="张伟")
        second, _ = make_member(phone="13900139000", name="王芳", with_card=False)
        db.session.execute(update(Member).where(Member.id == second.id).values(status="frozen"))
        db.session.commit()
    auth = s.auth("support")

    def found(body, query=""):
        response = client.post(f"{API}/members/search{query}", json=body, headers=auth)
        assert response.status_code == 200, response.json
        assert json.loads(response.headers["X-Pagination"])["total"] == len(response.json)
        return [item["id"] for item in response.json]

    assert found({"phone": "13800138000"}) == [first.id]
    assert found({"phone": "+86 138-0013-8000"}) == [first.id]
    assert found({"phone": "13900139000"}) == [second.id]  # exact match also finds a frozen member
    assert found({"phone": "13900139000", "status": "active"}) == []
    assert found({"phone": "13700137000"}) == []
    assert found({"phone": "13800138000"}, "?page=1&page_size=5") == [first.id]
    assert found({"phone_ending": "8000"}) == [first.id]  # the last digits (a keyed index of the last four)
    assert found({"phone_ending": "0138000"}) == [first.id] and found({"phone_ending": "0139000"}) == [second.id]
    assert found({"phone_ending": "1380"}) == []  # the middle of a number is not its ending
    assert found({"name": "王"}) == [second.id]
    assert_error(
        client.post(f"{API}/members/search", json={"phone_ending": "800"}, headers=auth), 422, "invalid_request"
    )
    listed = client.post(f"{API}/members/search", json={"phone": "13800138000"}, headers=auth)
    assert listed.json[0]["masked_phone"] == "138****8000" and "13800138000" not in listed.get_data(as_text=True)
    assert_error(client.post(f"{API}/members/search", json={"phone": "12345"}, headers=auth), 422, "invalid_request")
    assert_error(client.post(f"{API}/members/search", json={}, headers=auth), 422, "invalid_request")
    assert_error(
        client.post(f"{API}/members/search", json={"phone": "13800138000"}, headers=s.auth("owner")), 403, "forbidden"
    )


def test_register_member_and_read_it_back(app, client):
    with app.app_context():
        s = make_staffed_world()
    body = {"phone": "+86 186 0018 6006", "display_name": "杨磊", "recruited_by_merchant_id": s.a.merchant.id}
    headers = with_key(s.auth("support"), "register-yang")
    created = client.post(f"{API}/members", json=body, headers=headers)
    assert created.status_code == 201, created.json
    member = created.json["member"]
    normal = s.levels["normal"]
    assert member == {
        "id": member["id"],
        "display_name": "杨磊",
        "masked_phone": "186****6006",
        "status": "active",
        "level": {"id": normal.id, "code": "normal", "name": "普通会员"},
        "level_since": member["level_since"],
        "recruited_by_merchant_id": s.a.merchant.id,
        "created_at": member["created_at"],
        "points_balance": 0,
        "cards": [],
    }
    assert "18600186006" not in created.get_data(as_text=True)
    replay = client.post(f"{API}/members", json=body, headers=headers)
    assert replay.json == created.json and replay.headers["Idempotent-Replayed"] == "true"
    detail = client.get(f"{API}/members/{member['id']}", headers=s.auth("finance"))
    assert detail.json == created.json
    default_name = client.post(f"{API}/members", json={"phone": "13512345678"}, headers=with_key(s.auth("admin")))
    assert default_name.json["member"]["display_name"] == "会员5678"
    assert default_name.json["member"]["recruited_by_merchant_id"] is None
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Member)) == 2
        assert members.find_member_by_phone("18600186006").id == member["id"]


def test_member_detail_shows_balance_level_and_cards(app, client):
    with app.app_context():
        s = make_staffed_world()
        member, card = make_member(points=700)
        spare = members.create_cards(ACTOR, 1)[0]
        second = members.bind_card(ACTOR, member.id, spare.card_no)
        card = db.session.get(Card, card.id)
    detail = client.get(f"{API}/members/{member.id}", headers=s.auth("admin"))
    assert detail.status_code == 200
    assert detail.json == {
        "member": {
            **summary_json(member, s.levels["normal"]),
            "points_balance": 700,
            "cards": [card_json(c) for c in sorted((card, second), key=lambda c: c.card_no)],  # by number
        }
    }
    assert {c["status"] for c in detail.json["member"]["cards"]} == {"active"}
    assert_error(client.get(f"{API}/members/mem_nope", headers=s.auth("admin")), 404, "member_not_found")


def test_revealing_a_phone_is_audited(app, client):
    with app.app_context():
        s = make_staffed_world()
        member, _ = make_member(phone="13800138000")
        support_id = staff_for_token(s.tokens["support"]).id
    response = client.get(f"{API}/members/{member.id}/phone", headers=s.auth("support"))
    assert response.status_code == 200
    assert response.json == {"member_id": member.id, "phone": "13800138000"}
    assert response.headers["Cache-Control"] == "no-store"
    with app.app_context():
        rows = db.session.scalars(select(AuditLog).where(AuditLog.action == "member.reveal_phone")).all()
        assert [(row.actor, row.object_type, row.object_id) for row in rows] == [
            (f"staff:{support_id}", "member", member.id)
        ]
    assert client.get(f"{API}/members/{member.id}/phone", headers=s.auth("admin")).status_code == 200
    before = snapshot(app)
    assert_error(client.get(f"{API}/members/mem_nope/phone", headers=s.auth("admin")), 404, "member_not_found")
    for role in ("finance", "card_issuer", "owner", "cashier"):
        assert_error(client.get(f"{API}/members/{member.id}/phone", headers=s.auth(role)), 403, "forbidden")
    assert snapshot(app) == before
    with app.app_context():
        assert (
            db.session.scalar(
                select(func.count()).select_from(AuditLog).where(AuditLog.action == "member.reveal_phone")
            )
            == 2
        )


def test_bind_a_card_to_a_member(app, client):
    with app.app_context():
        s = make_staffed_world()
        member, _ = make_member(with_card=False)
        card, other = members.create_cards(ACTOR, 2)
    headers = with_key(s.auth("card_issuer"), "bind-1")
    bound = client.post(f"{API}/members/{member.id}/cards", json={"card_no": card.card_no}, headers=headers)
    assert bound.status_code == 201, bound.json
    body = bound.json["card"]
    assert body == card_json(card, status="active", member_id=member.id, status_changed_at=body["status_changed_at"])
    assert body["status_changed_at"] is not None
    replay = client.post(f"{API}/members/{member.id}/cards", json={"card_no": card.card_no}, headers=headers)
    assert replay.json == bound.json and replay.headers["Idempotent-Replayed"] == "true"
    detail = client.get(f"{API}/members/{member.id}", headers=s.auth("admin")).json["member"]
    assert [c["card_no"] for c in detail["cards"]] == [card.card_no]
    # The bound card now identifies the member at a terminal.
    found = client.post(f"{API}/identify", json={"code": card.card_no}, headers=s.a.auth)
    assert found.status_code == 200 and found.json["member"]["id"] == member.id

    with app.app_context():
        another, _ = make_member(with_card=False)
    before = snapshot(app)
    admin = s.auth("admin")
    bad_check_digit = other.card_no[:-1] + str((int(other.card_no[-1]) + 1) % 10)
    for body, status, code in [
        ({"card_no": card.card_no}, 409, "card_already_bound"),  # already bound
        ({"card_no": bad_check_digit}, 422, "invalid_request"),
        ({"card_no": int(other.card_no)}, 422, "invalid_request"),
        ({"card_no": other.card_no + "0"}, 422, "invalid_request"),
        ({"card_no": ""}, 422, "invalid_request"),
        ({}, 422, "invalid_request"),
        ({"card_no": other.card_no, "member_id": member.id}, 422, "invalid_request"),
    ]:
        response = client.post(f"{API}/members/{another.id}/cards", json=body, headers=with_key(admin))
        assert_error(response, status, code)
    unknown = make_card_number("8860", 999_999)
    assert_error(
        client.post(f"{API}/members/{another.id}/cards", json={"card_no": unknown}, headers=with_key(admin)),
        404,
        "not_found",
    )
    assert_error(
        client.post(f"{API}/members/mem_nope/cards", json={"card_no": other.card_no}, headers=with_key(admin)),
        404,
        "member_not_found",
    )
    assert snapshot(app) == before


def test_points_adjustments_and_the_member_ledger(app, client):
    with app.app_context():
        s = make_staffed_world()
        member, card = make_member(points=100)
        found = checkout.identify(s.a.terminal, code=card.card_no)
        sale = checkout.record_sale(
            s.a.terminal, identification_token=found.token, amount_fen=10_000, redeem_points=50
        ).sale
        finance_id = staff_for_token(s.tokens["finance"]).id
        admin_id = staff_for_token(s.tokens["admin"]).id
    url = f"{API}/members/{member.id}/points-adjustments"
    # earned 1% of the 9950 fen paid = 99 points: 100 - 50 + 99 = 149
    added = client.post(url, json={"points": 500, "reason": "活动补偿"}, headers=with_key(s.auth("finance"), "adj-1"))
    assert added.status_code == 201, added.json
    assert added.json == {"member_id": member.id, "points": 500, "points_balance": 649}
    taken = client.post(url, json={"points": -49, "reason": "误加"}, headers=with_key(s.auth("admin")))
    assert taken.json == {"member_id": member.id, "points": -49, "points_balance": 600}
    replay = client.post(url, json={"points": 500, "reason": "活动补偿"}, headers=with_key(s.auth("finance"), "adj-1"))
    assert replay.json == added.json and replay.headers["Idempotent-Replayed"] == "true"

    before = snapshot(app)
    details = assert_error(
        client.post(url, json={"points": -601, "reason": "x"}, headers=with_key(s.auth("admin"))),
        409,
        "insufficient_points",
    )
    assert details == {"requested": 601}
    for body, fields in [
        ({"points": 0, "reason": "x"}, {"points"}),
        ({"points": "5", "reason": "x"}, {"points"}),
        ({"points": 1.5, "reason": "x"}, {"points"}),
        ({"points": 10**12, "reason": "x"}, {"points"}),
        ({"points": -(10**12), "reason": "x"}, {"points"}),
        ({"points": 5}, {"reason"}),
        ({"points": 5, "reason": ""}, {"reason"}),
        ({"points": 5, "reason": "   "}, {"reason"}),
        ({"points": 5, "reason": "x" * 201}, {"reason"}),
        ({"points": True, "reason": "x"}, {"points"}),
        ({"points": 5, "reason": "x", "member_id": "m"}, {"member_id"}),
    ]:
        response = client.post(url, json=body, headers=with_key(s.auth("admin")))
        assert set(assert_error(response, 422, "invalid_request")["fields"]) == fields, body
    assert_error(
        client.post(
            f"{API}/members/mem_nope/points-adjustments",
            json={"points": 5, "reason": "x"},
            headers=with_key(s.auth("admin")),
        ),
        404,
        "member_not_found",
    )
    assert snapshot(app) == before

    ledger = client.get(f"{API}/members/{member.id}/ledger", headers=s.auth("support"))
    assert ledger.status_code == 200
    simplified = [(e["kind"], e["amount"], e["sale_id"], e["actor"], e["memo"]) for e in ledger.json]
    assert simplified == [
        ("adjustment", -49, None, f"staff:{admin_id}", "误加"),
        ("adjustment", 500, None, f"staff:{finance_id}", "活动补偿"),
        ("sale", 99, sale.id, f"terminal:{s.a.terminal.id}", ""),
        ("sale", -50, sale.id, f"terminal:{s.a.terminal.id}", ""),
        ("adjustment", 100, None, ACTOR, "test set-up"),
    ]
    assert all(e["account_id"] == member.points_account_id and e["refund_id"] is None for e in ledger.json)
    assert len({e["transaction_id"] for e in ledger.json}) == 4
    page = client.get(f"{API}/members/{member.id}/ledger?page=3&page_size=2", headers=s.auth("finance"))
    assert [e["amount"] for e in page.json] == [100]
    assert json.loads(page.headers["X-Pagination"])["total"] == 5
    assert_error(client.get(f"{API}/members/mem_nope/ledger", headers=s.auth("admin")), 404, "member_not_found")


def test_bad_member_registrations_change_nothing(app, client):
    with app.app_context():
        s = make_staffed_world()
        make_member(phone="13800138000")
    before = snapshot(app)
    support = s.auth("support")
    for body, fields in [
        ({}, {"phone"}),
        ({"phone": 13800138001}, {"phone"}),
        ({"phone": ""}, {"phone"}),
        ({"phone": "1" * 33}, {"phone"}),
        ({"phone": "13800138001", "display_name": "x" * 51}, {"display_name"}),
        ({"phone": "13800138001", "level_id": "lvl"}, {"level_id"}),
        ({"phone": "13800138001", "points": 100}, {"points"}),
    ]:
        response = client.post(f"{API}/members", json=body, headers=with_key(support))
        assert set(assert_error(response, 422, "invalid_request")["fields"]) == fields, body
    assert assert_error(
        client.post(f"{API}/members", json={"phone": "12345"}, headers=with_key(support)), 422, "invalid_request"
    ) == {"field": "phone"}
    assert assert_error(
        client.post(f"{API}/members", json={"phone": "+86 138 0013 8000"}, headers=with_key(support)), 409, "conflict"
    ) == {"field": "phone"}
    details = assert_error(
        client.post(
            f"{API}/members",
            json={"phone": "13800138001", "recruited_by_merchant_id": "mer_nope"},
            headers=with_key(support),
        ),
        422,
        "invalid_request",
    )
    assert details == {"field": "recruited_by_merchant_id"}
    assert snapshot(app) == before
