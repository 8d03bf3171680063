"""Benefit analytics (docs/benefits.md, "Analytics"): codes issued / claimed / redeemed / expired with their
cost and redemption rate, grouped by SKU, channel, campaign, merchant or agent; and retention — of the
members who received a benefit, cohorts by the month of their first one, how many came back and spent
within 30 / 60 / 90 days against comparable members who received none.

Everything is counted in the database (a few grouped queries per report, one pair per cohort month, never a
loop over members); the rate maths is ``server/domain/benefit_retention.py``. Read-only: no transaction is
written.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, exists, func, literal, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import coercions, roles
from sqlalchemy.sql.expression import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

from server.domain.benefit_retention import (
    COMPARISON,
    FIRST_MONTH,
    HORIZONS,
    LAST_MONTH,
    LOOKBACK_DAYS,
    TREATED,
    CohortRetention,
    StratumCounts,
    cohort_months,
    cohort_retention,
    month_start,
    months_before,
    next_month,
    rate_bp,
)
from server.domain.statuses import BenefitCodeStatus
from server.extensions import db
from server.models import Agent, BenefitCampaign, BenefitCode, BenefitGrant, BenefitPurchase, BenefitSku, Merchant, Sale
from server.models.base import UTCDateTime, utcnow
from server.services.alliance import get_settings

GROUPS = ("sku", "channel", "campaign", "merchant", "agent")
AGENT_CHANNEL, NO_CHANNEL = "agent", "none"  # codes consigned to an agent (no grant yet) / neither
CHANNEL_LABELS = {
    "registration": _l("Registration gift"),
    "level_up": _l("Level-up gift"),
    "birthday": _l("Birthday gift"),
    "points_exchange": _l("Points exchange"),
    "campaign": _l("Campaign"),
    "batch": _l("Batch grant"),
    "partner": _l("Partner"),
    AGENT_CHANNEL: _l("Agent consignment"),
    NO_CHANNEL: _l("Other"),
}
MAX_COHORTS = 24
EARLIEST_DAY, LATEST_DAY = date(1970, 1, 1), date(9000, 1, 1)  # a range beyond these has no codes either


class add_days(ColumnElement):  # noqa: N801 (an SQL construct, named like the functions it stands for)
    """``moment + days`` in SQL, for SQLite and PostgreSQL (``days`` a whole number known in the code)."""

    inherit_cache = True
    type = UTCDateTime()
    _traverse_internals = [("moment", InternalTraversal.dp_clauseelement), ("days", InternalTraversal.dp_plain_obj)]

    def __init__(self, moment, days: int):
        self.moment, self.days = coercions.expect(roles.ExpressionElementRole, moment), int(days)


@compiles(add_days)
def _add_days_default(element, compiler, **kw):
    return f"({compiler.process(element.moment, **kw)} + INTERVAL '{element.days} days')"


@compiles(add_days, "sqlite")
def _add_days_sqlite(element, compiler, **kw):  # the format SQLAlchemy stores SQLite datetimes in
    return f"strftime('%Y-%m-%d %H:%M:%f', {compiler.process(element.moment, **kw)}, '+{element.days} days')"


def _zone() -> ZoneInfo:
    return ZoneInfo(get_settings().timezone)


def _local_start(day: date, zone: ZoneInfo) -> datetime:
    """The UTC instant a local day begins."""
    return datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC)


# --- issued / claimed / redeemed / expired -----------------------------------------------------------------


def _group_key(group_by: str):
    codes, grants = BenefitCode, BenefitGrant
    if group_by == "sku":
        return codes.sku_id
    if group_by == "channel":
        fallback = case((codes.agent_id.is_not(None), literal(AGENT_CHANNEL)), else_=literal(NO_CHANNEL))
        return func.coalesce(grants.channel, fallback)
    if group_by == "campaign":
        return func.coalesce(grants.campaign_id, "")
    if group_by == "merchant":
        return func.coalesce(codes.redeemed_merchant_id, "")
    return func.coalesce(codes.agent_id, "")


def _names(group_by: str, keys: list[str]) -> dict[str, str]:
    if group_by == "channel":
        return {key: str(CHANNEL_LABELS.get(key, key)) for key in keys}
    model = {"sku": BenefitSku, "campaign": BenefitCampaign, "merchant": Merchant, "agent": Agent}[group_by]
    found = db.session.execute(select(model.id, model.name).where(model.id.in_([k for k in keys if k]))).all()
    none = {"campaign": _l("No campaign"), "merchant": _l("Not redeemed"), "agent": _l("No agent")}.get(group_by, "")
    return {"": str(none), **{key: name for key, name in found}}


def benefit_summary(
    day_from: date | None = None, day_to: date | None = None, sku_id: str | None = None, group_by: str = "sku"
) -> list[dict]:
    """Codes issued, claimed, redeemed and expired in the local days ``day_from``..``day_to`` per group.

    - ``issued``: codes that left stock (to a member or an agent's consignment) in the range, and
      ``cost_fen`` their purchases' unit costs;
    - ``claimed``: codes that reached a member in the range (the grant's time; else the issue's);
    - ``redeemed`` / ``expired``: codes redeemed / expired in the range;
    - ``redemption_rate_bp``: of the codes issued in the range, the share redeemed by now.

    By merchant, a code belongs to the merchant that accepted it (codes not redeemed: one row).
    """
    if group_by not in GROUPS:
        raise ValueError(group_by)
    zone, codes, grants = _zone(), BenefitCode, BenefitGrant
    start = _local_start(max(day_from, EARLIEST_DAY), zone) if day_from else None
    end = _local_start(min(day_to, LATEST_DAY) + timedelta(days=1), zone) if day_to else None

    def in_range(column):
        bounds = [column.is_not(None)]
        if start is not None:
            bounds.append(column >= start)
        if end is not None:
            bounds.append(column < end)
        return and_(*bounds)

    issued = in_range(codes.issued_at)
    claimed = and_(codes.member_id.is_not(None), in_range(func.coalesce(grants.created_at, codes.issued_at)))
    redeemed, expired = in_range(codes.redeemed_at), in_range(codes.expired_at)

    def count(condition):
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    key = _group_key(group_by).label("key")
    query = (
        select(
            key,
            count(issued),
            count(claimed),
            count(redeemed),
            count(expired),
            count(and_(issued, codes.status == BenefitCodeStatus.REDEEMED)),
            func.coalesce(func.sum(case((issued, BenefitPurchase.unit_cost_fen), else_=0)), 0),
        )
        .select_from(codes)
        .join(BenefitPurchase, BenefitPurchase.id == codes.purchase_id)
        .outerjoin(grants, grants.code_id == codes.id)
        .where(or_(issued, claimed, redeemed, expired))
        .group_by(key)
    )
    if sku_id:
        query = query.where(codes.sku_id == sku_id)
    rows = db.session.execute(query).all()
    names = _names(group_by, [row[0] for row in rows])
    out = [
        {
            "group_by": group_by,
            "key": row[0],
            "name": names.get(row[0], row[0]),
            "issued": int(row[1]),
            "claimed": int(row[2]),
            "redeemed": int(row[3]),
            "expired": int(row[4]),
            "redeemed_of_issued": int(row[5]),
            "cost_fen": int(row[6]),
            "redemption_rate_bp": rate_bp(int(row[5]), int(row[1])),
        }
        for row in rows
    ]
    return sorted(out, key=lambda row: (-row["issued"], -row["claimed"], row["name"]))


# --- retention ---------------------------------------------------------------------------------------------


def _comparison_scan(month_begins: datetime, follow_days: int):
    """One pass over the sales from 90 days before the cohort month to ``follow_days`` after its first day: per
    member, the level and city of the last sale before the month (``active``: there is one) and the moment of
    the first sale after its first day (``back``)."""
    before = Sale.occurred_at < month_begins
    ranked = (
        select(
            Sale.member_id,
            Sale.level_id,
            func.coalesce(func.substr(Merchant.region_code, 1, 4), "").label("city"),
            before.label("active"),
            func.min(case((Sale.occurred_at > month_begins, Sale.occurred_at)))
            .over(partition_by=Sale.member_id)
            .label("back"),
            func.row_number()
            .over(
                partition_by=Sale.member_id,
                order_by=(case((before, 0), else_=1), Sale.occurred_at.desc(), Sale.id.desc()),
            )
            .label("n"),
        )
        .join(Merchant, Merchant.id == Sale.merchant_id)
        .where(
            Sale.occurred_at >= month_begins - timedelta(days=LOOKBACK_DAYS),
            Sale.occurred_at <= month_begins + timedelta(days=follow_days),
        )
        .subquery()
    )
    return (
        select(ranked.c.member_id, ranked.c.level_id, ranked.c.city, ranked.c.back)
        .where(ranked.c.n == 1, ranked.c.active)
        .subquery("strata")
    )


def _last_before(column, member_id, month_begins: datetime):
    """The member's last sale in the 90 days before the cohort month: its ``column`` (by the member's index)."""
    return (
        select(column)
        .select_from(Sale)
        .join(Merchant, Merchant.id == Sale.merchant_id)
        .where(
            Sale.member_id == member_id,
            Sale.occurred_at >= month_begins - timedelta(days=LOOKBACK_DAYS),
            Sale.occurred_at < month_begins,
        )
        .order_by(Sale.occurred_at.desc(), Sale.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def _first_sale_after(member_id, reference):
    """The moment of the member's first sale after ``reference`` (one probe of the member's index)."""
    return (
        select(func.min(Sale.occurred_at))
        .where(Sale.member_id == member_id, Sale.occurred_at > reference)
        .scalar_subquery()
    )


def _cohort_counts(begins: datetime, ends: datetime, now: datetime, horizons) -> list[StratumCounts]:
    """Per group and stratum: members, observed and returned per horizon (two grouped queries).

    The treated members' strata and returns are looked up member by member in the database through the
    sales' (member, time) index; the comparison members come from one pass over the sales from 90 days
    before the month to 90 days into it.
    """
    first = (
        select(BenefitGrant.member_id, func.min(BenefitGrant.created_at).label("t0"))
        .group_by(BenefitGrant.member_id)
        .subquery("first_grants")
    )
    city_of = func.coalesce(func.substr(Merchant.region_code, 1, 4), "")
    treated_members = (
        select(
            first.c.member_id,
            first.c.t0,
            _last_before(Sale.level_id, first.c.member_id, begins).label("level"),
            _last_before(city_of, first.c.member_id, begins).label("city"),
            _first_sale_after(first.c.member_id, first.c.t0).label("back"),
        )
        .where(first.c.t0 >= begins, first.c.t0 < ends)
        .subquery("treated")
    )
    level, city = func.coalesce(treated_members.c.level, "").label("level"), func.coalesce(treated_members.c.city, "")
    columns = []
    for days in horizons:
        observed = treated_members.c.t0 <= now - timedelta(days=days)
        came_back = treated_members.c.back <= add_days(treated_members.c.t0, days)
        columns += [func.sum(case((observed, 1), else_=0)), func.sum(case((and_(observed, came_back), 1), else_=0))]
    treated = db.session.execute(select(level, city.label("city"), func.count(), *columns).group_by(level, city)).all()
    strata = _comparison_scan(begins, max(horizons))
    no_benefit = ~exists(
        select(BenefitGrant.id).where(
            BenefitGrant.member_id == strata.c.member_id,
            BenefitGrant.created_at < ends + timedelta(days=max(horizons)),
        )
    )
    observable = [days for days in horizons if begins + timedelta(days=days) <= now]
    comparison = db.session.execute(
        select(
            strata.c.level_id,
            strata.c.city,
            func.count(),
            *[
                func.sum(case((strata.c.back <= literal(begins + timedelta(days=days), UTCDateTime()), 1), else_=0))
                for days in observable
            ],
        )
        .where(no_benefit)
        .group_by(strata.c.level_id, strata.c.city)
    ).all()
    rows = []
    for row in treated:
        counts = [int(value or 0) for value in row[3:]]
        rows.append(
            StratumCounts(
                TREATED,
                row[0],
                row[1],
                int(row[2]),
                {days: counts[2 * i] for i, days in enumerate(horizons)},
                {days: counts[2 * i + 1] for i, days in enumerate(horizons)},
            )
        )
    for row in comparison:
        members = int(row[2])
        rows.append(
            StratumCounts(
                COMPARISON,
                row[0],
                row[1],
                members,
                {days: members if days in observable else 0 for days in horizons},
                {days: int(row[3 + i] or 0) for i, days in enumerate(observable)},
            )
        )
    return rows


def retention(
    month_from: date | None = None, month_to: date | None = None, now: datetime | None = None, horizons=HORIZONS
) -> list[CohortRetention]:
    """Cohorts by the (local) month of the members' first benefit, ``month_from``..``month_to`` (default: the
    last 12 months), each with its 30 / 60 / 90-day return rates, the comparison's and the uplift."""
    now, zone = now or utcnow(), _zone()
    today = now.astimezone(zone).date()
    month_to = min(max(month_start(month_to or today), FIRST_MONTH), LAST_MONTH)
    earliest = months_before(month_to, MAX_COHORTS - 1)
    month_from = max(month_start(month_from or months_before(month_to, 11)), earliest, FIRST_MONTH)
    months = cohort_months(month_from, month_to)
    return [
        cohort_retention(
            month,
            _cohort_counts(_local_start(month, zone), _local_start(next_month(month), zone), now, horizons),
            horizons,
        )
        for month in months
    ]


def retention_rows(cohorts: list[CohortRetention]) -> list[dict]:
    """The cohorts as flat rows, one per cohort and horizon (the API's and the CSV's table)."""
    return [
        {
            "cohort_month": cohort.month.strftime("%Y-%m"),
            "days": rates.days,
            "treated": cohort.treated,
            "treated_active": cohort.treated_active,
            "comparison": cohort.comparison,
            "treated_observed": rates.treated_observed,
            "treated_returned": rates.treated_returned,
            "treated_rate_bp": rates.treated_rate_bp,
            "matched_observed": rates.matched_observed,
            "matched_returned": rates.matched_returned,
            "matched_rate_bp": rates.matched_rate_bp,
            "comparison_observed": rates.comparison_observed,
            "comparison_returned": rates.comparison_returned,
            "comparison_rate_bp": rates.comparison_rate_bp,
            "uplift_bp": rates.uplift_bp,
            "unmatched": rates.unmatched,
        }
        for cohort in cohorts
        for rates in cohort.horizons
    ]
