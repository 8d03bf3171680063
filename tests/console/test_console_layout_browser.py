"""Every console page in Chromium at phone width (390 px) and desk width (1366 px): nothing wider than the
screen, the menu folded behind its button on a phone, tables that scroll inside their card, totals whole,
exactly one menu entry lit; and a destructive action confirmed with a reason. Screenshots of every page go
to test-artifacts/console-<page>-390.png and -1366.png.
"""

from __future__ import annotations

import re

import pytest

from tests.browser import save_screenshot
from tests.conftest import wipe
from tests.console.support import PASSWORD, build_console_world, every_console_page, seed_every_kind_of_object
from tests.live_server import live_server

pytestmark = pytest.mark.timeout(300)
WIDTHS = (390, 1366)

# Checks run in the page: what overflows the screen, which cells wrap into a column of single characters,
# which totals are wider than their box.
LAYOUT_PROBLEMS = """() => {
  const problems = [];
  const page = document.scrollingElement;
  if (page.scrollWidth > window.innerWidth) problems.push(`page ${page.scrollWidth}px wide`);
  for (const cell of document.querySelectorAll('td, th, .btn, h1, h2, dd, label')) {
    const text = cell.innerText.trim();
    const rects = [];  // the boxes of the cell's text, line by line
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) {
      const range = document.createRange();
      range.selectNodeContents(walker.currentNode);
      rects.push(...[...range.getClientRects()].filter(rect => rect.width > 0));
    }
    rects.sort((a, b) => a.top - b.top);
    let lines = 0, bottom = -Infinity;
    for (const rect of rects) {
      if (rect.top >= bottom - 2) { lines += 1; bottom = rect.bottom; } else bottom = Math.max(bottom, rect.bottom);
    }
    if (text.length >= 2 && lines >= 2 && lines >= text.length / 2) problems.push(`wraps into a column: ${text}`);
  }
  for (const total of document.querySelectorAll('.stat-value')) {
    if (total.scrollWidth > total.clientWidth + 1) problems.push(`total cut: ${total.innerText}`);
  }
  return problems;
}"""


@pytest.fixture(scope="module")
def site(database, browser):
    app = database.make_app()
    client = app.test_client()
    scene = build_console_world(app, client)
    ids = seed_every_kind_of_object(app, client, scene)
    with live_server(app) as base_url:
        yield app, scene, ids, base_url
    wipe(app)


def _signed_in(browser, base_url: str, width: int):
    context = browser.new_context(viewport={"width": width, "height": 844 if width < 768 else 900}, locale="zh-CN")
    page = context.new_page()
    page.goto(f"{base_url}/console/sign-in")
    page.fill("#username", "c-admin")
    page.fill("#password", PASSWORD)
    page.click("#submit")
    page.wait_for_url(f"{base_url}/console/")
    return context, page


def _name(url: str) -> str:
    """A file name for a page: /console/cards/crd_x/lost → cards-detail-lost."""
    parts = [part for part in url.split("?")[0].split("/")[2:] if part]
    words = ["detail" if re.match(r"^[a-z]{3}_[\w-]+$|^\d", part) else part for part in parts]
    return "-".join(words) or "dashboard"


@pytest.mark.parametrize("width", WIDTHS)
def test_every_console_page_fits_the_screen(site, browser, width):
    app, scene, ids, base_url = site
    context, page = _signed_in(browser, base_url, width)
    problems = {}
    for url in every_console_page(app, ids):
        response = page.goto(base_url + url)
        assert response.status == 200, url
        if found := page.evaluate(LAYOUT_PROBLEMS):
            problems[url] = found
        active = page.locator(".console-nav .nav-link.active")
        assert active.count() == 1, url
        menu_button = page.locator(".console-menu-button")
        if width < 768:
            assert menu_button.is_visible() and not active.is_visible(), url  # the menu is folded away
        else:
            assert not menu_button.is_visible() and active.is_visible(), url
        save_screenshot(page, f"console-{_name(url)}-{width}")
    context.close()
    assert problems == {}


def test_the_phone_menu_opens_and_closes_with_its_button(site, browser):
    app, scene, ids, base_url = site
    context, page = _signed_in(browser, base_url, 390)
    page.goto(f"{base_url}/console/ledger")
    menu = page.locator("#console-menu")
    assert not menu.is_visible()
    box = page.locator(".console-nav").bounding_box()
    assert box["height"] < 80  # a bar above the page, not a column beside it
    page.click(".console-menu-button")
    assert menu.is_visible()
    save_screenshot(page, "console-menu-open-390", full_page=False)
    page.click(".console-menu-button")
    assert not menu.is_visible()
    page.click(".console-menu-button")
    page.click("#console-menu >> text=会员卡")
    page.wait_for_url(f"{base_url}/console/cards")
    assert not page.locator("#console-menu").is_visible()  # folded again on the next page
    context.close()


def test_cancelling_a_card_asks_for_confirmation_and_a_reason(site, browser):
    app, scene, ids, base_url = site
    context, page = _signed_in(browser, base_url, 390)
    page.goto(f"{base_url}/console/cards/{ids['card_id']}")
    actions = page.locator(".card-actions a")
    assert actions.all_inner_texts() == ["解冻", "注销卡"]  # the card is lost: no 挂失, no 冻结
    page.click(".card-actions >> text=注销卡")
    assert page.locator("h1").inner_text().startswith("注销卡")
    page.click("#confirm")  # no reason: refused, nothing changed
    assert page.locator(".invalid-feedback").is_visible()
    save_screenshot(page, "console-confirm-cancel-390")
    page.fill("#reason", "会员要求注销")
    page.click("#confirm")
    page.wait_for_url(f"{base_url}/console/cards/{ids['card_id']}")
    assert "已注销" in page.locator("h1").inner_text()
    assert page.locator(".card-actions").count() == 0
    page.goto(f"{base_url}/console/audit")
    sentence = page.locator(".audit-sentence").first.inner_text()
    assert re.fullmatch(r"管理员 c-admin 将卡 \d+ 注销（原因：会员要求注销）", sentence), sentence
    save_screenshot(page, "console-audit-after-cancel-390")
    context.close()
