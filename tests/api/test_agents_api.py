"""The agent network's endpoints: regions, agents, levels, evaluations, alerts, the merchant's agent and region."""

from __future__ import annotations

import pytest

from server.services import regions
from tests.api.operator_support import API, _staff_token, assert_error, bearer, make_staffed_world, with_key
from tests.builders import next_phone


@pytest.fixture
def s(app):
    with app.app_context():
        regions.load_regions()
        staffed = make_staffed_world()
        staffed.tokens["agent_manager"] = _staff_token("agents-mgr", "agent_manager")
        return staffed


def create_agent(client, s, name="市代理", **fields):
    body = {"kind": "person", "name": name, "phone": next_phone(), **fields}
    response = client.post(f"{API}/agents", json=body, headers=with_key(s.auth("agent_manager")))
    assert response.status_code == 201, response.json
    return response.json["agent"], body


def activate(client, s, agent_id):
    response = client.patch(
        f"{API}/agents/{agent_id}", json={"status": "active", "status_reason": "签约"}, headers=s.auth("agent_manager")
    )
    assert response.status_code == 200, response.json
    return response.json["agent"]


def test_regions_by_parent(client, s):
    provinces = client.get(f"{API}/regions", headers=s.auth("cashier"))
    assert provinces.status_code == 200
    assert {"code": "440000", "name": "广东省", "parent_code": None, "level": "province"} in provinces.json
    shenzhen = client.get(f"{API}/regions", query_string={"parent": "440300"}, headers=s.auth("admin")).json
    assert {"code": "440305", "name": "南山区", "parent_code": "440300", "level": "county"} in shenzhen
    assert_error(
        client.get(f"{API}/regions", query_string={"parent": "999999"}, headers=s.auth("admin")), 404, "not_found"
    )
    assert_error(
        client.get(f"{API}/regions", query_string={"parent": "44"}, headers=s.auth("admin")), 422, "invalid_request"
    )


def test_create_read_and_list_agents(client, s):
    agent, body = create_agent(client, s, territories=[{"region_code": "440300"}], contract_start="2026-01-01")
    assert agent["status"] == "applied" and agent["upper_agent_id"] is None
    assert agent["phone_masked"] == f"{body['phone'][:3]}****{body['phone'][-4:]}"
    assert body["phone"] not in str(agent)
    assert agent["territories"] == [{"region_code": "440300", "exclusive": False}]
    assert client.get(f"{API}/agents/{agent['id']}", headers=s.auth("finance")).json == {"agent": agent}
    listed = client.get(f"{API}/agents", query_string={"region_code": "440300"}, headers=s.auth("admin")).json
    assert [a["id"] for a in listed] == [agent["id"]]
    assert client.get(f"{API}/agents", query_string={"status": "active"}, headers=s.auth("admin")).json == []
    levels = client.get(f"{API}/agent-levels", headers=s.auth("agent_manager")).json
    assert [(lv["name"], lv["commission_rate_bp"]) for lv in levels] == [
        ("新手", 500),
        ("青铜", 800),
        ("白银", 1200),
        ("黄金", 1500),
        ("铂金", 1800),
    ]
    assert agent["level_id"] == levels[0]["id"]


def test_status_changes_need_a_reason(client, s):
    agent, _ = create_agent(client, s)
    refused = client.patch(f"{API}/agents/{agent['id']}", json={"status": "active"}, headers=s.auth("agent_manager"))
    assert "status_reason" in assert_error(refused, 422, "invalid_request")["fields"]
    assert activate(client, s, agent["id"])["status_reason"] == "签约"
    back = client.patch(
        f"{API}/agents/{agent['id']}", json={"status": "applied", "status_reason": "x"}, headers=s.auth("admin")
    )
    assert_error(back, 409, "conflict")


def test_upper_agent_rules_in_chinese(client, s):
    city, _ = create_agent(client, s, "市代理")
    county, _ = create_agent(client, s, "县代理", upper_agent_id=city["id"])
    village, _ = create_agent(client, s, "乡代理")
    url = f"{API}/agents/{village['id']}"
    deep = client.patch(url, json={"upper_agent_id": county["id"]}, headers=s.auth("agent_manager"))
    assert_error(deep, 409, "agent_chain_too_deep")
    assert deep.json["message"] == "代理层级将超过联盟允许的层数。"
    self_bound = client.patch(url, json={"upper_agent_id": village["id"]}, headers=s.auth("agent_manager"))
    assert_error(self_bound, 422, "agent_self_upper")
    cycle = client.patch(
        f"{API}/agents/{city['id']}", json={"upper_agent_id": county["id"]}, headers=s.auth("agent_manager")
    )
    assert_error(cycle, 409, "agent_chain_cycle")


def test_levels_refuse_payment_conditions_and_can_be_edited(client, s):
    create_agent(client, s)
    levels = client.get(f"{API}/agent-levels", headers=s.auth("admin")).json
    fee = {"code": "vip", "rank": 9, "name": "VIP", "conditions": [{"metric": "entry_fee_fen", "minimum": 1}]}
    assert_error(
        client.post(f"{API}/agent-levels", json=fee, headers=with_key(s.auth("admin"))), 422, "invalid_request"
    )
    changed = client.patch(
        f"{API}/agent-levels/{levels[1]['id']}",
        json={"conditions": [{"metric": "active_subordinates", "minimum": 2, "parameter": 12}], "combine": "all"},
        headers=s.auth("agent_manager"),
    )
    assert changed.status_code == 200, changed.json
    assert changed.json["level"]["conditions"] == [{"metric": "active_subordinates", "minimum": 2, "parameter": 12}]
    added = client.post(
        f"{API}/agent-levels",
        json={"code": "diamond", "rank": 5, "name": "钻石", "commission_rate_bp": 2000},
        headers=with_key(s.auth("agent_manager")),
    )
    assert added.status_code == 201 and added.json["level"]["rank"] == 5


def test_evaluate_a_month_then_read_the_evaluations_and_alerts(client, s):
    agent, _ = create_agent(client, s)
    activate(client, s, agent["id"])
    run = client.post(f"{API}/agent-evaluations", json={"period": "2026-11"}, headers=with_key(s.auth("agent_manager")))
    assert run.status_code == 200, run.json
    assert run.json["evaluated"] == 1 and run.json["period"] == "2026-11"
    again = client.post(f"{API}/agent-evaluations", json={"period": "2026-11"}, headers=with_key(s.auth("admin")))
    assert (again.json["evaluated"], again.json["already_evaluated"]) == (0, 1)
    records = client.get(f"{API}/agents/{agent['id']}/evaluations", headers=s.auth("finance")).json
    assert len(records) == 1 and records[0]["figures"]["serviced_gmv_fen"] == 0 and records[0]["outcome"] == "kept"
    assert client.get(f"{API}/agent-alerts", headers=s.auth("agent_manager")).json == []
    future = client.post(f"{API}/agent-evaluations", json={"period": "2999-01"}, headers=with_key(s.auth("admin")))
    assert_error(future, 409, "conflict")


def test_the_merchant_endpoints_carry_its_agent_and_region(client, s):
    agent, _ = create_agent(client, s)
    url = f"{API}/merchants/{s.a.merchant.id}"
    patched = client.patch(url, json={"agent_id": agent["id"], "region_code": "440305"}, headers=s.auth("admin"))
    assert patched.status_code == 200, patched.json
    assert (patched.json["merchant"]["agent_id"], patched.json["merchant"]["region_code"]) == (agent["id"], "440305")
    serviced = client.get(f"{API}/merchants", query_string={"agent_id": agent["id"]}, headers=s.auth("admin")).json
    assert [m["id"] for m in serviced] == [s.a.merchant.id]
    unknown = client.patch(url, json={"region_code": "990000"}, headers=s.auth("admin"))
    assert_error(unknown, 422, "invalid_request")


@pytest.mark.parametrize("role", ["card_issuer", "support", "owner", "cashier"])
def test_who_may_not_manage_agents(client, s, role):
    body = {"kind": "person", "name": "x", "phone": next_phone()}
    assert_error(client.post(f"{API}/agents", json=body, headers=with_key(s.auth(role))), 403, "forbidden")


def test_who_may_read_agents(client, s):
    for role in ("admin", "finance", "agent_manager"):
        assert client.get(f"{API}/agents", headers=s.auth(role)).status_code == 200
    assert_error(client.get(f"{API}/agents", headers=s.auth("owner")), 403, "forbidden")
    assert_error(client.get(f"{API}/agents", headers=bearer("nope")), 401, "unauthorized")


def test_contract_dates_and_details_change_audited(client, s):
    agent, _ = create_agent(client, s, contract_start="2026-01-01")
    body = {"contract_start": "2026-02-01", "contract_end": "2027-01-31", "name": "新名字", "phone": next_phone()}
    changed = client.patch(f"{API}/agents/{agent['id']}", json=body, headers=s.auth("admin"))
    assert changed.status_code == 200, changed.json
    assert (changed.json["agent"]["contract_start"], changed.json["agent"]["contract_end"]) == (
        "2026-02-01",
        "2027-01-31",
    )
    assert changed.json["agent"]["phone_masked"] != agent["phone_masked"]
    backwards = client.patch(
        f"{API}/agents/{agent['id']}", json={"contract_end": "2025-01-01"}, headers=s.auth("admin")
    )
    assert_error(backwards, 422, "invalid_request")


def test_the_agent_policy(client, s):
    policy = client.get(f"{API}/agent-policy", headers=s.auth("finance")).json
    assert policy == {
        "chain_max_depth": 2,
        "grace_periods": 1,
        "protection_periods": 3,
        "fast_track_periods": 2,
        "health_floor": 60,
        "alert_drop_bp": 3000,
        "alert_health_below": 60,
    }
    deeper = client.patch(f"{API}/agent-policy", json={"chain_max_depth": 4}, headers=s.auth("agent_manager"))
    assert "chain_max_depth" in assert_error(deeper, 422, "invalid_request")["fields"]
    city, _ = create_agent(client, s, "市代理")
    create_agent(client, s, "县代理", upper_agent_id=city["id"])
    shallower = client.patch(f"{API}/agent-policy", json={"chain_max_depth": 1}, headers=s.auth("agent_manager"))
    assert_error(shallower, 409, "conflict")
    changed = client.patch(
        f"{API}/agent-policy", json={"chain_max_depth": 3, "grace_periods": 2}, headers=s.auth("admin")
    )
    assert (changed.json["chain_max_depth"], changed.json["grace_periods"]) == (3, 2)
    refused = client.patch(f"{API}/agent-policy", json={"grace_periods": 0}, headers=s.auth("finance"))
    assert_error(refused, 403, "forbidden")
