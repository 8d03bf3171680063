"""Reviewing anti-brushing flags in Chromium at phone width (390 px) and desk width (1366 px): the list of
flags to review, a flag with its held sales, the confirmation with a reason. Each page fits the screen and
shows no English; screenshots go to test-artifacts/console-brushing-*.png."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import update

from server.extensions import db
from server.models import Sale
from server.services import agents, brushing, catalog
from tests.browser import save_screenshot
from tests.builders import ACTOR, next_phone
from tests.conftest import wipe
from tests.console.support import PASSWORD, build_console_world
from tests.console.test_console_chinese import untranslated
from tests.console.test_console_layout_browser import LAYOUT_PROBLEMS
from tests.live_server import live_server

pytestmark = pytest.mark.timeout(300)
WIDTHS = (390, 1366)


@pytest.fixture(scope="module")
def site(database, browser):
    app = database.make_app()
    client = app.test_client()
    scene = build_console_world(app, client)
    with app.app_context():
        agent = agents.create_agent(ACTOR, kind="company", name="南山区代理公司", phone=next_phone())
        agents.update_agent(ACTOR, agent.id, status="active", status_reason="签约")
        shops = [shop.merchant.id for shop in (scene.world.shop_a, scene.world.shop_b)]
        for merchant_id in shops:
            catalog.update_merchant(ACTOR, merchant_id, agent_id=agent.id)
        # the scene's sales were made before the agent signed: as if it had serviced the shops all along
        db.session.execute(update(Sale).where(Sale.merchant_id.in_(shops)).values(servicing_agent_id=agent.id))
        db.session.commit()
        rule = next(rule for rule in brushing.list_rules() if rule.code == "round_amounts")
        brushing.update_rule(ACTOR, rule.id, parameters={"min_amount_fen": 100, "multiple_fen": 100, "min_count": 1})
        assert brushing.detect_brushing(ACTOR, datetime.now(UTC).date())["flagged"] == 2
        db.session.remove()
    with live_server(app) as base_url:
        yield app, scene, base_url
    wipe(app)


def _signed_in(browser, base_url: str, width: int, username: str):
    context = browser.new_context(viewport={"width": width, "height": 844 if width < 768 else 900}, locale="zh-CN")
    page = context.new_page()
    page.goto(f"{base_url}/console/sign-in")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#submit")
    page.wait_for_url(f"{base_url}/console/")
    return context, page


def _check(page, name: str) -> None:
    assert page.evaluate(LAYOUT_PROBLEMS) == [], name
    assert untranslated(page.content()) == [], name
    save_screenshot(page, name)


@pytest.mark.parametrize(
    ("width", "action", "button", "done"),
    [(390, "confirm", "确认刷单", "已确认刷单"), (1366, "clear", "解除标记", "已解除")],
)
def test_review_a_flag_with_a_reason(site, browser, width, action, button, done):
    _app, _scene, base_url = site
    context, page = _signed_in(browser, base_url, width, "c-admin")
    page.goto(f"{base_url}/console/brushing-flags")
    body = page.inner_text("main") if page.locator("main").count() else page.inner_text("body")
    assert "大额整数金额" in body and "南山区代理公司" in body and "待审核" in body
    _check(page, f"console-brushing-list-{width}")
    page.click("table a >> nth=0")
    page.wait_for_url(re.compile(r".*/console/brushing-flags/brf_[\w-]+$"))
    assert "暂扣的交易" in page.inner_text("body")
    _check(page, f"console-brushing-flag-{width}")
    page.click(f"a:has-text('{button}')")
    page.wait_for_url(re.compile(rf".*/{action}$"))
    _check(page, f"console-brushing-{action}-{width}")
    page.click("#confirm")  # no reason: refused on the page
    assert page.locator(".invalid-feedback, .is-invalid").count() > 0
    page.fill("#reason", "核实收银记录后处理")
    page.click("#confirm")
    page.wait_for_selector(".alert-success")
    assert done in page.inner_text("body") and "核实收银记录后处理" in page.inner_text("body")
    _check(page, f"console-brushing-reviewed-{width}")
    context.close()
