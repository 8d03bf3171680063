"""Daily settlement: close a business day for every merchant, statements down to each sale.

Closing is set-based: two GROUP BY queries over the day's sales and refunds (one row per merchant),
the net positions computed by ``server.domain.settlement`` for each merchant, and one insert of the
settlement rows. Sales and refunds belong to the business day in which the server recorded them
(``created_at``): a refund or an offline sale arriving after its day was closed lands in the day it was
recorded, the next open day, and a closed day never changes. A day may be closed only
``SETTLEMENT_GRACE_MINUTES`` after it ended, so no transaction still running can write into it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import func, insert, select

from server.domain import money_ledger as money
from server.domain.commissions import FUNDING_WITHIN_FEE
from server.domain.errors import Conflict, InvalidRequest, NotFound
from server.domain.permissions import merchant_in_scope
from server.domain.settlement import (
    DayActivity,
    FeeTerms,
    NetPosition,
    business_day_of,
    business_day_window,
    net_position,
    voucher_owed_fen,
)
from server.domain.statuses import MerchantStatus, SettlementStatus
from server.extensions import db
from server.models import Merchant, Refund, Sale, SaleVoucher, Settlement, SettlementDay
from server.models.base import new_id, utcnow
from server.services import commissions, locks, money_ledger
from server.services.alliance import get_settings
from server.services.audit import audit
from server.services.unit_of_work import transactional

ACTIVITY_FIELDS = tuple(field.name for field in fields(DayActivity))
POSITION_FIELDS = tuple(field.name for field in fields(NetPosition))
SETTLEMENT_LOCK = "settlement"  # advisory lock (server/services/locks.py): one closer at a time


@dataclass(frozen=True)
class CloseResult:
    """A closed day and whether this call closed it (False: it was closed already, nothing changed)."""

    day: SettlementDay
    closed_now: bool


def day_window(day: date) -> tuple[datetime, datetime]:
    """``[start, end)`` in UTC of a business day by the alliance's time zone and cut-off hour."""
    settings = get_settings()
    return business_day_window(day, settings.timezone, settings.business_day_cutoff_hour)


def current_business_day(now: datetime | None = None) -> date:
    """The business day running now."""
    settings = get_settings()
    return business_day_of(now or utcnow(), settings.timezone, settings.business_day_cutoff_hour)


def last_closed_day() -> SettlementDay | None:
    """The latest business day closed, if any."""
    return db.session.scalar(select(SettlementDay).order_by(SettlementDay.business_day.desc()).limit(1))


def last_ended_business_day() -> date:
    """The business day before the one running now: the last one that has ended."""
    return current_business_day() - timedelta(days=1)


_SALE_FIELDS = ("sales_count", "member_sales_fen", "points_earned", "points_redeemed")
_REFUND_FIELDS = ("refunds_count", "refunds_fen", "points_reversed", "points_restored")
_VOUCHER_FIELDS = ("vouchers_count", "voucher_fen", "voucher_refunded_fen", "voucher_owed_fen", "voucher_sponsored_fen")


def day_activity(start: datetime, end: datetime, merchant_id: str | None = None) -> dict[str, DayActivity]:
    """Each merchant's sales, refunds and vouchers recorded in ``[start, end)`` (GROUP BY queries)."""
    sales = select(
        Sale.merchant_id,
        func.count(),
        func.sum(Sale.payable_fen),
        func.sum(Sale.points_earned),
        func.sum(Sale.redeem_points),
    ).where(Sale.created_at >= start, Sale.created_at < end)
    refunds = select(
        Refund.merchant_id,
        func.count(),
        func.sum(Refund.amount_fen),
        func.sum(Refund.points_reversed),
        func.sum(Refund.points_restored),
    ).where(Refund.created_at >= start, Refund.created_at < end)
    if merchant_id is not None:
        sales, refunds = sales.where(Sale.merchant_id == merchant_id), refunds.where(Refund.merchant_id == merchant_id)
    found: dict[str, dict] = {}
    for row in db.session.execute(sales.group_by(Sale.merchant_id)):
        found.setdefault(row[0], {}).update(zip(_SALE_FIELDS, map(int, row[1:]), strict=True))
    for row in db.session.execute(refunds.group_by(Refund.merchant_id)):
        found.setdefault(row[0], {}).update(zip(_REFUND_FIELDS, map(int, row[1:]), strict=True))
    vouchers, _alliance = voucher_activity(start, end, merchant_id)
    for merchant, values in vouchers.items():
        found.setdefault(merchant, {}).update(values)
    return {merchant: DayActivity(**values) for merchant, values in found.items()}


def voucher_activity(start: datetime, end: datetime, merchant_id: str | None = None) -> tuple[dict[str, dict], int]:
    """Each merchant's voucher figures recorded in ``[start, end)``, and the alliance's side (alliance-funded).

    A redemption counts on the day of its sale, a refunded share on the day of its refund (as sales and
    refunds do); what a sponsor is charged follows the vouchers accepted at the other merchants.
    """
    redeemed = select(
        SaleVoucher.merchant_id, SaleVoucher.funder_merchant_id, func.count(), func.sum(SaleVoucher.value_fen)
    ).where(SaleVoucher.created_at >= start, SaleVoucher.created_at < end)
    refunded = (
        select(Refund.merchant_id, SaleVoucher.funder_merchant_id, func.sum(Refund.voucher_fen))
        .join(SaleVoucher, SaleVoucher.sale_id == Refund.sale_id)
        .where(Refund.created_at >= start, Refund.created_at < end, Refund.voucher_fen > 0)
    )
    if merchant_id is not None:
        redeemed = redeemed.where(
            (SaleVoucher.merchant_id == merchant_id) | (SaleVoucher.funder_merchant_id == merchant_id)
        )
        refunded = refunded.where((Refund.merchant_id == merchant_id) | (SaleVoucher.funder_merchant_id == merchant_id))
    found: dict[str, dict] = {}
    alliance = 0

    def add(merchant: str, name: str, fen: int) -> None:
        figures = found.setdefault(merchant, dict.fromkeys(_VOUCHER_FIELDS, 0))
        figures[name] += fen

    def move(accepting: str, funder: str | None, net_fen: int) -> None:
        nonlocal alliance
        add(accepting, "voucher_owed_fen", voucher_owed_fen(funder, accepting, net_fen))
        if funder is None:
            alliance += net_fen
        elif funder != accepting:
            add(funder, "voucher_sponsored_fen", net_fen)

    for accepting, funder, count, value in db.session.execute(
        redeemed.group_by(SaleVoucher.merchant_id, SaleVoucher.funder_merchant_id)
    ):
        add(accepting, "vouchers_count", int(count))
        add(accepting, "voucher_fen", int(value))
        move(accepting, funder, int(value))
    for accepting, funder, value in db.session.execute(
        refunded.group_by(Refund.merchant_id, SaleVoucher.funder_merchant_id)
    ):
        add(accepting, "voucher_refunded_fen", int(value))
        move(accepting, funder, -int(value))
    if merchant_id is not None:
        found = {merchant: values for merchant, values in found.items() if merchant == merchant_id}
    return found, alliance


def _lock_settlement() -> None:
    """Serialize closers on PostgreSQL (SQLite's BEGIN IMMEDIATE already admits one writer)."""
    locks.lock(SETTLEMENT_LOCK)


@transactional
def close_day(actor: str, day: date, now: datetime | None = None) -> CloseResult:
    """Close ``day`` for every merchant: one settlement row each, locked, audited; closing again changes nothing."""
    _lock_settlement()
    existing = db.session.get(SettlementDay, day)
    if existing is not None:
        return CloseResult(existing, False)
    settings = get_settings()
    start, end = business_day_window(day, settings.timezone, settings.business_day_cutoff_hour)
    if not _closable(day, now):
        grace = timedelta(minutes=current_app.config["SETTLEMENT_GRACE_MINUTES"])
        raise Conflict(
            "This business day has not ended yet (or ended moments ago).",
            business_day=day.isoformat(),
            closable_from=(end + grace).isoformat(),
        )
    activity = day_activity(start, end)
    _vouchers, voucher_alliance = voucher_activity(start, end)
    commission = commissions.close_day(day, start, end, actor)  # earned, released; each merchant's line
    within_fee = commissions.policy_row().funding == FUNDING_WITHIN_FEE
    # every active merchant gets its row (zero on a quiet day), any other merchant if it had activity
    merchants = db.session.execute(
        select(Merchant.id, Merchant.service_fee_bp, Merchant.service_fee_per_sale_fen)
        .where((Merchant.status == MerchantStatus.ACTIVE) | Merchant.id.in_([*activity, *commission]))
        .order_by(Merchant.id)
    ).all()
    closed_at = utcnow()
    rows = []
    for merchant_id, fee_bp, fee_per_sale in merchants:
        done = activity.get(merchant_id, DayActivity())
        position = net_position(
            done, FeeTerms(fee_bp, fee_per_sale), settings.point_value_fen, commission.get(merchant_id, 0), within_fee
        )
        rows.append(
            {
                "id": new_id("stl"),
                "merchant_id": merchant_id,
                "business_day": day,
                "status": SettlementStatus.CLOSED,
                **{name: getattr(done, name) for name in ACTIVITY_FIELDS},
                "point_value_fen": settings.point_value_fen,
                "fee_bp": fee_bp,
                "fee_per_sale_fen": fee_per_sale,
                **{name: getattr(position, name) for name in POSITION_FIELDS},
                "commission_within_fee": within_fee,
                "closed_at": closed_at,
            }
        )
    closed = SettlementDay(
        business_day=day,
        status=SettlementStatus.CLOSED,
        window_start=start,
        window_end=end,
        point_value_fen=settings.point_value_fen,
        merchants=len(rows),
        net_fen=sum(row["net_fen"] for row in rows),
        voucher_alliance_fen=voucher_alliance,
        closed_by=actor,
        closed_at=closed_at,
    )
    db.session.add(closed)
    db.session.flush()
    if rows:
        db.session.execute(insert(Settlement.__table__), rows)
    commissions.post_service_fees(day, {row["merchant_id"]: row["service_fee_fen"] for row in rows}, actor)
    post_vouchers(day, rows, voucher_alliance, actor)
    audit(actor, "settlement.close", "settlement_day", day.isoformat(), merchants=len(rows), net_fen=closed.net_fen)
    return CloseResult(closed, True)


def post_vouchers(day: date, rows: list[dict], alliance_fen: int, actor: str) -> None:
    """The day's vouchers into the money ledger: what funders owe the accepting merchants.

    Each accepting merchant's voucher receivable +owed, each sponsoring merchant's voucher payable −charged,
    the alliance's voucher funding −(its side); the postings sum to zero (money ledger, one transaction).
    """
    postings = []
    for row in rows:
        if row["voucher_owed_fen"]:
            receivable = money_ledger.account(money.MERCHANT, row["merchant_id"], money.MERCHANT_VOUCHER_RECEIVABLE)
            postings.append(money.Posting(receivable, row["voucher_owed_fen"]))
        if row["voucher_sponsored_fen"]:
            payable = money_ledger.account(money.MERCHANT, row["merchant_id"], money.MERCHANT_VOUCHER_PAYABLE)
            postings.append(money.Posting(payable, -row["voucher_sponsored_fen"]))
    if alliance_fen:
        postings.append(money.Posting(money_ledger.alliance_account(money.VOUCHER_FUNDING), -alliance_fen))
    if postings:
        money_ledger.post(money.VOUCHERS_SETTLED, f"vouchers:{day.isoformat()}", postings, actor, business_day=day)


MAX_DAYS_PER_RUN = 92


def first_activity_day() -> date | None:
    """The business day of the earliest sale or refund (None: nothing happened yet)."""
    earliest = [
        moment
        for moment in (
            db.session.scalar(select(func.min(Sale.created_at))),
            db.session.scalar(select(func.min(Refund.created_at))),
        )
        if moment is not None
    ]
    if not earliest:
        return None
    settings = get_settings()
    return business_day_of(min(earliest), settings.timezone, settings.business_day_cutoff_hour)


@transactional
def close_through(actor: str, day: date, now: datetime | None = None) -> list[date]:
    """Close every day still open from the first day with activity through ``day``, oldest first.

    At most MAX_DAYS_PER_RUN days in one call (the next call goes on); returns the days closed now.
    """
    _lock_settlement()
    start = min(first_activity_day() or day, day)
    closed = set(
        db.session.scalars(
            select(SettlementDay.business_day).where(
                SettlementDay.business_day >= start, SettlementDay.business_day <= day
            )
        )
    )
    open_days = [
        start + timedelta(days=offset)
        for offset in range((day - start).days + 1)
        if start + timedelta(days=offset) not in closed
    ]
    if open_days and open_days[-1] == day and not _closable(day, now):
        open_days.pop()  # still running (or within the grace period): the days before it can close
        if not open_days:
            close_day(actor, day, now)  # raises Conflict, naming when it can close
    return [close_day(actor, open_day, now).day.business_day for open_day in open_days[:MAX_DAYS_PER_RUN]]


def _closable(day: date, now: datetime | None) -> bool:
    grace = timedelta(minutes=current_app.config["SETTLEMENT_GRACE_MINUTES"])
    return (now or utcnow()) >= day_window(day)[1] + grace


def get_settlement(settlement_id: str, merchant_scope: str | None) -> Settlement:
    """A merchant's settlement by id, seen from ``merchant_scope`` (None: the whole alliance)."""
    found = db.session.get(Settlement, settlement_id)
    if found is None or not merchant_in_scope(merchant_scope, found.merchant_id):
        raise NotFound("No such settlement.", settlement_id=settlement_id)
    return found


MAX_LISTED_DAYS = 92


def filter_settlements(query, filters: dict):
    """``query`` narrowed to the merchant and the day range in ``filters`` (each optional)."""
    if filters.get("merchant_id"):
        query = query.where(Settlement.merchant_id == filters["merchant_id"])
    if filters.get("day_from"):
        query = query.where(Settlement.business_day >= filters["day_from"])
    if filters.get("day_to"):
        query = query.where(Settlement.business_day <= filters["day_to"])
    return query


def list_settlements(filters: dict) -> list[tuple[Settlement, str]]:
    """Settlements (with the merchant's name) by day range and merchant, by day then merchant name.

    Without a range: the last closed day. A range spans at most MAX_LISTED_DAYS days.
    """
    if not filters.get("day_from") and not filters.get("day_to"):
        last = db.session.scalar(select(func.max(SettlementDay.business_day)))
        filters = {**filters, "day_from": last, "day_to": last}
    first, last = filters.get("day_from"), filters.get("day_to")
    if first is None or last is None or (last - first).days >= MAX_LISTED_DAYS:
        if first is not None or last is not None:
            raise InvalidRequest(
                f"List settlements over a range of at most {MAX_LISTED_DAYS} days (day_from and day_to).",
                field="day_from",
            )
        return []
    query = filter_settlements(
        select(Settlement, Merchant.name).join(Merchant, Merchant.id == Settlement.merchant_id), filters
    )
    return [tuple(row) for row in db.session.execute(query.order_by(Settlement.business_day, Merchant.name))]


def statement_lines(settlement: Settlement) -> list[dict]:
    """The settlement's lines, one per sale and per refund of the day, in the order they were recorded.

    Made from the sales and refunds on demand (not copied at closing); their sums are the settlement's.
    """
    start, end = db.session.execute(
        select(SettlementDay.window_start, SettlementDay.window_end).where(
            SettlementDay.business_day == settlement.business_day
        )
    ).one()
    value = settlement.point_value_fen
    lines = []
    sales = db.session.execute(
        select(Sale)
        .where(Sale.merchant_id == settlement.merchant_id, Sale.created_at >= start, Sale.created_at < end)
        .order_by(Sale.created_at, Sale.id)
    ).scalars()
    for sale in sales:
        lines.append(
            {
                "kind": "sale",
                "recorded_at": sale.created_at,
                "sale_id": sale.id,
                "refund_id": None,
                "receipt_no": sale.receipt_no,
                "amount_fen": sale.amount_fen,
                "money_fen": sale.payable_fen,
                "points_granted": sale.points_earned,
                "points_accepted": sale.redeem_points,
                "granted_value_fen": sale.points_earned * value,
                "accepted_value_fen": sale.redeem_points * value,
                "per_sale_fee_fen": settlement.fee_per_sale_fen,
                "fee_fen": settlement.fee_per_sale_fen,
            }
        )
    refunds = db.session.execute(
        select(Refund, Sale.receipt_no)
        .join(Sale, Sale.id == Refund.sale_id)
        .where(Refund.merchant_id == settlement.merchant_id, Refund.created_at >= start, Refund.created_at < end)
        .order_by(Refund.created_at, Refund.id)
    )
    for refund, receipt_no in refunds:
        lines.append(
            {
                "kind": "refund",
                "recorded_at": refund.created_at,
                "sale_id": refund.sale_id,
                "refund_id": refund.id,
                "receipt_no": receipt_no,
                "amount_fen": -refund.amount_fen,
                "money_fen": -refund.amount_fen,
                "points_granted": -refund.points_reversed,
                "points_accepted": -refund.points_restored,
                "granted_value_fen": -refund.points_reversed * value,
                "accepted_value_fen": -refund.points_restored * value,
                "per_sale_fee_fen": 0,
                "fee_fen": 0,
            }
        )
    lines.extend(_voucher_lines(settlement.merchant_id, start, end))
    lines.sort(key=lambda line: line["recorded_at"])
    lines.extend(_closing_lines(settlement, end))
    for line in lines:
        line.setdefault("voucher_fen", 0)
        line.setdefault("voucher_owed_fen", 0)
        line["net_fen"] = (
            line["accepted_value_fen"] - line["granted_value_fen"] - line["fee_fen"] + line["voucher_owed_fen"]
        )
    return lines


def _voucher_lines(merchant_id: str, start: datetime, end: datetime) -> list[dict]:
    """One line per voucher accepted here (and per refunded share), and per voucher this merchant sponsors
    that another merchant accepted: ``voucher_fen`` its value, ``voucher_owed_fen`` what moves for it."""
    blank = dict.fromkeys(
        ("amount_fen", "money_fen", "points_granted", "points_accepted", "granted_value_fen", "accepted_value_fen"),
        0,
    )
    blank.update(per_sale_fee_fen=0, fee_fen=0)
    lines = []
    redeemed = db.session.execute(
        select(SaleVoucher, Sale.receipt_no)
        .join(Sale, Sale.id == SaleVoucher.sale_id)
        .where(
            (SaleVoucher.merchant_id == merchant_id) | (SaleVoucher.funder_merchant_id == merchant_id),
            SaleVoucher.created_at >= start,
            SaleVoucher.created_at < end,
        )
        .order_by(SaleVoucher.created_at, SaleVoucher.sale_id)
    )
    for voucher, receipt_no in redeemed:
        owed = voucher_owed_fen(voucher.funder_merchant_id, voucher.merchant_id, voucher.value_fen)
        accepted_here = voucher.merchant_id == merchant_id
        lines.append(
            {
                **blank,
                "kind": "voucher" if accepted_here else "voucher_sponsored",
                "recorded_at": voucher.created_at,
                "sale_id": voucher.sale_id,
                "refund_id": None,
                "receipt_no": receipt_no,
                "voucher_fen": voucher.value_fen if accepted_here else 0,
                "voucher_owed_fen": owed if accepted_here else -owed,
            }
        )
    refunded = db.session.execute(
        select(Refund, SaleVoucher, Sale.receipt_no)
        .join(SaleVoucher, SaleVoucher.sale_id == Refund.sale_id)
        .join(Sale, Sale.id == Refund.sale_id)
        .where(
            (Refund.merchant_id == merchant_id) | (SaleVoucher.funder_merchant_id == merchant_id),
            Refund.created_at >= start,
            Refund.created_at < end,
            Refund.voucher_fen > 0,
        )
        .order_by(Refund.created_at, Refund.id)
    )
    for refund, voucher, receipt_no in refunded:
        owed = voucher_owed_fen(voucher.funder_merchant_id, voucher.merchant_id, refund.voucher_fen)
        accepted_here = voucher.merchant_id == merchant_id
        lines.append(
            {
                **blank,
                "kind": "voucher_refund" if accepted_here else "voucher_sponsored_refund",
                "recorded_at": refund.created_at,
                "sale_id": refund.sale_id,
                "refund_id": refund.id,
                "receipt_no": receipt_no,
                "voucher_fen": -refund.voucher_fen if accepted_here else 0,
                "voucher_owed_fen": -owed if accepted_here else owed,
            }
        )
    return lines


def _closing_lines(settlement: Settlement, day_end: datetime) -> list[dict]:
    """The day's closing charges: the service fee on net member sales, and each commission entry.

    With them the lines' net positions add up to the settlement's net position to the fen.
    """
    per_sale = settlement.sales_count * settlement.fee_per_sale_fen
    charges = [("service_fee", settlement.service_fee_fen - per_sale, None, "")]
    # each commission entry of the day (earned at the closing, or taken back by a refund or a flag that day)
    charges += [
        ("commission", line["fen"], line["commission"].sale_id, line["receipt_no"])
        for line in commissions.statement_entries(settlement.merchant_id, settlement.business_day)
    ]
    blank = dict.fromkeys(("amount_fen", "money_fen", "points_granted", "points_accepted"), 0)
    return [
        {
            "kind": kind,
            "recorded_at": day_end,
            "sale_id": sale_id,
            "refund_id": None,
            "receipt_no": receipt_no,
            **blank,
            "granted_value_fen": 0,
            "accepted_value_fen": 0,
            "per_sale_fee_fen": 0,
            "fee_fen": amount,
        }
        for kind, amount, sale_id, receipt_no in charges
        if amount
    ]


@transactional
def set_payment(actor: str, settlement_id: str, paid: bool, reference: str = "") -> Settlement:
    """Mark a settlement paid (with the transfer's reference) or unpaid again; audited, repeatable."""
    found = get_settlement(settlement_id, None)
    if paid and found.paid_at is None:
        found.paid_at, found.paid_by = utcnow(), actor
    elif not paid:
        found.paid_at, found.paid_by = None, None
    found.payment_reference = reference.strip() if paid else ""
    audit(
        actor,
        "settlement.paid" if paid else "settlement.unpaid",
        "settlement",
        found.id,
        merchant_id=found.merchant_id,
        business_day=found.business_day.isoformat(),
        net_fen=found.net_fen,
        reference=found.payment_reference,
    )
    return found
