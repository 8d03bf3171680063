"""Dashboard figures: local business days, net of refunds, scoped to one merchant (real database)."""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

from server.console.charts import round_ticks
from server.domain.errors import InvalidRequest
from server.domain.ledger import MEMBER_POINTS
from server.extensions import db
from server.models import CardAlert, LedgerAccount, Sale
from server.models.base import utcnow
from server.services import checkout
from server.services.alliance import get_settings
from server.services.dashboard import build_dashboard, choose_range, local_day_start
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


def test_a_chosen_range_and_the_morning_figures(ctx):
    world = make_world()
    member, card = make_member(points=1_000)
    now = utcnow()
    today = now.astimezone(SHANGHAI).date()
    start = local_day_start(today, SHANGHAI)
    sell_at(world.shop_a, card, 20_000, start - timedelta(hours=2))  # yesterday evening
    sell_at(world.shop_b, card, 5_000, start - timedelta(hours=1))  # yesterday too
    sell_at(world.shop_a, card, 7_000, start - timedelta(days=20))  # inside 30 days, not 7
    db.session.add(CardAlert(card_id=card.id, kind="stale_counter", details={}))
    db.session.commit()

    week = build_dashboard(first=today - timedelta(days=6), last=today, now=now)
    assert len(week.days) == 7 and week.total("sales_count") == 2
    month = build_dashboard(now=now)
    assert month.total("sales_count") == 3
    past = build_dashboard(first=today - timedelta(days=25), last=today - timedelta(days=10), now=now)
    assert (past.first, past.last, past.total("sales_fen")) == (
        today - timedelta(days=25),
        today - timedelta(days=10),
        7_000,
    )

    morning = month.morning
    assert morning.yesterday == today - timedelta(days=1)
    assert (morning.sales_count, morning.sales_fen) == (2, 25_000)
    held = db.session.scalar(select(func.sum(LedgerAccount.balance)).where(LedgerAccount.kind == MEMBER_POINTS))
    assert morning.points_outstanding == held > 0
    assert morning.liability_fen == held * get_settings().point_value_fen
    assert (morning.card_alerts, morning.alerts) == (1, 1)
    shop = build_dashboard(world.shop_b.merchant.id, now=now).morning
    assert (shop.sales_count, shop.sales_fen, shop.liability_fen, shop.card_alerts) == (1, 5_000, None, None)


def test_ranges_are_chosen_or_refused_never_silently_replaced():
    today = date(2026, 3, 10)
    assert choose_range(today) == (date(2026, 2, 9), today)
    assert choose_range(today, "7") == (date(2026, 3, 4), today)
    assert choose_range(today, "90")[0] == date(2025, 12, 11)
    assert choose_range(today, None, "2026-03-01", "2026-03-05") == (date(2026, 3, 1), date(2026, 3, 5))
    assert choose_range(today, None, "2026-03-01") == (date(2026, 3, 1), today)
    for days, first, last in (
        ("8", None, None),
        ("x", None, None),
        (None, "2026-03-05", "2026-03-01"),  # backwards
        (None, "2026-03-01", "2026-03-11"),  # ends in the future
        (None, "2025-01-01", "2026-03-01"),  # more than 366 days
        (None, "1.3.2026", None),
        (None, None, "2026-03-01"),  # an end without a start
    ):
        with pytest.raises(InvalidRequest):
            choose_range(today, days, first, last)


def test_axis_ticks_are_round():
    assert round_ticks([0, 3]) == [0, 1, 2, 3]
    assert round_ticks([1_370_00], unit=100) == [0, 50_000, 100_000, 150_000]  # ¥0, ¥500, ¥1,000, ¥1,500
    assert round_ticks([-2_746, 1_506], unit=100) == [-3_000, -2_000, -1_000, 0, 1_000, 2_000]
    assert round_ticks([]) == [0, 1]
    assert all(tick % 100 == 0 for tick in round_ticks([987_654], unit=100))
