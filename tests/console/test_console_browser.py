"""The console in headless Chromium: sign in, every page renders cleanly, the main tasks, screenshots.

One live server and one browser context per role for the whole module (the data is built once).
"""

from __future__ import annotations

import re
import subprocess
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select, update

from server.extensions import db
from server.models import Refund, Sale, Settlement
from server.services import catalog, settlement
from tests.browser import ARTIFACTS_DIR, save_screenshot
from tests.builders import ACTOR
from tests.conftest import wipe
from tests.console.support import PASSWORD, build_console_world
from tests.live_server import identify, live_server, next_key

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def site(database, browser):
    """A console app on the test database with a world and a month of sales, served over HTTP."""
    app = database.make_app()
    client = app.test_client()
    scene = build_console_world(app, client)
    _a_month_of_sales(app, client, scene)
    with live_server(app) as base_url:
        yield app, scene, base_url
    wipe(app)


def _a_month_of_sales(app, client, scene) -> None:
    """Sales spread over the last days, so the charts and the settlement have something to show."""
    shops = (scene.world.shop_a, scene.world.shop_b)
    for n in range(24):
        shop = shops[n % 2]
        token = identify(client, shop.auth, code=scene.card.card_no)
        body = {"identification_token": token, "amount_fen": 3_000 + 1_700 * (n % 7), "redeem_points": 20 * (n % 3)}
        response = client.post("/api/v1/sales", json=body, headers={**shop.auth, "Idempotency-Key": next_key()})
        assert response.status_code == 201, response.json
        with app.app_context():
            sale = db.session.get(Sale, response.json["sale"]["id"])
            earlier = timedelta(days=n + 1)  # recorded then too, so the days can be settled
            db.session.execute(
                update(Sale)
                .where(Sale.id == sale.id)
                .values(occurred_at=sale.occurred_at - earlier, created_at=sale.created_at - earlier)
            )
            db.session.commit()
            db.session.remove()


class PageWatcher:
    """Collects console errors, uncaught page errors and failed responses of a page."""

    def __init__(self, page):
        self.problems: list[str] = []
        page.on("console", lambda msg: msg.type == "error" and self.problems.append(f"console: {msg.text}"))
        page.on("pageerror", lambda exc: self.problems.append(f"pageerror: {exc}"))
        page.on("response", lambda r: r.status >= 400 and self.problems.append(f"{r.status} {r.url}"))

    def check(self):
        problems, self.problems = self.problems, []
        assert problems == []


def _signed_in(browser, base_url: str, username: str):
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    page = context.new_page()
    watcher = PageWatcher(page)
    page.goto(f"{base_url}/console/")
    assert "/console/sign-in" in page.url
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#submit")
    page.wait_for_url(f"{base_url}/console/")
    return context, page, watcher


@pytest.fixture(scope="module")
def admin(site, browser):
    app, scene, base_url = site
    context, page, watcher = _signed_in(browser, base_url, "c-admin")
    yield page, watcher
    context.close()


@pytest.fixture(scope="module")
def owner(site, browser):
    app, scene, base_url = site
    context, page, watcher = _signed_in(browser, base_url, "c-owner-a")
    yield page, watcher
    context.close()


def test_every_page_in_the_navigation_renders_cleanly(site, admin):
    app, scene, base_url = site
    page, watcher = admin
    links = page.eval_on_selector_all(".console-nav .nav-link", "els => els.map(e => e.getAttribute('href'))")
    assert len(links) >= 10
    for href in links:
        response = page.goto(base_url + href)
        assert response.status == 200, href
        assert page.locator("h1").first.is_visible()
        watcher.check()
    page.goto(f"{base_url}/console/")
    assert page.locator(".chart-card svg").count() == 5
    assert page.locator("text=每日会员销售额（扣除退款）").count() >= 1
    save_screenshot(page, "console-dashboard")
    for name, url in (
        ("merchants", "/console/merchants"),
        ("merchant", f"/console/merchants/{scene.world.shop_a.merchant.id}"),
        ("poster", f"/console/merchants/{scene.world.shop_a.merchant.id}/poster"),
        ("sales", "/console/sales"),
        ("ledger", "/console/ledger"),
        ("levels", "/console/levels"),
        ("audit", "/console/audit"),
        ("staff", "/console/staff"),
        ("alliance", "/console/alliance"),
    ):
        assert page.goto(base_url + url).status == 200
        save_screenshot(page, f"console-{name}")
    page.goto(f"{base_url}/console/?lang=en")
    assert page.locator("h1").first.inner_text().endswith("Dashboard")
    save_screenshot(page, "console-dashboard-en")
    page.goto(f"{base_url}/console/?lang=zh")
    watcher.check()


def test_admin_creates_a_merchant_and_a_terminal_whose_token_is_shown_once(site, admin):
    app, scene, base_url = site
    page, watcher = admin
    page.goto(f"{base_url}/console/merchants/new")
    page.fill("#name", "街角咖啡")
    page.select_option("#trade", "food")
    page.fill("#region", "光明路")
    page.fill("#earn_rate", "2")
    page.fill("#max_redeem", "40")
    page.click("#submit")
    page.wait_for_url(re.compile(r".*/console/merchants/mer_[^/]+$"))
    assert page.locator("h1").inner_text().startswith("街角咖啡")
    page.fill("#terminals input[name=name]", "吧台")
    page.click("#terminals input[type=submit]")
    token = page.locator("#terminal-token").inner_text().strip()
    assert token.startswith("tt_")
    save_screenshot(page, "console-terminal-token")
    page.reload()  # a resubmitted form replays: the token is not shown again
    assert page.locator("#terminal-token").count() == 0
    page.go_back()
    watcher.check()


def test_support_finds_a_member_and_reveals_the_phone(site, browser):
    app, scene, base_url = site
    context, page, watcher = _signed_in(browser, base_url, "c-support")
    page.goto(f"{base_url}/console/members")
    page.fill("input[name=q]", scene.card.card_no)
    page.click("form[role=search] button")
    page.click("text=赵敏")
    assert page.locator("text=139****5678").count() == 1
    assert page.locator("text=13912345678").count() == 0
    page.fill(".reveal-form input[name=reason]", "会员来电核对身份")  # the reason is audited
    page.click(".reveal-form [type=submit]")
    assert page.locator("#full-phone").inner_text() == "13912345678"
    save_screenshot(page, "console-member")
    watcher.check()
    context.close()


def test_finance_refunds_a_sale_with_a_reason(site, browser):
    app, scene, base_url = site
    context, page, watcher = _signed_in(browser, base_url, "c-finance")
    page.goto(f"{base_url}/console/sales/{scene.sale_id}")
    page.fill("#amount", "20.00")
    page.fill("#reason", "顾客退菜")
    page.click(".refund-form input[type=submit]")
    assert page.locator("h1").inner_text() == "退款 ¥20.00"  # a confirmation step, the reason carried over
    assert page.input_value("#reason") == "顾客退菜"
    with app.app_context():
        assert db.session.scalar(select(Refund).where(Refund.sale_id == scene.sale_id)) is None
        db.session.remove()
    save_screenshot(page, "console-refund-confirm")
    page.click("#confirm")
    page.wait_for_url(f"{base_url}/console/sales/{scene.sale_id}")
    assert page.locator("text=退款已记录。").count() == 1
    assert page.locator("td", has_text="顾客退菜").count() == 1
    save_screenshot(page, "console-sale-refunded")
    with app.app_context():
        refund = db.session.scalar(select(Refund).where(Refund.sale_id == scene.sale_id))
        assert (refund.amount_fen, refund.reason) == (2_000, "顾客退菜")
        db.session.remove()
    watcher.check()
    context.close()


def test_an_owner_sees_their_shop_and_cannot_reach_another_by_editing_urls(site, owner):
    app, scene, base_url = site
    page, watcher = owner
    page.goto(f"{base_url}/console/")
    assert scene.world.shop_a.merchant.name in page.locator("h1").inner_text()
    save_screenshot(page, "console-owner-dashboard")
    page.click(".console-nav >> text=我的店铺")
    assert page.url.endswith(f"/console/merchants/{scene.world.shop_a.merchant.id}")
    watcher.check()
    other = scene.world.shop_b.merchant.id
    for url in (
        f"/console/merchants/{other}",
        f"/console/sales/{scene.other_sale_id}",
        f"/console/merchants/{other}/poster",
    ):
        assert page.goto(base_url + url).status == 404
        assert page.locator("text=这里什么也没有。").count() == 1
    assert page.goto(f"{base_url}/console/members").status == 403
    save_screenshot(page, "console-owner-refused")
    page.goto(f"{base_url}/console/sales?merchant_id={other}")
    assert page.locator(f"a[href='/console/sales/{scene.other_sale_id}']").count() == 0
    watcher.problems.clear()  # the 404/403 responses above were the point


def test_a_post_without_the_csrf_token_is_refused_in_the_browser(site, owner):
    app, scene, base_url = site
    page, watcher = owner
    status = page.evaluate(
        """async (url) => (await fetch(url, {method: 'POST', body: new URLSearchParams({reason: 'x'})})).status""",
        f"{base_url}/console/sales/{scene.sale_id}/refunds",
    )
    assert status == 400
    watcher.problems.clear()
    with app.app_context():
        assert db.session.scalar(select(Refund).where(Refund.reason == "x")) is None
        db.session.remove()


def test_lock_out_after_repeated_failures(site, browser):
    app, scene, base_url = site
    context = browser.new_context()
    page = context.new_page()
    for _ in range(5):
        page.goto(f"{base_url}/console/sign-in")
        page.fill("#username", "c-cashier-b")
        page.fill("#password", "not the password")
        page.click("#submit")
    assert page.locator(".alert-danger").inner_text().startswith("登录失败次数过多")
    page.fill("#username", "c-cashier-b")
    page.fill("#password", PASSWORD)
    page.click("#submit")
    assert "/console/sign-in" in page.url
    save_screenshot(page, "console-locked")
    context.close()


def test_settlement_statement_and_reports_render_cleanly(site, browser):
    app, scene, base_url = site
    context, page, watcher = _signed_in(browser, base_url, "c-finance")
    page.goto(f"{base_url}/console/settlements")
    page.fill("#business_day", (date.today() - timedelta(days=40)).isoformat())  # before the first sale: a quiet day
    page.click(".close-day-form input[type=submit]")
    assert page.locator(".alert-success").count() == 1
    with app.app_context():
        closed = settlement.close_through(ACTOR, settlement.current_business_day() - timedelta(days=1))
        rows = db.session.scalar(select(func.count()).where(Settlement.business_day >= closed[0]))
        db.session.remove()
    assert len(closed) >= 20
    first, last = closed[0].isoformat(), closed[-1].isoformat()
    page.goto(f"{base_url}/console/settlements?from={first}&to={last}")
    assert page.locator("tbody tr").count() == rows >= 2 * len(closed)
    assert page.locator("tfoot").inner_text().startswith("合计")
    save_screenshot(page, "console-settlement")
    page.click(f"tbody tr:has-text('{scene.world.shop_a.merchant.name}') >> nth=-1 >> a")
    assert page.locator("h1").inner_text().startswith("对账单")
    assert page.locator(".statement-lines tbody tr").count() >= 1
    save_screenshot(page, "console-settlement-statement")
    page.goto(f"{base_url}/console/settlements/reconciliation?day={last}")
    assert page.locator(".reconciliation-result").inner_text().strip().endswith("全部一致。")
    save_screenshot(page, "console-settlement-reconciliation")
    for name in ("merchants", "days", "levels", "points"):
        assert page.goto(f"{base_url}/console/reports/{name}").status == 200
        assert page.locator("h1").inner_text() == "报表"
        save_screenshot(page, f"console-reports-{name}")
    page.goto(f"{base_url}/console/reports/days")
    assert page.locator(".chart-card svg").count() == 1
    watcher.check()
    context.close()


def test_an_owner_sees_only_their_own_settlements(site, owner):
    app, scene, base_url = site
    page, watcher = owner
    page.goto(f"{base_url}/console/settlements")
    assert page.locator(".close-day-form").count() == 0
    assert page.locator(f"td:has-text('{scene.world.shop_b.merchant.name}')").count() == 0
    page.goto(f"{base_url}/console/reports/merchants")
    assert page.locator(f"td:has-text('{scene.world.shop_b.merchant.name}')").count() == 0
    save_screenshot(page, "console-reports-owner")
    watcher.check()


def _at_widths(page, name: str, check) -> None:
    """Run ``check`` on the page at desk (1366 px) and phone (390 px) width, with a screenshot of each."""
    for width in (1366, 390):
        page.set_viewport_size({"width": width, "height": 900})
        save_screenshot(page, f"{name}-{width}")
        check(width)
    page.set_viewport_size({"width": 1400, "height": 900})


LONG_NAME = "乙店·西湖区文三路数码港旗舰店（新开业）"


@pytest.fixture
def long_named_shop(site):
    """Shop B under a long name for one test (the ranking chart must show it whole), then its name back."""
    app, scene, base_url = site
    merchant = scene.world.shop_b.merchant
    with app.app_context():
        catalog.update_merchant(ACTOR, merchant.id, name=LONG_NAME)
        db.session.remove()
    yield LONG_NAME
    with app.app_context():
        catalog.update_merchant(ACTOR, merchant.id, name=merchant.name)
        db.session.remove()


def test_the_dashboard_starts_the_day_over_a_chosen_range(site, admin, long_named_shop):
    app, scene, base_url = site
    page, watcher = admin
    page.goto(f"{base_url}/console/")
    for figure in ("#yesterday-sales", "#yesterday-members", "#points-liability", "#alerts-waiting"):
        assert page.locator(figure).is_visible(), figure
    assert page.locator("#points-liability .stat-value").inner_text().startswith("¥")
    page.click("text=7 天")
    assert page.url.endswith("days=7")
    labels = page.locator(".chart-card svg").first.locator(".axis.x text").all_text_contents()
    assert len([label for label in labels if label.strip()]) == 7
    first = (date.today() - timedelta(days=20)).isoformat()
    page.fill("#range-from", first)
    page.fill("#range-to", date.today().isoformat())
    page.click(".dashboard-range button[type=submit]")
    assert f"显示 {first} 至" in page.locator("h1 + span").inner_text()
    watcher.check()

    def readable(width):
        # every sale figure on an axis is a round amount, and the chart text stays readable
        ticks = page.locator(".chart-card svg").first.locator(".axis.y .guides text").all_text_contents()
        assert ticks and all(re.fullmatch(r"-?¥[\d,]+\.00", tick) for tick in ticks if tick), ticks
        sizes = page.eval_on_selector_all(
            ".chart-card svg .axis text", "els => els.map(e => e.getBoundingClientRect().height)"
        )
        # at least 10 px once the chart gets a phone's width (about 350 px; the menu is another branch's)
        card = page.evaluate("document.querySelector('.chart-card svg').getBoundingClientRect().width")
        assert min(size for size in sizes if size) * max(1, 350 / card) >= 10, (width, card, sorted(sizes)[:5])
        names = page.locator(".chart-card svg").nth(3).locator("text").all_text_contents()
        for merchant in (scene.world.shop_a.merchant.name, long_named_shop):
            assert merchant in names  # whole, not truncated
        clipped = page.eval_on_selector_all(
            ".chart-card svg",
            """svgs => svgs.flatMap(svg => { const box = svg.getBoundingClientRect();
                return [...svg.querySelectorAll('text')].filter(t => t.textContent.trim()).filter(t => {
                    const r = t.getBoundingClientRect();
                    return r.width && (r.left < box.left - 1 || r.right > box.right + 1);
                }).map(t => t.textContent); })""",
        )
        assert clipped == [], (width, clipped)

    _at_widths(page, "console-dashboard-range", readable)
    response = page.goto(f"{base_url}/console/?from=2026-03-05&to=2026-03-01")
    assert response.status == 422 and "结束日期早于开始日期" in page.locator("#range-error").inner_text()
    save_screenshot(page, "console-dashboard-range-invalid")
    watcher.problems.clear()  # the 422 just asserted


def test_finance_marks_a_statement_paid_and_prints_it(site, browser, tmp_path):
    app, scene, base_url = site
    context, page, watcher = _signed_in(browser, base_url, "c-finance")
    with app.app_context():
        settlement.close_through(ACTOR, settlement.current_business_day() - timedelta(days=1))
        merchant = scene.world.shop_a.merchant
        catalog.update_merchant(
            ACTOR,
            merchant.id,
            bank_account_name="甲店餐饮有限公司",
            bank_name="中国银行杭州西湖支行",
            bank_account_no="6217856000012345678",
        )
        row = db.session.scalar(
            select(Settlement)
            .where(Settlement.merchant_id == merchant.id, Settlement.sales_count > 0)
            .order_by(Settlement.business_day.desc())
            .limit(1)
        )
        settlement_id = row.id
        db.session.remove()
    page.goto(f"{base_url}/console/settlements/{settlement_id}")
    assert "未付款" in page.locator(".statement-payment").inner_text()
    page.fill("#reference", "BANK-0042")
    page.click(".payment-form button[type=submit]")
    assert "已付款" in page.locator(".statement-payment").inner_text()
    assert "**** **** 5678" in page.locator(".statement-payment").inner_text()
    fee_line = page.locator(".statement-lines tbody tr:has-text('服务费')")
    assert fee_line.count() <= 1
    nets = page.eval_on_selector_all(
        ".statement-lines tbody tr", "rows => rows.map(r => r.lastElementChild.textContent.trim())"
    )
    total = page.locator(".statement-lines tfoot td").last.inner_text().strip()
    assert sum(_fen(net) for net in nets) == _fen(total)
    watcher.check()

    def statement(width):
        assert page.locator(".statement-payment .badge").inner_text() == "已付款"

    _at_widths(page, "console-settlement-statement-paid", statement)
    with page.expect_download() as download:
        page.click("text=下载 PDF")
    pdf = tmp_path / "statement.pdf"
    download.value.save_as(pdf)
    subprocess.run(
        ["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", str(pdf), str(ARTIFACTS_DIR / "statement-pdf")],
        check=True,
    )
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, check=True).stdout.decode()
    assert "6217856000012345678" in text and "已于" in text and "BANK-0042" in text
    page.goto(f"{base_url}/console/settlements?from={row.business_day}&to={row.business_day}")
    assert page.locator(f"tbody tr:has-text('{merchant.name}') .badge").inner_text() == "已付款"
    watcher.check()
    context.close()


def _fen(text: str) -> int:
    """``-¥1,234.50`` → ``-123450``."""
    digits = text.replace("¥", "").replace(",", "")
    whole, _, fen = digits.lstrip("-").partition(".")
    return (-1 if digits.startswith("-") else 1) * (int(whole) * 100 + int(fen))
