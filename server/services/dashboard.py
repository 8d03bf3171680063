"""Figures for the console dashboard: a range of days' sales, members and points, and the figures an
operator starts the day with (yesterday's sales and new members, points liability, alerts waiting)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import desc, func, select

from server.domain.errors import InvalidRequest
from server.domain.ledger import MEMBER_POINTS
from server.domain.statuses import MemberStatus
from server.extensions import db
from server.models import CardAlert, JobRun, LedgerAccount, Level, Member, Merchant, Sale, SmsMessage, Terminal
from server.models.base import utcnow
from server.services.alliance import get_settings

TOP_COUNT = 5
PRESET_DAYS = (7, 30, 90)
MAX_DAYS = 366


def choose_range(today: date, days: str | None = None, first: str | None = None, last: str | None = None):
    """The days the dashboard covers: a preset (7, 30, 90 days up to today) or ``first``..``last`` (ISO dates).

    Returns ``(first, last)``; a mistyped date, a range ending before it starts or in the future, or one
    longer than MAX_DAYS is refused with InvalidRequest (nothing is silently replaced).
    """
    if first or last:
        try:
            start = date.fromisoformat(first or "")
            end = date.fromisoformat(last) if last else today
        except ValueError:
            raise InvalidRequest("Enter dates as YYYY-MM-DD.", field="from" if first else "to") from None
        if end < start:
            raise InvalidRequest("The range ends before it starts.", field="to")
        if end > today:
            raise InvalidRequest("The range may not end after today.", field="to")
        if (end - start).days + 1 > MAX_DAYS:
            raise InvalidRequest("Choose at most 366 days.", field="from")
        return start, end
    count = PRESET_DAYS[1] if days in (None, "") else (int(days) if days.isdigit() else 0)
    if count not in PRESET_DAYS:
        raise InvalidRequest("Choose 7, 30 or 90 days, or a range of dates.", field="days")
    return today - timedelta(days=count - 1), today


@dataclass
class Morning:
    """What an operator starts the day with (alliance-wide figures are None for one merchant)."""

    yesterday: date
    sales_count: int = 0
    sales_fen: int = 0
    new_members: int = 0
    points_outstanding: int | None = None
    liability_fen: int | None = None
    card_alerts: int | None = None
    failed_messages: int | None = None
    failed_jobs: int | None = None

    @property
    def alerts(self) -> int:
        """Everything waiting for someone to look at it."""
        return (self.card_alerts or 0) + (self.failed_messages or 0) + (self.failed_jobs or 0)


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
    morning: Morning | None = None
    top: list[tuple[str, int]] = field(default_factory=list)  # merchants (or a merchant's terminals) by sales
    members_per_level: list[tuple[Level, int]] = field(default_factory=list)
    total_members: int = 0

    @property
    def today(self) -> DayFigures:
        """The last day of the range (today, unless a past range was chosen)."""
        return self.days[-1]

    @property
    def first(self) -> date:
        return self.days[0].day

    @property
    def last(self) -> date:
        return self.days[-1].day

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


def build_dashboard(
    merchant_id: str | None = None,
    days: int = 30,
    now: datetime | None = None,
    first: date | None = None,
    last: date | None = None,
) -> Dashboard:
    """Daily figures for ``first``..``last`` (default: the last ``days`` local days, today last), top
    sellers and members per level over them, and the morning figures."""
    zone = ZoneInfo(get_settings().timezone)
    today = (now or utcnow()).astimezone(zone).date()
    last = last or today
    first = first or last - timedelta(days=days - 1)
    since, until = local_day_start(first, zone), local_day_start(last + timedelta(days=1), zone)
    count = (last - first).days + 1
    figures = {first + timedelta(days=n): DayFigures(first + timedelta(days=n)) for n in range(count)}

    sales = select(
        Sale.occurred_at,
        Sale.payable_fen - Sale.refunded_fen,
        Sale.discount_fen,
        Sale.points_earned - Sale.points_reversed,
        Sale.redeem_points - Sale.points_restored,
    ).where(Sale.occurred_at >= since, Sale.occurred_at < until)
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

    joined = select(Member.created_at).where(Member.created_at >= since, Member.created_at < until)
    if merchant_id is not None:
        joined = joined.where(Member.recruited_by_merchant_id == merchant_id)
    for (created_at,) in db.session.execute(joined):
        day = figures.get(created_at.astimezone(zone).date())
        if day is not None:
            day.new_members += 1

    result = Dashboard(merchant_id, list(figures.values()))
    result.morning = morning_figures(merchant_id, today, zone)
    result.top = _top_sellers(merchant_id, since, until)
    result.members_per_level = _members_per_level(merchant_id, since, until)
    result.total_members = sum(count for _, count in result.members_per_level)
    return result


def morning_figures(merchant_id: str | None, today: date, zone: ZoneInfo) -> Morning:
    """Yesterday's sales (net of refunds) and new members; for the alliance also the points liability
    (points members hold × the point value) and what waits to be looked at: open card alerts (suspected
    clones), SMS that failed, background jobs that failed in the last day."""
    yesterday = today - timedelta(days=1)
    start, end = local_day_start(yesterday, zone), local_day_start(today, zone)
    sales = select(func.count(), func.coalesce(func.sum(Sale.payable_fen - Sale.refunded_fen), 0)).where(
        Sale.occurred_at >= start, Sale.occurred_at < end
    )
    members = select(func.count()).where(Member.created_at >= start, Member.created_at < end)
    if merchant_id is not None:
        sales = sales.where(Sale.merchant_id == merchant_id)
        members = members.where(Member.recruited_by_merchant_id == merchant_id)
    count, amount = db.session.execute(sales).one()
    morning = Morning(yesterday, int(count), int(amount), int(db.session.scalar(members) or 0))
    if merchant_id is None:
        held = db.session.scalar(
            select(func.coalesce(func.sum(LedgerAccount.balance), 0)).where(LedgerAccount.kind == MEMBER_POINTS)
        )
        morning.points_outstanding = int(held or 0)
        morning.liability_fen = morning.points_outstanding * get_settings().point_value_fen
        morning.card_alerts = _count(select(func.count()).where(CardAlert.resolved_at.is_(None)))
        morning.failed_messages = _count(
            select(func.count()).where(SmsMessage.status == "failed", SmsMessage.created_at >= end - timedelta(days=1))
        )
        morning.failed_jobs = _count(
            select(func.count()).where(JobRun.status == "failed", JobRun.started_at >= end - timedelta(days=1))
        )
    return morning


def _count(query) -> int:
    return int(db.session.scalar(query) or 0)


def _top_sellers(merchant_id: str | None, since: datetime, until: datetime) -> list[tuple[str, int]]:
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
    query = query.where(Sale.occurred_at >= since, Sale.occurred_at < until).order_by(desc("net")).limit(TOP_COUNT)
    return [(name, int(total or 0)) for name, total in db.session.execute(query)]


def _members_per_level(merchant_id: str | None, since: datetime, until: datetime) -> list[tuple[Level, int]]:
    """Active members per level; for one merchant, the members who bought there in the period."""
    members = (
        select(Member.level_id, func.count()).where(Member.status == MemberStatus.ACTIVE).group_by(Member.level_id)
    )
    if merchant_id is not None:
        buyers = (
            select(Sale.member_id)
            .where(Sale.merchant_id == merchant_id, Sale.occurred_at >= since, Sale.occurred_at < until)
            .distinct()
        )
        members = members.where(Member.id.in_(buyers))
    counts = dict(db.session.execute(members).all())
    levels = db.session.scalars(select(Level).order_by(Level.rank))
    return [(level, counts.get(level.id, 0)) for level in levels]
