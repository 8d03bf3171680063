"""The agent network's console pages: list, detail, forms, status with a reason, tree, territory map, levels
with a preview that writes nothing, evaluation runs with a confirmation, alerts, policy, and who may do what."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from server.extensions import db
from server.models import Agent, AgentEvaluation, AgentLevel, AuditLog
from server.services import staff
from tests.builders import ACTOR
from tests.console.support import (
    PASSWORD,
    build_console_world,
    page_text,
    post_form,
    seed_agents,
    sign_in,
)


@pytest.fixture
def scene(app, client):
    scene = build_console_world(app, client)
    with app.app_context():
        scene.ids = seed_agents(scene)
        staff.create_staff_user(ACTOR, "c-agents", "agent_manager", PASSWORD)
        db.session.remove()
    return scene


def count(app, query):
    with app.app_context():
        value = db.session.scalar(query)
        db.session.remove()
        return value


AGENT_PAGES = (
    "/console/agents",
    "/console/agents/tree",
    "/console/agents/territories",
    "/console/agent-levels",
    "/console/agent-evaluations",
    "/console/agent-alerts",
    "/console/agent-policy",
)


def test_agent_manager_sees_the_agent_pages_and_the_menu_group(scene, client):
    assert sign_in(client, "c-agents").status_code == 302
    for url in AGENT_PAGES:
        response = client.get(url)
        assert response.status_code == 200, url
    html = page_text(client.get("/console/agents/tree"))
    assert "深圳城市代理" in html and "南山县区代理" in html
    assert html.count("console-nav-group") == 1 and html.count('aria-current="page"') == 1  # one group, one lit
    lit = html.split('aria-current="page"')[1].split("</a>")[0]
    assert "代理列表" in lit
    territories = page_text(client.get("/console/agents/territories"))
    assert "广东省 深圳市 南山区" in territories and "440305" in territories
    detail = page_text(client.get(f"/console/agents/{scene.ids['agent_id']}"))
    assert "深圳城市代理" in detail and "138****8002" in detail and "13800138002" not in detail


def test_support_cannot_open_agent_pages_and_finance_only_reads(scene, client):
    assert sign_in(client, "c-support").status_code == 302
    for url in AGENT_PAGES:
        assert client.get(url).status_code == 403, url
    assert "/console/agents" not in page_text(client.get("/console/"))
    assert "console-nav-group" not in page_text(client.get("/console/"))
    client.post("/console/sign-out")
    assert sign_in(client, "c-finance").status_code == 302
    assert client.get("/console/agents").status_code == 200
    assert page_text(client.get("/console/")).count("console-nav-group") == 1  # finance sees the group
    assert client.get("/console/agents/new").status_code == 403
    assert "保存策略" not in page_text(client.get("/console/agent-policy"))
    page = "/console/agent-policy"
    data = {
        "chain_max_depth": "3",
        "grace_periods": "1",
        "protection_periods": "3",
        "fast_track_periods": "2",
        "health_floor": "60",
        "alert_drop": "30",
        "alert_health_below": "60",
    }
    assert post_form(client, page, page, data).status_code == 403


def test_search_by_phone_is_posted_and_filters_are_reported(scene, client):
    assert sign_in(client, "c-agents").status_code == 302
    found = post_form(client, "/console/agents", "/console/agents", {"q": "13800138001"})
    assert found.status_code == 200
    html = page_text(found)
    assert "深圳城市代理" in html and "南山县区代理" not in html
    by_name = page_text(post_form(client, "/console/agents", "/console/agents", {"q": "南山"}))
    assert "南山县区代理" in by_name and "深圳城市代理" not in by_name
    bad = page_text(client.get("/console/agents?status=bogus&region=99&level=x&page=zz"))
    assert bad.count("此筛选条件未生效") == 4  # status, region, level and page, each reported
    assert "440305" in page_text(client.get("/console/agents?region=440305"))


def test_create_edit_and_change_status_with_a_confirmed_reason(app, scene, client):
    assert sign_in(client, "c-agents").status_code == 302
    data = {
        "kind": "person",
        "name": "福田代理",
        "phone": "13800138003",
        "upper_agent_id": "",
        "territory_codes": "440304",
        "contact_name": "",
    }
    created = post_form(client, "/console/agents/new", "/console/agents/new", data)
    assert created.status_code == 302, page_text(created)
    agent_id = count(app, select(Agent.id).where(Agent.name == "福田代理"))
    bad = post_form(client, "/console/agents/new", "/console/agents/new", data | {"territory_codes": "44x"})
    assert bad.status_code == 422
    edit = f"/console/agents/{agent_id}/edit"
    too_deep = post_form(
        client, edit, edit, data | {"phone": "", "upper_agent_id": scene.ids["agent_id"], "upper_reason": "划归南山"}
    )
    assert too_deep.status_code == 200 and "alert-danger" in page_text(too_deep)  # a chain of 3 under depth 2
    assert count(app, select(Agent.upper_agent_id).where(Agent.id == agent_id)) is None
    city_id = count(app, select(Agent.id).where(Agent.name == "深圳城市代理"))
    moved = post_form(client, edit, edit, data | {"phone": "", "upper_agent_id": city_id, "upper_reason": "划归深圳"})
    assert moved.status_code == 302
    assert count(app, select(Agent.upper_agent_id).where(Agent.id == agent_id)) == city_id
    assert "划归深圳" in page_text(client.get(f"/console/agents/{agent_id}"))
    status = f"/console/agents/{agent_id}/status"
    confirm = post_form(client, f"/console/agents/{agent_id}", status, {"status": "active"})
    assert confirm.status_code == 200 and "原因" in page_text(confirm)
    assert count(app, select(Agent.status).where(Agent.id == agent_id)) == "applied"
    empty = post_form(
        client, f"/console/agents/{agent_id}", status, {"status": "active", "confirmed": "yes", "reason": ""}
    )
    assert empty.status_code == 422
    done = post_form(
        client,
        f"/console/agents/{agent_id}",
        status,
        {"status": "active", "confirmed": "yes", "reason": "合同已签", "once": "k-status-1"},
    )
    assert done.status_code == 302
    assert count(app, select(Agent.status).where(Agent.id == agent_id)) == "active"
    refused = post_form(client, f"/console/agents/{agent_id}", status, {"status": "applied"})
    assert refused.status_code == 302
    assert count(app, select(func.count()).select_from(AuditLog).where(AuditLog.object_id == agent_id)) >= 2


def test_level_preview_shows_who_would_move_and_writes_nothing(app, scene, client):
    assert sign_in(client, "c-agents").status_code == 302
    level_id = count(app, select(AgentLevel.id).where(AgentLevel.rank == 1))
    page = f"/console/agent-levels/{level_id}/edit"
    html = page_text(client.get(page))
    assert "青铜" in html
    data = {
        "name": "青铜",
        "badge": "",
        "commission": "8",
        "purchase_discount": "3",
        "combine": "any",
        "min_health_score": "",
        "active_days": "0",
        "preview": "1",
    }
    preview = post_form(client, page, page, data)
    assert preview.status_code == 200
    text = page_text(preview)
    assert "南山县区代理" in text and "深圳城市代理" in text  # with no real condition, every agent qualifies
    with app.app_context():
        level = db.session.get(AgentLevel, level_id)
        assert level.combine == "any" and len(level.conditions) == 2  # unchanged
        db.session.remove()
    saved = post_form(client, page, page, {k: v for k, v in data.items() if k != "preview"} | {"submit": "1"})
    assert saved.status_code == 302
    with app.app_context():
        assert db.session.get(AgentLevel, level_id).conditions == [{"metric": "active_days", "minimum": 0}]
        db.session.remove()


def test_an_evaluation_run_needs_a_confirmation_and_runs_once(app, scene, client):
    assert sign_in(client, "c-agents").status_code == 302
    page, run = "/console/agent-evaluations", "/console/agent-evaluations/run"
    assert post_form(client, page, run, {"period": "2026-13"}).status_code == 422
    period = scene.ids["period"]
    with app.app_context():  # the seeded month not yet evaluated
        db.session.execute(AgentEvaluation.__table__.delete())
        db.session.commit()
    confirm = post_form(client, page, run, {"period": period})
    assert confirm.status_code == 200 and period in page_text(confirm) and "原因" in page_text(confirm)
    assert count(app, select(func.count()).select_from(AgentEvaluation)) == 0
    data = {"period": period, "confirmed": "yes", "reason": "月度考核"}
    assert post_form(client, page, run, data | {"reason": ""}).status_code == 422
    done = post_form(client, page, run, data | {"once": "k-e1"})
    assert done.status_code == 302 and done.headers["Location"].endswith(f"/console/agent-evaluations/{period}")
    assert count(app, select(func.count()).select_from(AgentEvaluation)) == 2
    again = post_form(client, page, run, data | {"once": "k-e2"})  # evaluated again: adds nothing
    assert again.status_code == 302
    assert count(app, select(func.count()).select_from(AgentEvaluation)) == 2
    assert "2" in page_text(client.get(page))
    results = page_text(client.get(f"/console/agent-evaluations/{period}"))
    assert "南山县区代理" in results and "深圳城市代理" in results
    not_ended = post_form(client, page, run, {"period": "2099-01", "confirmed": "yes", "reason": "x", "once": "k3"})
    assert not_ended.status_code == 302 and count(app, select(func.count()).select_from(AgentEvaluation)) == 2
    assert client.get("/console/agent-evaluations/1999-01").status_code == 404
    alerts = page_text(client.get("/console/agent-alerts"))
    assert "南山县区代理" in alerts and "¥5,000.00" in alerts


def test_a_merchants_region_is_picked_province_city_county_and_its_agent_set(app, scene, client):
    from server.models import Merchant, MerchantAgentChange

    assert sign_in(client, "c-admin").status_code == 302
    merchant_id = scene.world.shop_b.merchant.id
    edit = f"/console/merchants/{merchant_id}/edit"
    html = page_text(client.get(edit))
    assert "广东省" in html and "南山区" not in html
    base = {
        "name": "B店",
        "trade": "food",
        "status": "active",
        "earn_rate": "1",
        "max_redeem": "50",
        "region": "",
        "address": "",
        "contact_phone": "",
    }
    cities = post_form(client, edit, edit, base | {"province": "440000", "pick_region": "1"})
    assert cities.status_code == 200 and "深圳市" in page_text(cities)
    counties = post_form(client, edit, edit, base | {"province": "440000", "city": "440300", "pick_region": "1"})
    assert "南山区" in page_text(counties)
    with app.app_context():
        assert db.session.get(Merchant, merchant_id).region_code is None  # picking saves nothing
        db.session.remove()
    mismatch = post_form(client, edit, edit, base | {"province": "110000", "city": "440300", "county": "440305"})
    assert mismatch.status_code == 200 and "is-invalid" in page_text(mismatch)
    data = base | {"province": "440000", "city": "440300", "county": "440305", "agent_id": scene.ids["agent_id"]}
    saved = post_form(client, edit, edit, data | {"agent_reason": "划归南山代理"})
    assert saved.status_code == 302
    with app.app_context():
        merchant = db.session.get(Merchant, merchant_id)
        assert (merchant.region_code, merchant.agent_id) == ("440305", scene.ids["agent_id"])
        change = db.session.scalar(select(MerchantAgentChange).where(MerchantAgentChange.merchant_id == merchant_id))
        assert change.reason == "划归南山代理"
        db.session.remove()
    detail = page_text(client.get(f"/console/merchants/{merchant_id}"))
    assert "广东省 深圳市 南山区" in detail and "南山县区代理" in detail
    again = page_text(client.get(edit))
    assert re.search(r'<option selected value="440305">', again) or 'value="440305" selected' in again


def test_an_alert_is_acknowledged_once_with_a_reason(app, scene, client):
    from server.models import AgentAlert

    assert sign_in(client, "c-agents").status_code == 302
    url = "/console/agent-alerts/aal_console_seed/acknowledge"
    confirm = post_form(client, "/console/agent-alerts", url, {})
    assert confirm.status_code == 200 and "原因" in page_text(confirm)
    assert post_form(client, "/console/agent-alerts", url, {"confirmed": "yes", "reason": ""}).status_code == 422
    done = post_form(client, "/console/agent-alerts", url, {"confirmed": "yes", "reason": "已电话回访", "once": "k-a1"})
    assert done.status_code == 302
    with app.app_context():
        alert = db.session.get(AgentAlert, "aal_console_seed")
        assert alert.acknowledged_reason == "已电话回访" and alert.acknowledged_by.startswith("staff:")
        db.session.remove()
    again = post_form(client, "/console/agent-alerts", url, {"confirmed": "yes", "reason": "再次", "once": "k-a2"})
    assert again.status_code == 302
    assert "此预警已确认处理" in page_text(client.get("/console/agent-alerts"))
    assert "已电话回访" in page_text(client.get("/console/agent-alerts?state=acknowledged"))
    assert "南山县区代理" not in page_text(client.get("/console/agent-alerts?state=open"))
    client.post("/console/sign-out")
    assert sign_in(client, "c-finance").status_code == 302
    assert post_form(client, "/console/agent-alerts", url, {"confirmed": "yes", "reason": "x"}).status_code == 403


def test_the_agent_list_and_a_months_results_export_as_csv_and_xlsx(scene, client):
    import csv
    import io

    from openpyxl import load_workbook

    assert sign_in(client, "c-finance").status_code == 302
    response = client.get("/console/agents.csv?status=active")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:3] == ["名称", "类型", "手机号"]
    assert {row[0] for row in rows[1:]} == {"深圳城市代理", "南山县区代理"}
    assert all("13800138" not in cell for row in rows for cell in row[2:3] if "****" not in cell)
    period = scene.ids["period"]
    results = client.get(f"/console/agent-evaluations/{period}/results.xlsx")
    assert results.status_code == 200
    sheet = load_workbook(io.BytesIO(results.data)).active
    values = list(sheet.values)
    assert values[0][0] == "代理" and len(values) == 3
    assert client.get("/console/agent-evaluations/1999-01/results.csv").status_code == 404


def test_the_policy_is_saved_within_the_law_and_a_shallower_chain_than_exists_is_refused(app, scene, client):
    from server.models import AgentPolicy

    assert sign_in(client, "c-agents").status_code == 302
    page = "/console/agent-policy"
    html = page_text(client.get(page))
    assert "禁止传销条例" in html and "不收取任何费用" in html
    data = {
        "chain_max_depth": "3",
        "grace_periods": "2",
        "protection_periods": "3",
        "fast_track_periods": "2",
        "health_floor": "65",
        "alert_drop": "25",
        "alert_health_below": "55",
    }
    assert post_form(client, page, page, data).status_code == 302
    with app.app_context():
        policy = db.session.get(AgentPolicy, 1)
        assert (policy.chain_max_depth, policy.grace_periods, policy.alert_drop_bp) == (3, 2, 2_500)
        db.session.remove()
    assert post_form(client, page, page, data | {"chain_max_depth": "4"}).status_code == 422
    refused = post_form(client, page, page, data | {"chain_max_depth": "1"})  # 深圳 → 南山 is 2 deep
    assert refused.status_code == 200 and "alert-danger" in page_text(refused)
    assert count(app, select(AgentPolicy.chain_max_depth)) == 3
