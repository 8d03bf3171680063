"""Figures for the console dashboard: today's and the last days' sales, members and points (read-only)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import desc, func, select

from server.domain.statuses import MemberStatus
from server.extensions import db
from server.models import Level, Member, Merchant, Sale, Terminal
from server.models.base import utcnow
from server.services.alliance import get_settings

TOP_COUNT = 5


@dataclass
class DayFigures:
    """One local business day, net of refunds."""

    day: date
    sales_count: int = 0
    sales_fen: int = 0
    discount_fen: int = 0
    points_earned: int = 0
    points_redeemed: int = 0
    new_members: int = 0


@dataclass
class Dashboard:
    """What the dashboard shows for the alliance or for one merchant (``merchant_id``)."""

    merchant_id: str | None
    days: list[DayFigures]
    top: list[tuple[str, int]] = field(default_factory=list)  # merchants (or a merchant's terminals) by sales
    members_per_level: list[tuple[Level, int]] = field(default_factory=list)
    total_members: int = 0

    @property
    def today(self) -> DayFigures:
        return self.days[-1]

    def total(self, name: str) -> int:
        """The sum of one figure over all days."""
        return sum(getattr(day, name) for day in self.days)

    @property
    def redemption_rate_bp(self) -> int | None:
        """Points redeemed per point granted over the period, in basis points (None when none were granted)."""
        granted = self.total("points_earned")
        return None if granted == 0 else self.total("points_redeemed") * 10_000 // granted


def local_day_start(day: date, zone: ZoneInfo) -> datetime:
    """The UTC instant a local day begins."""
    return datetime.combine(day, time.min, tzinfo=zone).astimezone(ZoneInfo("UTC"))


def build_dashboard(merchant_id: str | None = None, days: int = 30, now: datetime | None = None) -> Dashboard:
    """Daily figures for the last ``days`` local days (today last), top sellers and members per level."""
    zone = ZoneInfo(get_settings().timezone)
    today = (now or utcnow()).astimezone(zone).date()
    first = today - timedelta(days=days - 1)
    since = local_day_start(first, zone)
    figures = {first + timedelta(days=n): DayFigures(first + timedelta(days=n)) for n in range(days)}

    sales = select(
        Sale.occurred_at,
        Sale.payable_fen - Sale.refunded_fen,
        Sale.discount_fen,
        Sale.points_earned - Sale.points_reversed,
        Sale.redeem_points - Sale.points_restored,
    ).where(Sale.occurred_at >= since)
    if merchant_id is not None:
        sales = sales.where(Sale.merchant_id == merchant_id)
    for occurred_at, net_fen, discount_fen, earned, redeemed in db.session.execute(sales):
        day = figures.get(occurred_at.astimezone(zone).date())
        if day is None:
            continue
        day.sales_count += 1
        day.sales_fen += net_fen
        day.discount_fen += discount_fen
        day.points_earned += earned
        day.points_redeemed += redeemed

    joined = select(Member.created_at).where(Member.created_at >= since)
    if merchant_id is not None:
        joined = joined.where(Member.recruited_by_merchant_id == merchant_id)
    for (created_at,) in db.session.execute(joined):
        day = figures.get(created_at.astimezone(zone).date())
        if day is not None:
            day.new_members += 1

    result = Dashboard(merchant_id, list(figures.values()))
    result.top = _top_sellers(merchant_id, since)
    result.members_per_level = _members_per_level(merchant_id, since)
    result.total_members = sum(count for _, count in result.members_per_level)
    return result


def _top_sellers(merchant_id: str | None, since: datetime) -> list[tuple[str, int]]:
    """Merchants by net sales in the period; for one merchant, its terminals."""
    net = func.sum(Sale.payable_fen - Sale.refunded_fen).label("net")
    if merchant_id is None:
        query = select(Merchant.name, net).join(Merchant, Merchant.id == Sale.merchant_id).group_by(Merchant.id)
    else:
        query = (
            select(Terminal.name + " " + Terminal.code, net)
            .join(Terminal, Terminal.id == Sale.terminal_id)
            .where(Sale.merchant_id == merchant_id)
            .group_by(Terminal.id)
        )
    query = query.where(Sale.occurred_at >= since).order_by(desc("net")).limit(TOP_COUNT)
    return [(name, int(total or 0)) for name, total in db.session.execute(query)]


def _members_per_level(merchant_id: str | None, since: datetime) -> list[tuple[Level, int]]:
    """Active members per level; for one merchant, the members who bought there in the period."""
    members = (
        select(Member.level_id, func.count()).where(Member.status == MemberStatus.ACTIVE).group_by(Member.level_id)
    )
    if merchant_id is not None:
        buyers = select(Sale.member_id).where(Sale.merchant_id == merchant_id, Sale.occurred_at >= since).distinct()
        members = members.where(Member.id.in_(buyers))
    counts = dict(db.session.execute(members).all())
    levels = db.session.scalars(select(Level).order_by(Level.rank))
    return [(level, counts.get(level.id, 0)) for level in levels]
