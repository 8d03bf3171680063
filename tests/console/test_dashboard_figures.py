"""Dashboard figures: local business days, net of refunds, scoped to one merchant (real database)."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import update

from server.extensions import db
from server.models import Sale
from server.models.base import utcnow
from server.services import checkout
from server.services.dashboard import build_dashboard, local_day_start
from server.services.staff import terminal_for_token
from tests.builders import ACTOR, make_member, make_world

SHANGHAI = ZoneInfo("Asia/Shanghai")


def sell_at(shop, card, amount_fen: int, when, redeem: int = 0) -> Sale:
    """A sale through the checkout service, then moved to ``when``."""
    terminal = terminal_for_token(shop.token)
    found = checkout.identify(terminal, code=card.card_no)
    sale = checkout.record_sale(terminal, identification_token=found.token, amount_fen=amount_fen, redeem_points=redeem)
    db.session.execute(update(Sale).where(Sale.id == sale.sale.id).values(occurred_at=when))
    db.session.commit()
    return sale.sale


def test_days_are_local_days_figures_are_net_and_scoped(ctx):
    world = make_world()
    member, card = make_member(points=1_000)
    now = utcnow()
    today = now.astimezone(SHANGHAI).date()
    start = local_day_start(today, SHANGHAI)
    first = sell_at(world.shop_a, card, 10_000, start + timedelta(minutes=1), redeem=300)  # just after local midnight
    sell_at(world.shop_a, card, 20_000, start - timedelta(minutes=1))  # just before: yesterday
    sell_at(world.shop_b, card, 5_000, start + timedelta(minutes=2))
    sell_at(world.shop_b, card, 7_000, start - timedelta(days=31))  # outside the 30 days
    checkout.refund_sale(ACTOR, first.id, None, 2_000, "test")

    alliance = build_dashboard(now=now)
    assert len(alliance.days) == 30 and alliance.today.day == today
    # shop A: 100.00 paid 97.00 (3.00 by points), refunded 20.00 -> 77.00; shop B: 50.00
    assert alliance.today.sales_count == 2
    assert alliance.today.sales_fen == 7_700 + 5_000
    assert alliance.days[-2].sales_fen == 20_000
    assert alliance.total("sales_count") == 3
    assert 0 < _restored(first.id) < 300
    assert alliance.today.points_redeemed == 300 - _restored(first.id)
    assert alliance.today.new_members == 1
    assert [name for name, _ in alliance.top] == ["甲店", "乙店"]
    granted, redeemed = alliance.total("points_earned"), alliance.total("points_redeemed")
    assert alliance.redemption_rate_bp == redeemed * 10_000 // granted
    assert sum(count for _, count in alliance.members_per_level) == 1

    shop_b = build_dashboard(world.shop_b.merchant.id, now=now)
    assert (shop_b.today.sales_count, shop_b.today.sales_fen, shop_b.total("sales_count")) == (1, 5_000, 1)
    assert shop_b.today.new_members == 0  # the member was not recruited by shop B
    assert [total for _, total in shop_b.top] == [5_000]  # by terminal


def _restored(sale_id: str) -> int:
    return db.session.get(Sale, sale_id).points_restored
