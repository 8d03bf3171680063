"""The benefit pages in Chromium at phone width (390 px) and desk width (1366 px): stock alerts (acknowledged
from the list) and a supplier's reconciliation. Each page fits the screen and shows no English; screenshots go
to test-artifacts/console-benefits-*.png."""

from __future__ import annotations

import pytest

from server.extensions import db
from server.services import staff
from tests.browser import save_screenshot
from tests.builders import ACTOR
from tests.conftest import wipe
from tests.console.support import PASSWORD, build_console_world, seed_every_kind_of_object
from tests.console.test_console_chinese import untranslated
from tests.console.test_console_layout_browser import LAYOUT_PROBLEMS
from tests.live_server import live_server

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def site(database, browser):
    app = database.make_app()
    client = app.test_client()
    scene = build_console_world(app, client)
    seed_every_kind_of_object(app, client, scene)
    with app.app_context():
        staff.create_staff_user(ACTOR, "c-benefits", "benefits_manager", PASSWORD)
        db.session.commit()
        db.session.remove()
    with live_server(app) as base_url:
        yield app, base_url
    wipe(app)


def _signed_in(browser, base_url: str, width: int):
    context = browser.new_context(viewport={"width": width, "height": 844 if width < 768 else 900}, locale="zh-CN")
    page = context.new_page()
    page.goto(f"{base_url}/console/sign-in")
    page.fill("#username", "c-benefits")
    page.fill("#password", PASSWORD)
    page.click("#submit")
    page.wait_for_url(f"{base_url}/console/")
    return context, page


def _check(page, name: str) -> None:
    assert page.evaluate(LAYOUT_PROBLEMS) == [], name
    assert untranslated(page.content()) == [], name
    save_screenshot(page, name)


@pytest.mark.parametrize("width", [390, 1366])
def test_alerts_and_reconciliation_fit_and_read_in_chinese(site, browser, width):
    _app, base_url = site
    context, page = _signed_in(browser, base_url, width)
    page.goto(f"{base_url}/console/benefits/alerts")
    body = page.inner_text("main")
    assert "库存不足" in body and "视频月卡" in body
    _check(page, f"console-benefits-alerts-{width}")
    page.goto(f"{base_url}/console/benefits/reconciliation")
    assert "华夏卡券" in page.inner_text("main") and "应付金额" in page.inner_text("main")
    _check(page, f"console-benefits-reconciliation-{width}")
    if width == 1366:  # acknowledge the alert from the list: it leaves the open list
        page.goto(f"{base_url}/console/benefits/alerts")
        buttons = page.locator("button:has-text('确认处理')")
        open_before = buttons.count()
        assert open_before == 2  # low stock and near expiry
        buttons.first.click()
        page.wait_for_selector(".alert-success")
        assert page.locator("button:has-text('确认处理')").count() == open_before - 1
    context.close()
