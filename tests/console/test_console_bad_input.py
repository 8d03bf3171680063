"""The console (/console) and the member pages (/m) hold the same input rules as the API (see
server/request_input.py): NUL in any form field, query parameter or path answers a readable 4xx page
(JSON for the pages' JSON calls), never a 500, and changes nothing. Every console page is covered,
enumerated from the URL map.
"""

from __future__ import annotations

import re

import pytest

from tests.api.operator_support import snapshot
from tests.console.support import build_console_world, csrf_from, page_text, post_form, sign_in


@pytest.fixture
def scene(app, client):
    return build_console_world(app, client)


def assert_refused_page(response) -> str:
    assert response.status_code == 422, (response.status_code, page_text(response)[:300])
    assert response.mimetype == "text/html"
    return page_text(response)


def test_nul_in_the_query_of_every_console_page(app, client, scene):
    assert sign_in(client, "c-admin").status_code == 302
    before = snapshot(app)
    checked = 0
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/console") and "GET" in rule.methods and rule.endpoint != "console.static":
            url = re.sub(r"<[^>]+>", "1", rule.rule)
            assert_refused_page(client.get(url, query_string={"q": "13912345678\x00", "page": "\x00"}))
            checked += 1
    assert checked > 20
    assert "输入的文字中不能含有 NUL 控制字符" in assert_refused_page(client.get("/console/members?q=%00"))
    assert_refused_page(client.get(f"/console/sales/{scene.sale_id}%00"))
    assert snapshot(app) == before


def test_nul_in_console_forms(app, client, scene):
    before = snapshot(app)
    page = client.get("/console/sign-in")
    form = {"csrf_token": csrf_from(page_text(page)), "username": "c-admin\x00", "password": "x\x00"}
    assert_refused_page(client.post("/console/sign-in", data=form))
    assert snapshot(app) == before
    assert sign_in(client, "c-admin").status_code == 302
    before = snapshot(app)
    data = {"name": "好味\x00面包房", "trade": "food", "region": "", "address": "", "contact_phone": ""}
    data |= {"earn_rate": "1", "max_redeem": "30"}
    assert_refused_page(post_form(client, "/console/merchants/new", "/console/merchants/new", data))
    assert snapshot(app) == before


def test_nul_in_member_pages_and_their_json_call(app, client, scene):
    before = snapshot(app)
    assert "请检查" in assert_refused_page(client.get("/m/join?m=%00"))
    page = client.get("/m/login")
    token = csrf_from(page_text(page))
    form = {"csrf_token": token, "phone": "13912345678\x00", "code": "123456"}
    assert_refused_page(client.post("/m/login", data=form))
    response = client.post("/m/api/login-code", json={"phone": "139\x0012345678"}, headers={"X-CSRFToken": token})
    assert response.status_code == 422
    assert response.json["error"] == "invalid_request"
    assert snapshot(app) == before


def test_a_console_405_says_what_is_allowed(client, scene):
    assert sign_in(client, "c-admin").status_code == 302
    response = client.delete("/console/merchants")
    assert response.status_code == 405
    assert {name.strip() for name in response.headers["Allow"].split(",")} >= {"GET"}


def test_bad_input_in_agent_pages_is_refused_and_changes_nothing(app, client, scene):
    from sqlalchemy import select

    from server.extensions import db
    from server.models import AgentLevel
    from tests.console.support import seed_agents

    with app.app_context():
        ids = seed_agents(scene)
        level_id = db.session.scalar(select(AgentLevel.id).where(AgentLevel.rank == 1))
        db.session.remove()
    assert sign_in(client, "c-admin").status_code == 302
    before = snapshot(app)
    agent = {"kind": "person", "name": "代理\x00", "phone": "13800138009", "upper_agent_id": "", "territory_codes": ""}
    assert_refused_page(post_form(client, "/console/agents/new", "/console/agents/new", agent))
    assert_refused_page(post_form(client, "/console/agents", "/console/agents", {"q": "138\x00"}))
    level = f"/console/agent-levels/{level_id}/edit"
    for data in (
        {"name": "青铜", "commission": "abc", "purchase_discount": "3", "combine": "all"},
        {"name": "青铜", "commission": "8", "purchase_discount": "3", "combine": "none"},
        {"name": "青铜", "commission": "8", "purchase_discount": "3", "combine": "all", "active_days": "-1"},
        {"name": "青铜", "commission": "800", "purchase_discount": "3", "combine": "all", "preview": "1"},
    ):
        assert_refused_page(post_form(client, level, level, data))
    for period in ("2026-13", "26-01", "\x00"):
        runs = "/console/agent-evaluations"
        assert_refused_page(post_form(client, runs, runs + "/run", {"period": period}))
    policy = {
        "chain_max_depth": "9",
        "grace_periods": "1",
        "protection_periods": "3",
        "fast_track_periods": "2",
        "health_floor": "60",
        "alert_drop": "30",
        "alert_health_below": "60",
    }
    assert_refused_page(post_form(client, "/console/agent-policy", "/console/agent-policy", policy))
    for bad in ("territory_codes", "contract_start"):
        edit = f"/console/agents/{ids['agent_id']}/edit"
        values = agent | {"name": "改名", "phone": "", bad: "44x" if bad == "territory_codes" else "2026-02-31"}
        assert_refused_page(post_form(client, edit, edit, values))
    assert snapshot(app) == before
    # a status the agent cannot move to is refused without a change
    status = post_form(
        client, f"/console/agents/{ids['agent_id']}", f"/console/agents/{ids['agent_id']}/status", {"status": "bogus"}
    )
    assert status.status_code == 302
    assert snapshot(app) == before
