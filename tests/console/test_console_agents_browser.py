"""The agent pages in Chromium at phone width (390 px) and desk width (1366 px), as an agent manager uses them
(issue 16 item 8): every agent page fits the screen and shows no English, the 代理 menu highlights one entry,
a status change goes through its confirmation, a level preview shows who would move. Screenshots go to
test-artifacts/console-agents-*.png."""

from __future__ import annotations

import pytest

from server.extensions import db
from server.services import staff
from tests.builders import ACTOR
from tests.conftest import wipe
from tests.console.support import PASSWORD, build_console_world, seed_agents
from tests.console.test_console_cards_browser import _check, _signed_in
from tests.live_server import live_server

pytestmark = pytest.mark.timeout(300)
WIDTHS = (390, 1366)


@pytest.fixture(scope="module")
def site(database, browser):
    app = database.make_app()
    client = app.test_client()
    scene = build_console_world(app, client)
    with app.app_context():
        scene.ids = seed_agents(scene)
        staff.create_staff_user(ACTOR, "c-agents", "agent_manager", PASSWORD)
        db.session.remove()
    with live_server(app) as base_url:
        yield app, scene, base_url
    wipe(app)


def _pages(scene) -> dict[str, str]:
    ids = scene.ids
    return {
        "list": "/console/agents",
        "detail": f"/console/agents/{ids['agent_id']}",
        "new": "/console/agents/new",
        "edit": f"/console/agents/{ids['agent_id']}/edit",
        "tree": "/console/agents/tree",
        "territories": "/console/agents/territories",
        "levels": "/console/agent-levels",
        "level-edit": f"/console/agent-levels/{ids['agent_level_id']}/edit",
        "evaluations": "/console/agent-evaluations",
        "period": f"/console/agent-evaluations/{ids['period']}",
        "alerts": "/console/agent-alerts",
        "policy": "/console/agent-policy",
    }


@pytest.mark.parametrize("width", WIDTHS)
def test_every_agent_page_fits_and_speaks_chinese(site, browser, width):
    app, scene, base_url = site
    context, page = _signed_in(browser, base_url, width, "c-agents")
    try:
        for name, url in _pages(scene).items():
            response = page.goto(base_url + url)
            assert response.status == 200, url
            _check(page, f"console-agents-{name}-{width}")
            assert page.locator("a.nav-link[aria-current='page']").count() == 1, url  # one menu entry lit
    finally:
        context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_a_status_change_is_confirmed_with_a_reason_and_a_preview_writes_nothing(site, browser, width):
    app, scene, base_url = site
    context, page = _signed_in(browser, base_url, width, "c-agents")
    try:
        page.goto(f"{base_url}/console/agents/new")
        page.fill("#name", f"宝安代理{width}")
        page.fill("#phone", f"1370000{width:04d}")
        page.fill("#territory_codes", "440306" if width == 390 else "440307")
        page.click("#submit")
        page.wait_for_selector("text=已登记代理")
        page.select_option("select[name=status]", "active")
        page.click('form[action$="/status"] button')
        page.wait_for_selector("#reason")
        _check(page, f"console-agents-status-confirm-{width}")
        page.fill("#reason", "合同已签")
        page.click("#confirm")
        page.wait_for_selector("text=现为“正常”")
        _check(page, f"console-agents-status-done-{width}")
        page.goto(f"{base_url}/console/agent-levels/{scene.ids['agent_level_id']}/edit")
        page.click("#preview")
        page.wait_for_selector(".level-preview")
        _check(page, f"console-agents-level-preview-{width}")
    finally:
        context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_admin_picks_a_merchants_region_and_agent_and_acknowledges_an_alert(site, browser, width):
    app, scene, base_url = site
    context, page = _signed_in(browser, base_url, width, "c-admin")
    try:
        merchant_id = scene.world.shop_b.merchant.id
        page.goto(f"{base_url}/console/merchants/{merchant_id}/edit")
        page.select_option("#province", "440000")
        page.click("#pick_region")
        page.select_option("#city", "440300")
        page.click("#pick_region")
        page.select_option("#county", "440305" if width == 390 else "440304")
        page.select_option("#agent_id", scene.ids["agent_id"])
        page.fill("#agent_reason", "划归南山代理")
        _check(page, f"console-agents-merchant-form-{width}")
        page.click("#submit")
        page.wait_for_url(f"{base_url}/console/merchants/{merchant_id}")
        assert "南山县区代理" in page.content() and "广东省 深圳市" in page.content()
        _check(page, f"console-agents-merchant-page-{width}")
        if width == 390:  # the seeded alert, once
            page.goto(f"{base_url}/console/agent-alerts")
            page.click("text=确认处理")
            page.fill("#reason", "已电话回访")
            page.click("#confirm")
            page.wait_for_selector("text=预警已确认处理")
            assert "已电话回访" in page.content()
            _check(page, "console-agents-alert-acknowledged-390")
    finally:
        context.close()
