"""Finance reports: settlements by merchant and by day, sales by level, points liability and breakage.

Money figures come from closed settlements (what merchants were actually settled); the level report
reads the sales of the business days asked for; the points report is the ledger as it stands now.
Rates are integer basis points, rounded down.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import BigInteger, cast, func, select

from alliance_shared.money import BP_SCALE
from server.domain.ledger import (
    ALLIANCE_ADJUSTMENTS,
    ALLIANCE_EXPIRY,
    ALLIANCE_FORFEITED,
    MEMBER_POINTS,
    MERCHANT_ACCEPTED,
    MERCHANT_ISSUED,
)
from server.exports import MIMETYPES
from server.extensions import db
from server.models import LedgerAccount, Level, Merchant, PointsLot, Sale, Settlement
from server.services import commissions
from server.services.alliance import get_settings
from server.services.catalog import bank_account_number
from server.services.points import alliance_today
from server.services.settlement import day_window, filter_settlements, get_settlement, statement_lines
from server.services.statements import StatementParty, statement_pdf, statement_table

SUMMED = (
    "sales_count",
    "member_sales_fen",
    "refunds_count",
    "refunds_fen",
    "points_granted",
    "points_accepted",
    "granted_value_fen",
    "accepted_value_fen",
    "service_fee_fen",
    "commission_fen",
    "net_fen",
)


def _total(column):
    """SUM as an integer (PostgreSQL sums BIGINT as NUMERIC, which would come back as Decimal)."""
    return cast(func.coalesce(func.sum(column), 0), BigInteger)


def _sums():
    return [_total(getattr(Settlement, name)).label(name) for name in SUMMED]


def merchants_report(filters: dict) -> list[dict]:
    """Per merchant over the closed days in range: activity, points, fees and net position."""
    query = filter_settlements(
        select(
            Settlement.merchant_id,
            Merchant.name.label("merchant_name"),
            func.count().label("days"),
            *_sums(),
        )
        .join(Merchant, Merchant.id == Settlement.merchant_id)
        .group_by(Settlement.merchant_id, Merchant.name),
        filters,
    )
    return [dict(row._mapping) for row in db.session.execute(query.order_by(Merchant.name, Settlement.merchant_id))]


def days_report(filters: dict) -> list[dict]:
    """Per closed business day (all merchants, or the one asked for): the same totals."""
    query = filter_settlements(
        select(Settlement.business_day, func.count().label("merchants"), *_sums()).group_by(Settlement.business_day),
        filters,
    )
    return [dict(row._mapping) for row in db.session.execute(query.order_by(Settlement.business_day))]


def levels_report(filters: dict) -> list[dict]:
    """Per member level: the sales recorded in the business days asked for (at one merchant, if asked)."""
    query = (
        select(
            Level.code.label("level_code"),
            Level.name.label("level_name"),
            func.count(Sale.id).label("sales_count"),
            _total(Sale.amount_fen).label("amount_fen"),
            _total(Sale.discount_fen).label("discount_fen"),
            _total(Sale.payable_fen).label("member_sales_fen"),
            _total(Sale.refunded_fen).label("refunded_fen"),
            _total(Sale.points_earned).label("points_earned"),
            _total(Sale.redeem_points).label("points_redeemed"),
        )
        .join(Sale, Sale.level_id == Level.id)
        .group_by(Level.code, Level.name, Level.rank)
        .order_by(Level.rank)
    )
    if filters.get("day_from"):
        query = query.where(Sale.created_at >= day_window(filters["day_from"])[0])
    if filters.get("day_to"):
        query = query.where(Sale.created_at < day_window(filters["day_to"])[1])
    if filters.get("merchant_id"):
        query = query.where(Sale.merchant_id == filters["merchant_id"])
    return [dict(row._mapping) for row in db.session.execute(query)]


def _rate_bp(part: int, whole: int) -> int:
    return part * BP_SCALE // whole if whole > 0 else 0


def points_report() -> dict:
    """Points outstanding (the alliance's liability), breakage, redemption rate, as the ledger stands now."""
    settings = get_settings()
    balances = dict(
        db.session.execute(
            select(LedgerAccount.kind, func.sum(LedgerAccount.balance)).group_by(LedgerAccount.kind)
        ).all()
    )
    outstanding = int(balances.get(MEMBER_POINTS, 0))
    granted = -int(balances.get(MERCHANT_ISSUED, 0))  # net of refunds' take-backs
    redeemed = int(balances.get(MERCHANT_ACCEPTED, 0))
    expired = int(balances.get(ALLIANCE_EXPIRY, 0))
    forfeited = int(balances.get(ALLIANCE_FORFEITED, 0))  # closed accounts: breakage like expiry
    adjusted = -int(balances.get(ALLIANCE_ADJUSTMENTS, 0))
    credited = granted + adjusted
    today = alliance_today(settings)
    horizon = select(func.coalesce(func.sum(PointsLot.remaining), 0)).where(PointsLot.remaining > 0)
    value = settings.point_value_fen
    return {
        "as_of": today,
        "point_value_fen": value,
        "points_outstanding": outstanding,
        "outstanding_value_fen": outstanding * value,
        "points_granted": granted,
        "points_adjusted": adjusted,
        "points_redeemed": redeemed,
        "points_expired": expired,
        "points_forfeited": forfeited,
        "breakage_value_fen": (expired + forfeited) * value,
        "redemption_rate_bp": _rate_bp(redeemed, credited),
        "breakage_rate_bp": _rate_bp(expired + forfeited, credited),
        "expiry_notice_days": settings.expiry_notice_days,
        "points_expiring_soon": int(
            db.session.scalar(
                horizon.where(PointsLot.expires_on <= today + timedelta(days=settings.expiry_notice_days))
            )
        ),
        "open_lots": int(db.session.scalar(select(func.count()).where(PointsLot.remaining > 0)) or 0),
    }


def settlement_detail(settlement_id: str, merchant_scope: str | None) -> dict:
    """A settlement with its merchant (and the merchant's name) and its lines down to each sale."""
    found = get_settlement(settlement_id, merchant_scope)
    merchant = db.session.get(Merchant, found.merchant_id)
    return {
        "settlement": found,
        "merchant": merchant,
        "merchant_name": merchant.name,
        "lines": statement_lines(found),
        "management_notice": commissions.management_notice(found.business_day),
    }


STATEMENT_FORMATS = ("csv", "xlsx", "pdf")


def render_statement(
    settlement_id: str, merchant_scope: str | None, fmt: str, reveal_account: bool = False
) -> tuple[bytes, str, str]:
    """The statement as ``csv``, ``xlsx`` or ``pdf``: its content, file name and media type.

    The PDF names the merchant's settlement account, its number in full only for finance (``reveal_account``).
    """
    detail = settlement_detail(settlement_id, merchant_scope)
    found, merchant = detail["settlement"], detail["merchant"]
    filename = f"statement-{found.business_day.isoformat()}-{found.merchant_id}.{fmt}"
    if fmt != "pdf":
        return statement_table(detail["lines"], fmt), filename, MIMETYPES[fmt]
    party = StatementParty(
        merchant.name,
        merchant.bank_account_name,
        merchant.bank_name,
        bank_account_number(merchant) if reveal_account else merchant.bank_account_masked,
    )
    pdf = statement_pdf(found, party, detail["lines"], get_settings().name, detail["management_notice"])
    return pdf, filename, "application/pdf"
