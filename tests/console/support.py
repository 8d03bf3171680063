"""Console test helpers: staff with passwords, signing in through the form, CSRF tokens from pages."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from server.extensions import db
from server.services import staff
from tests.builders import ACTOR, World, make_member, make_world
from tests.live_server import identify, next_key

PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
_ONCE = re.compile(r'name="once"[^>]*value="([^"]+)"')


@dataclass
class ConsoleWorld:
    """The standard world plus console users (username → role) and one member with a sale at shop A."""

    world: World
    member: object
    card: object
    sale_id: str
    other_sale_id: str


def make_console_users(world: World) -> None:
    """Console users with ``PASSWORD``: one per operator role, and an owner and a cashier per shop."""
    for role in ("admin", "finance", "card_issuer", "support"):
        staff.create_staff_user(ACTOR, f"c-{role}", role, PASSWORD)
    for name, shop in (("a", world.shop_a), ("b", world.shop_b)):
        staff.create_staff_user(ACTOR, f"c-owner-{name}", "owner", PASSWORD, merchant_id=shop.merchant.id)
        staff.create_staff_user(ACTOR, f"c-cashier-{name}", "cashier", PASSWORD, merchant_id=shop.merchant.id)


def build_console_world(app, client, amount_fen: int = 20_000) -> ConsoleWorld:
    """World, console users, a member with points and a card, one sale at each shop (through the API)."""
    with app.app_context():
        world = make_world()
        make_console_users(world)
        member, card = make_member(points=500, phone="13912345678", name="赵敏")
        db.session.remove()
    sales = []
    for shop in (world.shop_a, world.shop_b):
        token = identify(client, shop.auth, code=card.card_no)
        response = client.post(
            "/api/v1/sales",
            json={"identification_token": token, "amount_fen": amount_fen, "redeem_points": 100},
            headers={**shop.auth, "Idempotency-Key": next_key()},
        )
        assert response.status_code == 201, response.json
        sales.append(response.json["sale"]["id"])
    return ConsoleWorld(world, member, card, sales[0], sales[1])


def csrf_from(html: str) -> str:
    """The CSRF token of the first form on a page."""
    match = _CSRF.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def once_from(html: str) -> str:
    """The one-time key of the first form on a page that has one."""
    match = _ONCE.search(html)
    assert match, "no one-time key on the page"
    return match.group(1)


def sign_in(client, username: str, password: str = PASSWORD):
    """Sign in through the form (with its CSRF token); return the response."""
    page = client.get("/console/sign-in")
    return client.post(
        "/console/sign-in",
        data={"csrf_token": csrf_from(page.get_data(as_text=True)), "username": username, "password": password},
    )


def page_text(response) -> str:
    return response.get_data(as_text=True)


def post_form(client, page_url: str, action_url: str, data: dict):
    """POST ``data`` to ``action_url`` with the CSRF token (and one-time key, if any) of ``page_url``."""
    html = page_text(client.get(page_url))
    fields = {"csrf_token": csrf_from(html), **data}
    once = _ONCE.search(html)
    if once and "once" not in fields:
        fields["once"] = once.group(1)
    return client.post(action_url, data=fields)


# Console GET endpoints that are not pages (files, the static folder, the catch-all 404) or not signed in.
NOT_PAGES = {
    "console.static",
    "console.unknown_page",
    "console.auth.sign_in",
    "console.auth.second_factor",
    "console.dashboard.alias",
    "console.ledger.export",
    "console.sales.export",
    "console.reports.export",
    "console.reports.points_export",
    "console.merchants.poster_png",
    "console.settlement.statement",
}


def seed_every_kind_of_object(app, client, scene: ConsoleWorld) -> dict:
    """A card batch, a card action, a refund and a closed day on top of ``scene``: every console page has data.

    Returns the ids that the console's URL arguments take (see :func:`every_console_page`).
    """
    from sqlalchemy import select

    from server.models import Level, Settlement, StaffUser
    from server.services import cards, settlement
    from server.services.checkout import refund_sale

    with app.app_context():
        batch = cards.create_batch(ACTOR, 3, name="三月批次")
        cards.report_lost(ACTOR, scene.card.card_no, reason="会员说丢在地铁上")
        refund_sale(ACTOR, scene.sale_id, None, 2_000, "菜品有误")
        tomorrow = datetime.now(UTC) + timedelta(days=2)  # the day of the sales has ended by then
        settlement.close_day(ACTOR, settlement.current_business_day(), now=tomorrow)
        ids = {
            "batch_id": batch.id,
            "card_id": scene.card.id,
            "member_id": scene.member.id,
            "merchant_id": scene.world.shop_a.merchant.id,
            "sale_id": scene.sale_id,
            "level_id": db.session.scalar(select(Level.id).order_by(Level.code)),
            "settlement_id": db.session.scalar(select(Settlement.id).order_by(Settlement.id)),
            "terminal_id": scene.world.shop_a.terminal.id,
            "user_id": db.session.scalar(select(StaffUser.id).where(StaffUser.username == "c-support")),
        }
        ids["token_id"] = staff.create_personal_token(ACTOR, ids["user_id"], "写卡台", valid_days=90).record.id
        ids["flag_id"] = _brushing_flag()
        ids |= seed_agents(scene)
        ids |= seed_benefits(scene, ids["agent_id"])
        db.session.remove()
    assert all(ids.values()), ids
    return ids


def seed_benefits(scene: ConsoleWorld, agent_id: str) -> dict:
    """A supplier's purchase with codes in stock, a low-stock alert, a consignment to the agent (the benefit
    pages' data); returns ``purchase_id``."""
    from datetime import date

    from server.models import Agent
    from server.services import benefit_consignment
    from server.services.jobs import run_job
    from tests.benefit_ops_support import add_codes, make_purchase, make_sku, make_supplier, set_agent_price

    supplier = make_supplier("华夏卡券")
    sku = make_sku("视频月卡", threshold=50, near_expiry_days=30)
    purchase = make_purchase(supplier, sku, 20, 1_500, date.today(), invoice_number="INV-0001")
    add_codes(purchase, 20, date.today() + timedelta(days=20))
    set_agent_price(sku, db.session.get(Agent, agent_id).level_id, 1_800)
    benefit_consignment.consign_benefits(ACTOR, agent_id, sku.id, 2)
    run_job("benefit-stock-alerts", date.today())
    return {"purchase_id": purchase.id, "sku_id": sku.id}


def _brushing_flag() -> str:
    """An open anti-brushing flag: the round-amount rule made to catch the scene's sales."""
    from server.models import BrushingFlag
    from server.services import brushing

    rule = next(rule for rule in brushing.list_rules() if rule.code == "round_amounts")
    brushing.update_rule(ACTOR, rule.id, parameters={"min_amount_fen": 100, "multiple_fen": 100, "min_count": 1})
    brushing.detect_brushing(ACTOR, datetime.now(UTC).date())
    return db.session.scalar(select(BrushingFlag.id).order_by(BrushingFlag.id).limit(1))


def seed_agents(scene: ConsoleWorld) -> dict:
    """A city agent (深圳市) with a county agent (南山区) servicing shop A, an evaluated month and an alert.

    Returns the ids the agent pages' URLs take (``agent_id``, ``agent_level_id``, ``period``).
    """
    from datetime import date

    from server.models import AgentAlert
    from server.services import agents, catalog, regions
    from server.services.agent_evaluation import evaluate_agents, previous_period_name

    regions.load_regions()
    city = agents.create_agent(
        ACTOR, kind="company", name="深圳城市代理", phone="13800138001", territories=[{"region_code": "440300"}]
    )
    county = agents.create_agent(
        ACTOR,
        kind="person",
        name="南山县区代理",
        phone="13800138002",
        contact_name="李雷",
        upper_agent_id=city.id,
        territories=[{"region_code": "440305"}],
    )
    for agent in (city, county):
        agents.update_agent(ACTOR, agent.id, status="active", status_reason="合同已签")
    catalog.update_merchant(ACTOR, scene.world.shop_a.merchant.id, agent_id=county.id)
    period = previous_period_name(date.today())
    evaluate_agents(ACTOR, period)
    db.session.add(
        AgentAlert(
            id="aal_console_seed",
            agent_id=county.id,
            upper_agent_id=city.id,
            period=period,
            kind="figure_drop",
            figure="serviced_gmv_fen",
            value_before=500_000,
            value_after=100_000,
        )
    )
    db.session.commit()
    return {"agent_id": county.id, "agent_level_id": county.level_id, "period": period}


def every_console_page(app, ids: dict) -> list[str]:
    """The URL of every console page (each GET route of the console blueprint, filled in from ``ids``).

    A new page whose URL takes an argument not in ``ids`` fails here, so the page tests keep covering all.
    """
    from itertools import product

    from flask import url_for
    from werkzeug.routing import AnyConverter

    urls = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda rule: rule.rule):
        if not rule.endpoint.startswith("console.") or "GET" not in rule.methods or rule.endpoint in NOT_PAGES:
            continue
        if "fmt" in rule.arguments:  # a download (CSV, XLSX, PDF), not a page: tests/services/test_exports.py
            continue
        choices = {}  # an <any(a, b):name> argument: every one of its values
        for name in rule.arguments:
            converter = rule._converters.get(name)
            if isinstance(converter, AnyConverter):
                choices[name] = sorted(converter.items)
            else:
                assert name in ids, f"{rule.endpoint}: no test data for {name}"
                choices[name] = [ids[name]]
        with app.test_request_context():
            for values in product(*choices.values()):
                urls.append(url_for(rule.endpoint, **dict(zip(choices, values, strict=True))))
    return urls
