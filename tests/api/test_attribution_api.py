"""Card consignment on the card-batch endpoints and the invitation reward setting, through the API."""

from __future__ import annotations

import pytest

from server.extensions import db
from server.models import Member
from server.services import members, regions
from tests.api.operator_support import API, _staff_token, assert_error, make_staffed_world, with_key
from tests.builders import ACTOR, next_phone


@pytest.fixture
def s(app):
    with app.app_context():
        regions.load_regions()
        staffed = make_staffed_world()
        staffed.tokens["agent_manager"] = _staff_token("agents-mgr", "agent_manager")
        return staffed


def active_agent(client, s, name="拿卡代理"):
    body = {"kind": "person", "name": name, "phone": next_phone()}
    agent = client.post(f"{API}/agents", json=body, headers=with_key(s.auth("agent_manager"))).json["agent"]
    response = client.patch(
        f"{API}/agents/{agent['id']}",
        json={"status": "active", "status_reason": "签约"},
        headers=s.auth("agent_manager"),
    )
    assert response.status_code == 200, response.json
    return agent


def printed_batch(client, s, count=5):
    response = client.post(
        f"{API}/card-batches", json={"count": count, "kind": "printed"}, headers=with_key(s.auth("admin"))
    )
    assert response.status_code == 201, response.json
    return response.json["batch"]


def test_consign_a_range_then_read_it_on_the_batch(app, client, s):
    agent = active_agent(client, s)
    batch = printed_batch(client, s)
    numbers = [
        c["card_no"] for c in client.get(f"{API}/card-batches/{batch['id']}/cards", headers=s.auth("admin")).json
    ]
    url = f"{API}/card-batches/{batch['id']}/consignments"
    body = {"agent_id": agent["id"], "first_card_no": numbers[0], "last_card_no": numbers[1]}
    created = client.post(url, json=body, headers=s.auth("admin"))
    assert created.status_code == 201, created.json
    assert (created.json["count"], created.json["activated"], created.json["agent_name"]) == (2, 0, "拿卡代理")
    overlap = client.post(url, json=body, headers=s.auth("admin"))
    assert_error(overlap, 409, "conflict")
    assert "部分卡片已交给其他代理" in overlap.json["message"]
    outside = client.post(url, json={"agent_id": agent["id"], "first_card_no": "1"}, headers=s.auth("admin"))
    assert_error(outside, 422, "invalid_request")
    assert_error(client.post(url, json={"agent_id": "agt_nobody"}, headers=s.auth("admin")), 404, "not_found")

    with app.app_context():
        member = members.register_member(ACTOR, next_phone())
        members.bind_card(ACTOR, member.id, numbers[0])
        assert db.session.get(Member, member.id).recruited_by_agent_id == agent["id"]
        db.session.remove()
    detail = client.get(f"{API}/card-batches/{batch['id']}", headers=s.auth("admin")).json
    assert [(c["agent_id"], c["count"], c["activated"]) for c in detail["consignments"]] == [(agent["id"], 2, 1)]
    listed = client.get(url, headers=s.auth("admin")).json
    assert listed[0]["first_card_no"] == numbers[0]


def test_the_invitation_reward_is_an_alliance_setting_off_by_default(client, s):
    current = client.get(f"{API}/alliance", headers=s.auth("admin")).json
    assert (current["invite_reward_points_per_yuan"], current["invite_reward_days"]) == (0, 30)
    changed = client.patch(
        f"{API}/alliance", json={"invite_reward_points_per_yuan": 2, "invite_reward_days": 14}, headers=s.auth("admin")
    )
    assert changed.status_code == 200, changed.json
    assert (changed.json["invite_reward_points_per_yuan"], changed.json["invite_reward_days"]) == (2, 14)
    bad = client.patch(f"{API}/alliance", json={"invite_reward_points_per_yuan": -1}, headers=s.auth("admin"))
    assert_error(bad, 422, "invalid_request")
