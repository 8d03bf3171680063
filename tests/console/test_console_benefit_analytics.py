"""The benefit analytics pages: the summary by group and the retention cohorts render in Chinese with their
figures, the CSV downloads hold the same rows; in Chromium at phone (390 px) and desk (1366 px) width with
the charts (screenshots: test-artifacts/console-benefit-*.png)."""

from __future__ import annotations

import csv
import io

import pytest

from server.extensions import db
from server.services import staff
from tests.benefits.analytics_support import build_analytics_data
from tests.browser import save_screenshot
from tests.builders import ACTOR
from tests.conftest import wipe
from tests.console.support import PASSWORD, page_text, sign_in
from tests.console.test_console_chinese import untranslated
from tests.console.test_console_layout_browser import LAYOUT_PROBLEMS
from tests.live_server import live_server

RETENTION = "/console/benefits/retention?from=2025-12&to=2026-03"


def _build(app) -> None:
    with app.app_context():
        build_analytics_data()
        staff.create_staff_user(ACTOR, "c-analyst", "benefits_manager", PASSWORD)
        db.session.commit()
        db.session.remove()


def _csv(response) -> list[list[str]]:
    assert response.status_code == 200 and response.mimetype == "text/csv"
    return list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))


def test_the_pages_show_the_figures_and_the_csv_holds_the_rows(app, client):
    _build(app)
    sign_in(client, "c-analyst")
    html = page_text(client.get("/console/benefits/analytics?group_by=channel&from=2026-01-01&to=2026-03-31"))
    assert "权益分析" in html and "批量发放" in html and "<svg" in html
    rows = _csv(client.get("/console/benefits/analytics.csv?group_by=channel&from=2026-01-01&to=2026-03-31"))
    assert rows == [
        ["分组", "已发放", "已领取", "已核销", "已过期", "发放后已核销", "成本（元）", "核销率"],
        ["批量发放", "6", "6", "1", "1", "1", "0.00", "16.66%"],
    ]
    html = page_text(client.get(RETENTION))
    assert "2026-01" in html and "-25%" in html and "25%" in html and html.count("<svg") == 4
    rows = _csv(client.get(RETENTION.replace("retention?", "retention.csv?")))
    assert rows[0][:3] == ["批次（首次获得权益的月份）", "回访期（天）", "获权益会员"]
    january = [row for row in rows[1:] if row[0] == "2026-01"]
    assert [(r[1], r[2], r[10], r[13], r[14]) for r in january] == [
        ("30", "5", "25.00%", "50.00%", "-25.00%"),
        ("60", "5", "50.00%", "50.00%", "0.00%"),
        ("90", "5", "75.00%", "50.00%", "25.00%"),
    ]
    assert len(rows) == 1 + 4 * 3  # December to March, three horizons each
    english = client.get(RETENTION + "&lang=en")
    assert "Benefit retention" in page_text(english) and "Uplift" in page_text(english)


@pytest.fixture(scope="module")
def site(database, browser):
    app = database.make_app()
    _build(app)
    with live_server(app) as base_url:
        yield app, base_url
    wipe(app)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("width", [390, 1366])
def test_the_charts_fit_at_phone_and_desk_width(site, browser, width):
    _app, base_url = site
    context = browser.new_context(viewport={"width": width, "height": 844 if width < 768 else 900}, locale="zh-CN")
    page = context.new_page()
    page.goto(f"{base_url}/console/sign-in")
    page.fill("#username", "c-analyst")
    page.fill("#password", PASSWORD)
    page.click("#submit")
    page.wait_for_url(f"{base_url}/console/")
    for url, name in (
        (RETENTION, "retention"),
        ("/console/benefits/analytics?group_by=sku&from=2026-01-01&to=2026-03-31", "analytics"),
    ):
        page.goto(base_url + url)
        assert page.locator(".chart-card svg").count() == (4 if name == "retention" else 1)
        assert page.evaluate(LAYOUT_PROBLEMS) == [], name
        assert untranslated(page.content()) == [], name
        save_screenshot(page, f"console-benefit-{name}-{width}")
    context.close()
