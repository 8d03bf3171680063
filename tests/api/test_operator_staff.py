"""Admin endpoints for staff users and their personal tokens."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from server.extensions import db
from server.models import AuditLog, IdempotencyRecord, PersonalToken, StaffUser
from server.security.credentials import verify_password
from tests.api.operator_support import API, assert_error, bearer, iso, make_staffed_world, snapshot, with_key


def staff_json(user) -> dict:
    body = {name: getattr(user, name) for name in ("id", "username", "display_name", "role", "merchant_id", "status")}
    return {**body, "created_at": iso(user.created_at)}


def test_list_staff_with_filters(app, client):
    with app.app_context():
        s = make_staffed_world()
        users = db.session.scalars(select(StaffUser).order_by(StaffUser.created_at, StaffUser.id)).all()
    listed = client.get(f"{API}/staff?page_size=50", headers=s.auth("admin"))
    assert listed.status_code == 200
    assert listed.json == [staff_json(user) for user in users]
    assert json.loads(listed.headers["X-Pagination"])["total"] == 8

    def names(query):
        response = client.get(f"{API}/staff?{query}", headers=s.auth("admin"))
        assert response.status_code == 200, response.json
        return [user["username"] for user in response.json]

    assert names("role=cashier") == ["cashier-a", "cashier-b"]
    assert names(f"merchant_id={s.a.merchant.id}") == [f"owner-{s.a.merchant.id}", "cashier-a"]
    assert names(f"role=owner&merchant_id={s.b.merchant.id}") == [f"owner-{s.b.merchant.id}"]
    assert names("role=finance") == ["finance-user"]
    assert_error(client.get(f"{API}/staff?role=boss", headers=s.auth("admin")), 422, "invalid_request")


def test_create_staff_and_give_them_a_token(app, client):
    with app.app_context():
        s = make_staffed_world()
    body = {
        "username": "li.cashier",
        "role": "cashier",
        "merchant_id": s.b.merchant.id,
        "display_name": "李收银",
        "password": "correct horse battery",
    }
    headers = with_key(s.auth("admin"), "new-cashier")
    created = client.post(f"{API}/staff", json=body, headers=headers)
    assert created.status_code == 201, created.json
    user = created.json["staff_user"]
    assert user == {
        "id": user["id"],
        "username": "li.cashier",
        "display_name": "李收银",
        "role": "cashier",
        "merchant_id": s.b.merchant.id,
        "status": "active",
        "created_at": user["created_at"],
    }
    assert "password" not in created.get_data(as_text=True)
    assert client.post(f"{API}/staff", json=body, headers=headers).json == created.json
    with app.app_context():
        stored = db.session.get(StaffUser, user["id"])
        assert verify_password(stored.password_hash, "correct horse battery")
        assert db.session.scalar(select(func.count()).select_from(StaffUser)) == 9

    token_headers = with_key(s.auth("admin"), "token-1")
    issued = client.post(f"{API}/staff/{user['id']}/tokens", json={"name": "平板"}, headers=token_headers)
    assert issued.status_code == 201, issued.json
    record = issued.json["personal_token"]
    assert record == {
        "id": record["id"],
        "user_id": user["id"],
        "name": "平板",
        "expires_at": None,  # no valid_days: until revoked
        "revoked_at": None,
        "created_at": record["created_at"],
    }
    token = issued.json["token"]
    assert token.startswith("pt_")
    # The new cashier works, within merchant B only.
    mine = client.get(f"{API}/merchants", headers=bearer(token))
    assert [m["id"] for m in mine.json] == [s.b.merchant.id]
    assert_error(client.get(f"{API}/merchants/{s.a.merchant.id}", headers=bearer(token)), 404, "not_found")

    replay = client.post(f"{API}/staff/{user['id']}/tokens", json={"name": "平板"}, headers=token_headers)
    assert replay.json == issued.json and replay.headers["Idempotent-Replayed"] == "true"
    with app.app_context():
        assert (
            db.session.scalar(
                select(func.count()).select_from(PersonalToken).where(PersonalToken.user_id == user["id"])
            )
            == 1
        )
        for record in db.session.scalars(select(IdempotencyRecord)):
            assert token not in json.dumps(record.response_body)
        actions = db.session.scalars(
            select(AuditLog.action).where(AuditLog.object_id == user["id"]).order_by(AuditLog.id)
        ).all()
        assert actions == ["staff.create", "staff.create_token"]

    operator = client.post(
        f"{API}/staff", json={"username": "fin2", "role": "finance"}, headers=with_key(s.auth("admin"))
    )
    assert operator.status_code == 201
    assert operator.json["staff_user"]["merchant_id"] is None and operator.json["staff_user"]["display_name"] == ""


def test_bad_staff_requests_change_nothing(app, client):
    with app.app_context():
        s = make_staffed_world()
        cashier_id = db.session.scalar(select(StaffUser.id).where(StaffUser.username == "cashier-a"))
    admin = s.auth("admin")
    before = snapshot(app)
    for body, fields in [
        ({}, {"username", "role"}),
        ({"username": "x", "role": "boss"}, {"role"}),
        ({"username": "has space", "role": "finance"}, {"username"}),
        ({"username": "", "role": "finance"}, {"username"}),
        ({"username": "x" * 65, "role": "finance"}, {"username"}),
        ({"username": "x", "role": "finance", "password": "short"}, {"password"}),
        ({"username": "x", "role": "finance", "password": 1234567890}, {"password"}),
        ({"username": "x", "role": "admin", "status": "active"}, {"status"}),
    ]:
        response = client.post(f"{API}/staff", json=body, headers=with_key(admin))
        assert set(assert_error(response, 422, "invalid_request")["fields"]) == fields, body
    for body, status, code, details in [
        ({"username": "x", "role": "owner"}, 422, "invalid_request", "merchant_id"),
        ({"username": "x", "role": "support", "merchant_id": s.a.merchant.id}, 422, "invalid_request", "merchant_id"),
        ({"username": "x", "role": "cashier", "merchant_id": "mer_nope"}, 422, "invalid_request", "merchant_id"),
        ({"username": "cashier-a", "role": "finance"}, 409, "conflict", "username"),
    ]:
        response = client.post(f"{API}/staff", json=body, headers=with_key(admin))
        assert assert_error(response, status, code)["field"] == details, body
    for body in ({}, {"name": ""}, {"name": "x" * 101}, {"name": "t", "user_id": cashier_id}):
        response = client.post(f"{API}/staff/{cashier_id}/tokens", json=body, headers=with_key(admin))
        assert_error(response, 422, "invalid_request")
    assert_error(
        client.post(f"{API}/staff/usr_nope/tokens", json={"name": "t"}, headers=with_key(admin)), 404, "not_found"
    )
    assert snapshot(app) == before
