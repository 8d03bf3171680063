"""Reconciliation: statements, ledger and sales agree to the fen, and the ledger is balanced overall.

Each check returns the differences it found as sentences naming the row; an empty list means all agree.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import and_, func, select

from server.domain.settlement import DayActivity, FeeTerms, net_position
from server.extensions import db
from server.models import (
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    Merchant,
    PointsLot,
    Refund,
    Sale,
    Settlement,
    SettlementDay,
)
from server.services.points import lot_mismatches
from server.services.settlement import ACTIVITY_FIELDS, POSITION_FIELDS, day_activity, day_window


def check_statements(day: date) -> list[str]:
    """The day is closed, each settlement matches the sales and refunds, and its net position its figures."""
    closed = db.session.get(SettlementDay, day)
    if closed is None:
        return [f"business day {day.isoformat()} is not closed"]
    differences = []
    activity = day_activity(closed.window_start, closed.window_end)
    settlements = db.session.scalars(select(Settlement).where(Settlement.business_day == day)).all()
    seen = set()
    for row in settlements:
        seen.add(row.merchant_id)
        label = f"settlement {row.id} (merchant {row.merchant_id}, {day.isoformat()})"
        expected = activity.get(row.merchant_id, DayActivity())
        for name in ACTIVITY_FIELDS:
            if getattr(row, name) != getattr(expected, name):
                differences.append(f"{label}: {name} is {getattr(row, name)}, sales say {getattr(expected, name)}")
        stated = DayActivity(**{name: getattr(row, name) for name in ACTIVITY_FIELDS})
        position = net_position(stated, FeeTerms(row.fee_bp, row.fee_per_sale_fen), row.point_value_fen)
        for name in POSITION_FIELDS:
            if name != "commission_fen" and getattr(row, name) != getattr(position, name):
                differences.append(
                    f"{label}: {name} is {getattr(row, name)}, its figures give {getattr(position, name)}"
                )
    for merchant_id in sorted(set(activity) - seen):
        differences.append(f"merchant {merchant_id} has sales or refunds on {day.isoformat()} but no settlement")
    total = sum(row.net_fen for row in settlements)
    if closed.net_fen != total:
        differences.append(
            f"settlement day {day.isoformat()}: net_fen is {closed.net_fen}, its settlements sum to {total}"
        )
    return differences


def check_ledger_against_sales(day: date) -> list[str]:
    """Each merchant's issued/accepted entries from the day's sales and refunds equal the sales' points."""
    start, end = day_window(day)
    expected = day_activity(start, end)
    in_day = (
        select(LedgerTransaction.id)
        .outerjoin(Sale, and_(LedgerTransaction.kind == "sale", Sale.id == LedgerTransaction.sale_id))
        .outerjoin(Refund, and_(LedgerTransaction.kind == "refund", Refund.id == LedgerTransaction.refund_id))
        .where(
            ((Sale.created_at >= start) & (Sale.created_at < end))
            | ((Refund.created_at >= start) & (Refund.created_at < end))
        )
    )
    sums = dict(
        db.session.execute(
            select(LedgerEntry.account_id, func.sum(LedgerEntry.amount))
            .where(LedgerEntry.transaction_id.in_(in_day))
            .group_by(LedgerEntry.account_id)
        ).all()
    )
    differences = []
    merchants = db.session.execute(
        select(Merchant.id, Merchant.points_issued_account_id, Merchant.points_accepted_account_id).order_by(
            Merchant.id
        )
    )
    for merchant_id, issued, accepted in merchants:
        done = expected.get(merchant_id, DayActivity())
        granted = done.points_earned - done.points_reversed
        taken = done.points_redeemed - done.points_restored
        if -sums.get(issued, 0) != granted:
            differences.append(
                f"merchant {merchant_id} {day.isoformat()}: ledger account {issued} (points issued) moved "
                f"{sums.get(issued, 0)}, sales and refunds grant {granted}"
            )
        if sums.get(accepted, 0) != taken:
            differences.append(
                f"merchant {merchant_id} {day.isoformat()}: ledger account {accepted} (points accepted) moved "
                f"{sums.get(accepted, 0)}, sales and refunds accept {taken}"
            )
    return differences


def check_merchant_balances() -> list[str]:
    """Each merchant's issued and accepted balances equal what all its sales and refunds moved."""
    sales = {
        row[0]: row[1:]
        for row in db.session.execute(
            select(Sale.merchant_id, func.sum(Sale.points_earned), func.sum(Sale.redeem_points)).group_by(
                Sale.merchant_id
            )
        )
    }
    refunds = {
        row[0]: row[1:]
        for row in db.session.execute(
            select(Refund.merchant_id, func.sum(Refund.points_reversed), func.sum(Refund.points_restored)).group_by(
                Refund.merchant_id
            )
        )
    }
    issued, accepted = LedgerAccount.__table__.alias("issued"), LedgerAccount.__table__.alias("accepted")
    rows = db.session.execute(
        select(Merchant.id, issued.c.id, issued.c.balance, accepted.c.id, accepted.c.balance)
        .join(issued, issued.c.id == Merchant.points_issued_account_id)
        .join(accepted, accepted.c.id == Merchant.points_accepted_account_id)
        .order_by(Merchant.id)
    )
    differences = []
    for merchant_id, issued_id, issued_balance, accepted_id, accepted_balance in rows:
        earned, redeemed = (int(value or 0) for value in sales.get(merchant_id, (0, 0)))
        reversed_points, restored = (int(value or 0) for value in refunds.get(merchant_id, (0, 0)))
        if issued_balance != reversed_points - earned:
            differences.append(
                f"merchant {merchant_id}: ledger account {issued_id} (points issued) holds {issued_balance}, "
                f"its sales and refunds say {reversed_points - earned}"
            )
        if accepted_balance != redeemed - restored:
            differences.append(
                f"merchant {merchant_id}: ledger account {accepted_id} (points accepted) holds {accepted_balance}, "
                f"its sales and refunds say {redeemed - restored}"
            )
    return differences


def check_ledger_balanced() -> list[str]:
    """Every transaction sums to zero, cached balances equal their entries, lots equal member balances."""
    differences = [
        f"ledger transaction {txn_id} does not balance: its entries sum to {total}"
        for txn_id, total in db.session.execute(
            select(LedgerEntry.transaction_id, func.sum(LedgerEntry.amount))
            .group_by(LedgerEntry.transaction_id)
            .having(func.sum(LedgerEntry.amount) != 0)
            .order_by(LedgerEntry.transaction_id)
        )
    ]
    entry_sums = (
        select(LedgerEntry.account_id, func.sum(LedgerEntry.amount).label("total"))
        .group_by(LedgerEntry.account_id)
        .subquery()
    )
    for account_id, kind, owner, balance, total in db.session.execute(
        select(
            LedgerAccount.id,
            LedgerAccount.kind,
            LedgerAccount.owner_id,
            LedgerAccount.balance,
            func.coalesce(entry_sums.c.total, 0),
        )
        .outerjoin(entry_sums, entry_sums.c.account_id == LedgerAccount.id)
        .where(LedgerAccount.balance != func.coalesce(entry_sums.c.total, 0))
        .order_by(LedgerAccount.id)
    ):
        differences.append(
            f"ledger account {account_id} ({kind} {owner}): cached balance {balance}, its entries sum to {total}"
        )
    total = db.session.scalar(select(func.coalesce(func.sum(LedgerAccount.balance), 0)))
    if total != 0:
        differences.append(f"ledger accounts sum to {total}, not 0")
    for member_id, balance, open_points in lot_mismatches():
        differences.append(f"member {member_id}: points balance {balance}, open lots hold {open_points}")
    bad_lots = db.session.execute(
        select(PointsLot.id, PointsLot.points, PointsLot.remaining, PointsLot.expired_points).where(
            (PointsLot.remaining < 0) | (PointsLot.remaining + PointsLot.expired_points > func.abs(PointsLot.points))
        )
    )
    for lot_id, points, remaining, expired in bad_lots:
        differences.append(f"points lot {lot_id}: remaining {remaining} + expired {expired} exceed its {points} points")
    return differences


def reconcile(day: date) -> list[str]:
    """Every difference between statements, ledger and sales for ``day``, and in the ledger overall."""
    return check_statements(day) + check_ledger_against_sales(day) + check_merchant_balances() + check_ledger_balanced()
