"""Operator and owner endpoints for POS terminals: registration, status and token reset."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from server.extensions import db
from server.models import AuditLog, IdempotencyRecord, Terminal
from server.services import catalog
from tests.api.operator_support import API, assert_error, bearer, iso, make_staffed_world, snapshot, with_key
from tests.builders import ACTOR


def terminal_json(terminal, **changes) -> dict:
    body = {name: getattr(terminal, name) for name in ("id", "merchant_id", "code", "name", "status")}
    return {**body, "created_at": iso(terminal.created_at), **changes}


def test_list_a_merchants_terminals_paginated(app, client):
    with app.app_context():
        s = make_staffed_world()
        second = catalog.create_terminal(ACTOR, s.a.merchant.id, "二号机").terminal
        third = catalog.create_terminal(ACTOR, s.a.merchant.id, "三号机").terminal
    url = f"{API}/merchants/{s.a.merchant.id}/terminals"
    listed = client.get(url, headers=s.auth("finance"))
    assert listed.status_code == 200
    assert listed.json == [terminal_json(s.a.terminal), terminal_json(second), terminal_json(third)]
    assert [item["code"] for item in listed.json] == ["T01", "T02", "T03"]
    page = client.get(f"{url}?page=2&page_size=2", headers=s.auth("owner"))
    assert page.json == [terminal_json(third)]
    assert json.loads(page.headers["X-Pagination"]) == {
        "total": 3,
        "total_pages": 2,
        "first_page": 1,
        "last_page": 2,
        "page": 2,
        "previous_page": 1,
    }
    assert client.get(f"{API}/merchants/{s.b.merchant.id}/terminals", headers=s.auth("admin")).json == [
        terminal_json(s.b.terminal)
    ]
    assert_error(client.get(f"{API}/merchants/mer_nope/terminals", headers=s.auth("admin")), 404, "not_found")


def test_owner_registers_a_terminal_and_its_token_is_shown_once(app, client):
    with app.app_context():
        s = make_staffed_world()
    headers = with_key(s.auth("owner"), "register-2")
    created = client.post(f"{API}/merchants/{s.a.merchant.id}/terminals", json={"name": "二号收银台"}, headers=headers)
    assert created.status_code == 201, created.json
    terminal, token = created.json["terminal"], created.json["token"]
    assert set(created.json) == {"terminal", "token"}
    assert terminal == {
        "id": terminal["id"],
        "merchant_id": s.a.merchant.id,
        "code": "T02",
        "name": "二号收银台",
        "status": "active",
        "created_at": terminal["created_at"],
    }
    assert token.startswith("tt_") and len(token) > 40
    me = client.get(f"{API}/terminal", headers=bearer(token))
    assert me.status_code == 200 and me.json["terminal"] == {"id": terminal["id"], "name": "二号收银台"}

    replay = client.post(f"{API}/merchants/{s.a.merchant.id}/terminals", json={"name": "二号收银台"}, headers=headers)
    assert replay.status_code == 201 and replay.json == created.json
    assert replay.headers["Idempotent-Replayed"] == "true"
    with app.app_context():
        assert (
            db.session.scalar(select(func.count()).select_from(Terminal).where(Terminal.merchant_id == s.a.merchant.id))
            == 2
        )
        stored = db.session.scalars(select(IdempotencyRecord)).one()
        assert token not in json.dumps(stored.response_body)  # the database holds no usable token
        assert stored.response_body["terminal"] == terminal
        row = db.session.scalars(
            select(AuditLog).where(AuditLog.action == "terminal.create", AuditLog.object_id == terminal["id"])
        ).one()
        assert row.details == {"merchant_id": s.a.merchant.id}


def test_get_disable_and_enable_a_terminal(app, client):
    with app.app_context():
        s = make_staffed_world()
    url = f"{API}/terminals/{s.a.terminal.id}"
    assert client.get(url, headers=s.auth("owner")).json == {"terminal": terminal_json(s.a.terminal)}
    disabled = client.patch(url, json={"status": "disabled"}, headers=s.auth("owner"))
    assert disabled.status_code == 200
    assert disabled.json == {"terminal": terminal_json(s.a.terminal, status="disabled")}
    assert_error(client.get(f"{API}/terminal", headers=s.a.auth), 401, "unauthorized")
    enabled = client.patch(url, json={"status": "active"}, headers=s.auth("admin"))
    assert enabled.json == {"terminal": terminal_json(s.a.terminal)}
    assert client.get(f"{API}/terminal", headers=s.a.auth).status_code == 200
    with app.app_context():
        assert db.session.scalars(
            select(AuditLog.details).where(AuditLog.action == "terminal.set_status").order_by(AuditLog.id)
        ).all() == [{"status": "disabled"}, {"status": "active"}]


def test_resetting_the_token_makes_the_old_one_401(app, client):
    with app.app_context():
        s = make_staffed_world()
    old = s.a.auth
    assert client.get(f"{API}/terminal", headers=old).status_code == 200
    headers = with_key(s.auth("owner"), "reset-1")
    reset = client.post(f"{API}/terminals/{s.a.terminal.id}/token", headers=headers)
    assert reset.status_code == 200, reset.json
    assert reset.json["terminal"] == terminal_json(s.a.terminal)
    new = bearer(reset.json["token"])
    assert reset.json["token"] != s.a.token and reset.json["token"].startswith("tt_")
    assert_error(client.get(f"{API}/terminal", headers=old), 401, "unauthorized")
    assert_error(client.post(f"{API}/identify", json={"phone": "13800138000"}, headers=old), 401, "unauthorized")
    assert client.get(f"{API}/terminal", headers=new).status_code == 200

    replay = client.post(f"{API}/terminals/{s.a.terminal.id}/token", headers=headers)
    assert replay.json == reset.json and replay.headers["Idempotent-Replayed"] == "true"
    assert client.get(f"{API}/terminal", headers=new).status_code == 200  # the replay reset nothing

    again = client.post(f"{API}/terminals/{s.a.terminal.id}/token", json={}, headers=with_key(s.auth("admin")))
    assert again.status_code == 200
    assert_error(client.get(f"{API}/terminal", headers=new), 401, "unauthorized")
    assert client.get(f"{API}/terminal", headers=bearer(again.json["token"])).status_code == 200
    with app.app_context():
        assert (
            db.session.scalar(
                select(func.count()).select_from(AuditLog).where(AuditLog.action == "terminal.reset_token")
            )
            == 2
        )


def test_bad_terminal_requests_change_nothing(app, client):
    with app.app_context():
        s = make_staffed_world()
    owner = s.auth("owner")
    create_url = f"{API}/merchants/{s.a.merchant.id}/terminals"
    before = snapshot(app)
    for body, fields in [
        ({}, {"name"}),
        ({"name": ""}, {"name"}),
        ({"name": "x" * 101}, {"name"}),
        ({"name": 7}, {"name"}),
        ({"name": None}, {"name"}),
        ({"name": "ok", "code": "T09"}, {"code"}),
        ({"name": "ok", "merchant_id": "x"}, {"merchant_id"}),
    ]:
        response = client.post(create_url, json=body, headers=with_key(owner))
        assert set(assert_error(response, 422, "invalid_request")["fields"]) == fields, body
    for body, fields in [
        ({}, {"status"}),
        ({"status": "broken"}, {"status"}),
        ({"status": True}, {"status"}),
        ({"status": "disabled", "name": "x"}, {"name"}),
    ]:
        response = client.patch(f"{API}/terminals/{s.a.terminal.id}", json=body, headers=owner)
        assert set(assert_error(response, 422, "invalid_request")["fields"]) == fields, body
    response = client.post(
        f"{API}/terminals/{s.a.terminal.id}/token", json={"token": "tt_mine"}, headers=with_key(owner)
    )
    assert set(assert_error(response, 422, "invalid_request")["fields"]) == {"token"}
    assert_error(
        client.post(f"{API}/terminals/{s.a.terminal.id}/token", headers=owner), 400, "idempotency_key_required"
    )
    assert_error(client.post(create_url, json={"name": "ok"}, headers=owner), 400, "idempotency_key_required")
    for method, url in [
        ("get", "/terminals/trm_nope"),
        ("patch", "/terminals/trm_nope"),
        ("post", "/terminals/trm_nope/token"),
    ]:
        body = {"status": "active"} if method == "patch" else None
        assert_error(getattr(client, method)(API + url, json=body, headers=with_key(s.auth("admin"))), 404, "not_found")
    assert_error(
        client.post(f"{API}/merchants/mer_nope/terminals", json={"name": "x"}, headers=with_key(s.auth("admin"))),
        404,
        "not_found",
    )
    assert snapshot(app) == before
    assert client.get(f"{API}/terminal", headers=s.a.auth).status_code == 200
