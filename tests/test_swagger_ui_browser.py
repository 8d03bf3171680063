"""The API documentation renders in a real browser from the locally served Swagger UI assets."""

from __future__ import annotations

from tests.browser import save_screenshot
from tests.live_server import live_server


def test_swagger_ui_renders_the_api(app, browser):
    with live_server(app) as base_url:
        page = browser.new_page()
        errors = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{base_url}/api/v1/docs")
        page.wait_for_selector("text=AllianceCard API")
        page.get_by_text("/api/v1/sales/quote", exact=True).first.wait_for()
        save_screenshot(page, "swagger-ui")
        page.close()
    assert errors == []
