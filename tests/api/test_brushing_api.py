"""Anti-brushing rules and flags, complaints and violations through the API: filters, review, refusals."""

from __future__ import annotations

import pytest

from tests.api.operator_support import API, _staff_token, assert_error, make_staffed_world, with_key
from tests.builders import make_member


@pytest.fixture
def s(app):
    with app.app_context():
        staffed = make_staffed_world()
        staffed.tokens["agent_manager"] = _staff_token("agents-mgr", "agent_manager")
        staffed.card_no = make_member()[1].card_no
        staffed.shop_a_id = staffed.world.shop_a.merchant.id
        return staffed


def sell(client, s, amount_fen=2_000):
    till = s.world.shop_a.auth
    token = client.post(f"{API}/identify", json={"code": s.card_no}, headers=till).json["identification"]["token"]
    response = client.post(
        f"{API}/sales", json={"identification_token": token, "amount_fen": amount_fen}, headers=with_key(till)
    )
    assert response.status_code == 201, response.json
    return response.json["sale"]


def rules(client, s):
    return {rule["code"]: rule for rule in client.get(f"{API}/brushing-rules", headers=s.auth("agent_manager")).json}


def test_rules_are_listed_with_defaults_and_checked_when_changed(client, s):
    burst = rules(client, s)["same_card_burst"]
    assert burst["parameters"] == {"max_sales": 3, "minutes": 10} and burst["enabled"] is True
    url, manager = f"{API}/brushing-rules/{burst['id']}", s.auth("agent_manager")
    changed = client.patch(url, json={"parameters": {"minutes": 30}, "enabled": False}, headers=manager)
    assert changed.status_code == 200
    assert changed.json["rule"]["parameters"] == {"max_sales": 3, "minutes": 30}
    unknown = client.patch(url, json={"parameters": {"hours": 3}}, headers=manager)
    assert_error(unknown, 422, "invalid_request")
    assert unknown.json["message"] == "该规则没有这个参数。"
    too_big = client.patch(url, json={"parameters": {"minutes": 100_000}}, headers=manager)
    assert too_big.json["message"] == "规则参数须为范围内的整数。"
    assert_error(client.patch(url, json={}, headers=manager), 422, "invalid_request")
    assert_error(
        client.patch(f"{API}/brushing-rules/bru_nope", json={"enabled": True}, headers=manager), 404, "not_found"
    )
    assert_error(client.patch(url, json={"enabled": True}, headers=s.auth("finance")), 403, "forbidden")
    assert_error(client.get(f"{API}/brushing-rules", headers=s.auth("cashier")), 403, "forbidden")


def test_a_scan_flags_a_burst_once_and_the_review_releases_or_keeps_its_sales(client, s):
    sales = [sell(client, s, 1_000 + i) for i in range(4)]
    manager = s.auth("agent_manager")
    first = client.post(f"{API}/brushing-scans", headers=with_key(manager)).json
    again = client.post(f"{API}/brushing-scans", headers=with_key(manager)).json
    assert (first["flagged"], again["flagged"], again["already_flagged"]) == (1, 0, 1)
    (flag,) = client.get(f"{API}/brushing-flags", query_string={"status": "open"}, headers=manager).json
    assert flag["subject_type"] == "card" and flag["merchant_id"] == s.shop_a_id
    assert sorted(flag["sale_ids"]) == sorted(sale["id"] for sale in sales)
    by_sale = client.get(f"{API}/brushing-flags", query_string={"sale_id": sales[0]["id"]}, headers=manager).json
    assert [f["id"] for f in by_sale] == [flag["id"]]
    url = f"{API}/brushing-flags/{flag['id']}"
    no_reason = client.patch(url, json={"status": "cleared"}, headers=manager)
    assert_error(no_reason, 422, "invalid_request")
    wrong = client.patch(url, json={"status": "open", "reason": "x"}, headers=manager)
    assert_error(wrong, 422, "invalid_request")
    cleared = client.patch(url, json={"status": "cleared", "reason": "熟客"}, headers=manager).json["flag"]
    assert cleared["status"] == "cleared" and cleared["review_reason"] == "熟客" and cleared["reviewed_at"]
    twice = client.patch(url, json={"status": "confirmed", "reason": "x"}, headers=manager)
    assert_error(twice, 409, "conflict")
    assert twice.json["message"] == "该标记已审核过。"
    assert client.get(f"{API}/brushing-flags", query_string={"status": "open"}, headers=manager).json == []
    assert_error(client.get(f"{API}/brushing-flags/brf_nope", headers=manager), 404, "not_found")


def test_complaints_and_violations(client, s):
    manager = s.auth("agent_manager")
    nobody = client.post(f"{API}/complaints", json={"summary": "态度差"}, headers=with_key(manager))
    assert_error(nobody, 422, "invalid_request")
    assert nobody.json["message"] == "投诉须针对商家或代理。"
    body = {"summary": "态度差", "merchant_id": s.shop_a_id}
    complaint = client.post(f"{API}/complaints", json=body, headers=with_key(manager)).json["complaint"]
    assert complaint["status"] == "open" and complaint["responded_at"] is None
    url = f"{API}/complaints/{complaint['id']}"
    assert_error(client.patch(url, json={"status": "responded"}, headers=manager), 422, "invalid_request")
    answered = client.patch(url, json={"status": "responded", "response": "已致歉"}, headers=manager).json
    assert answered["complaint"]["status"] == "responded" and answered["complaint"]["responded_at"]
    closed = client.patch(url, json={"status": "closed"}, headers=manager).json["complaint"]
    assert closed["closed_at"]
    assert_error(client.patch(url, json={"status": "closed"}, headers=manager), 409, "conflict")
    listed = client.get(f"{API}/complaints", query_string={"merchant_id": s.shop_a_id}, headers=manager).json
    assert [c["id"] for c in listed] == [complaint["id"]]
    ghost = client.post(
        f"{API}/agent-violations", json={"agent_id": "agt_nope", "description": "x"}, headers=with_key(manager)
    )
    assert_error(ghost, 422, "invalid_request")
    assert ghost.json["message"] == "没有这个代理。" or ghost.json["message"]
