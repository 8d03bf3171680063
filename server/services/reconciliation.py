"""Reconciliation: statements, ledger and sales agree to the fen, and the ledger is balanced overall.

Each check returns the differences it found as sentences naming the row; an empty list means all agree.
A difference reads as English (the CLI) and keeps its template and values so that pages can translate it.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import and_, func, select

from server.domain.settlement import DayActivity, FeeTerms, net_position
from server.extensions import db
from server.models import (
    Commission,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    Merchant,
    MoneyAccount,
    MoneyEntry,
    PointsLot,
    Refund,
    Sale,
    Settlement,
    SettlementDay,
)
from server.services import commissions
from server.services.points import lot_mismatches
from server.services.settlement import ACTIVITY_FIELDS, POSITION_FIELDS, day_activity, day_window, voucher_activity


class Difference(str):
    """One difference as an English sentence, with its ``template`` (a msgid) and ``values`` for translation."""

    template: str
    values: dict

    def __new__(cls, template: str, **values):
        text = super().__new__(cls, template % values)
        text.template, text.values = template, values
        return text


def check_statements(day: date) -> list[str]:
    """The day is closed, each settlement matches the sales and refunds, and its net position its figures."""
    closed = db.session.get(SettlementDay, day)
    if closed is None:
        return [Difference("business day %(day)s is not closed", day=day.isoformat())]
    differences = []
    activity = day_activity(closed.window_start, closed.window_end)
    settlements = db.session.scalars(select(Settlement).where(Settlement.business_day == day)).all()
    seen = set()
    for row in settlements:
        seen.add(row.merchant_id)
        where = {"settlement": row.id, "merchant": row.merchant_id, "day": day.isoformat()}
        expected = activity.get(row.merchant_id, DayActivity())
        for name in ACTIVITY_FIELDS:
            if getattr(row, name) != getattr(expected, name):
                differences.append(
                    Difference(
                        "settlement %(settlement)s (merchant %(merchant)s, %(day)s): %(field)s is %(stated)s, "
                        "sales say %(expected)s",
                        **where,
                        field=name,
                        stated=getattr(row, name),
                        expected=getattr(expected, name),
                    )
                )
        stated = DayActivity(**{name: getattr(row, name) for name in ACTIVITY_FIELDS})
        position = net_position(
            stated,
            FeeTerms(row.fee_bp, row.fee_per_sale_fen),
            row.point_value_fen,
            row.commission_fen,
            row.commission_within_fee,
        )
        for name in POSITION_FIELDS:
            if getattr(row, name) != getattr(position, name):
                differences.append(
                    Difference(
                        "settlement %(settlement)s (merchant %(merchant)s, %(day)s): %(field)s is %(stated)s, "
                        "its figures give %(expected)s",
                        **where,
                        field=name,
                        stated=getattr(row, name),
                        expected=getattr(position, name),
                    )
                )
    for merchant_id in sorted(set(activity) - seen):
        differences.append(
            Difference(
                "merchant %(merchant)s has sales or refunds on %(day)s but no settlement",
                merchant=merchant_id,
                day=day.isoformat(),
            )
        )
    total = sum(row.net_fen for row in settlements)
    if closed.net_fen != total:
        differences.append(
            Difference(
                "settlement day %(day)s: net_fen is %(stated)s, its settlements sum to %(expected)s",
                day=day.isoformat(),
                stated=closed.net_fen,
                expected=total,
            )
        )
    _vouchers, alliance = voucher_activity(closed.window_start, closed.window_end)
    if closed.voucher_alliance_fen != alliance:
        differences.append(
            Difference(
                "settlement day %(day)s: voucher_alliance_fen is %(stated)s, the vouchers redeemed say %(expected)s",
                day=day.isoformat(),
                stated=closed.voucher_alliance_fen,
                expected=alliance,
            )
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
                Difference(
                    "merchant %(merchant)s %(day)s: ledger account %(account)s (points issued) moved %(stated)s, "
                    "sales and refunds grant %(expected)s",
                    merchant=merchant_id,
                    day=day.isoformat(),
                    account=issued,
                    stated=sums.get(issued, 0),
                    expected=granted,
                )
            )
        if sums.get(accepted, 0) != taken:
            differences.append(
                Difference(
                    "merchant %(merchant)s %(day)s: ledger account %(account)s (points accepted) moved %(stated)s, "
                    "sales and refunds accept %(expected)s",
                    merchant=merchant_id,
                    day=day.isoformat(),
                    account=accepted,
                    stated=sums.get(accepted, 0),
                    expected=taken,
                )
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
                Difference(
                    "merchant %(merchant)s: ledger account %(account)s (points issued) holds %(stated)s, "
                    "its sales and refunds say %(expected)s",
                    merchant=merchant_id,
                    account=issued_id,
                    stated=issued_balance,
                    expected=reversed_points - earned,
                )
            )
        if accepted_balance != redeemed - restored:
            differences.append(
                Difference(
                    "merchant %(merchant)s: ledger account %(account)s (points accepted) holds %(stated)s, "
                    "its sales and refunds say %(expected)s",
                    merchant=merchant_id,
                    account=accepted_id,
                    stated=accepted_balance,
                    expected=redeemed - restored,
                )
            )
    return differences


def check_ledger_balanced() -> list[str]:
    """Every transaction sums to zero, cached balances equal their entries, lots equal member balances."""
    differences = [
        Difference(
            "ledger transaction %(transaction)s does not balance: its entries sum to %(stated)s",
            transaction=txn_id,
            stated=total,
        )
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
            Difference(
                "ledger account %(account)s (%(kind)s %(owner)s): cached balance %(stated)s, "
                "its entries sum to %(expected)s",
                account=account_id,
                kind=kind,
                owner=owner,
                stated=balance,
                expected=total,
            )
        )
    total = db.session.scalar(select(func.coalesce(func.sum(LedgerAccount.balance), 0)))
    if total != 0:
        differences.append(Difference("ledger accounts sum to %(stated)s, not 0", stated=total))
    for member_id, balance, open_points in lot_mismatches():
        differences.append(
            Difference(
                "member %(member)s: points balance %(stated)s, open lots hold %(expected)s",
                member=member_id,
                stated=balance,
                expected=open_points,
            )
        )
    bad_lots = db.session.execute(
        select(PointsLot.id, PointsLot.points, PointsLot.remaining, PointsLot.expired_points).where(
            (PointsLot.remaining < 0) | (PointsLot.remaining + PointsLot.expired_points > func.abs(PointsLot.points))
        )
    )
    for lot_id, points, remaining, expired in bad_lots:
        differences.append(
            Difference(
                "points lot %(lot)s: remaining %(remaining)s + expired %(expired)s exceed its %(points)s points",
                lot=lot_id,
                remaining=remaining,
                expired=expired,
                points=points,
            )
        )
    return differences


def check_commissions(day: date) -> list[str]:
    """The day's commission entries are those its sales earn by their policy, each settlement's commission line
    equals its merchant's commission entries of the day, and both equal what the money ledger moved."""
    closed = db.session.get(SettlementDay, day)
    if closed is None:
        return []
    differences = []
    recorded: dict[tuple, int] = {}
    for commission in db.session.scalars(select(Commission).where(Commission.business_day == day)):
        key = (commission.sale_id, commission.beneficiary_kind, commission.beneficiary_id, commission.role)
        recorded[key] = commission.amount_fen
    expected = commissions.expected_day_commissions(day, closed.window_start, closed.window_end)
    for key in sorted(set(recorded) | set(expected)):
        if recorded.get(key, 0) != expected.get(key, 0):
            differences.append(
                Difference(
                    "sale %(sale)s (%(day)s): commission of %(beneficiary)s as %(role)s is %(stated)s, "
                    "its policy gives %(expected)s",
                    sale=key[0],
                    day=day.isoformat(),
                    beneficiary=key[2],
                    role=key[3],
                    stated=recorded.get(key, 0),
                    expected=expected.get(key, 0),
                )
            )
    ledger_lines = commissions.day_commission_fen(day)
    fees = commissions.day_fee_fen(day)
    for row in db.session.scalars(select(Settlement).where(Settlement.business_day == day)):
        if row.service_fee_fen != fees.get(row.merchant_id, 0):
            differences.append(
                Difference(
                    "settlement %(settlement)s (merchant %(merchant)s, %(day)s): service_fee_fen is %(stated)s, "
                    "the money ledger took %(expected)s into fee income",
                    settlement=row.id,
                    merchant=row.merchant_id,
                    day=day.isoformat(),
                    stated=row.service_fee_fen,
                    expected=fees.get(row.merchant_id, 0),
                )
            )
        entries = sum(line["fen"] for line in commissions.statement_entries(row.merchant_id, day))
        templates = (
            (
                entries,
                "settlement %(settlement)s (merchant %(merchant)s, %(day)s): commission_fen is %(stated)s, "
                "its commission entries sum to %(expected)s",
            ),
            (
                ledger_lines.get(row.merchant_id, 0),
                "settlement %(settlement)s (merchant %(merchant)s, %(day)s): "
                "commission_fen is %(stated)s, the money ledger moved %(expected)s",
            ),
        )
        for expected_fen, template in templates:
            if row.commission_fen != expected_fen:
                differences.append(
                    Difference(
                        template,
                        settlement=row.id,
                        merchant=row.merchant_id,
                        day=day.isoformat(),
                        stated=row.commission_fen,
                        expected=expected_fen,
                    )
                )
    return differences


def check_money_ledger_balanced() -> list[str]:
    """Every money transaction sums to zero, each cached balance equals its entries, no guarded balance is negative."""
    differences = [
        Difference(
            "money transaction %(transaction)s does not balance: its entries sum to %(stated)s",
            transaction=txn_id,
            stated=total,
        )
        for txn_id, total in db.session.execute(
            select(MoneyEntry.transaction_id, func.sum(MoneyEntry.amount))
            .group_by(MoneyEntry.transaction_id)
            .having(func.sum(MoneyEntry.amount) != 0)
            .order_by(MoneyEntry.transaction_id)
        )
    ]
    entry_sums = (
        select(MoneyEntry.account_id, func.sum(MoneyEntry.amount).label("total"))
        .group_by(MoneyEntry.account_id)
        .subquery()
    )
    for account_id, owner_kind, owner, kind, balance, total in db.session.execute(
        select(
            MoneyAccount.id,
            MoneyAccount.owner_kind,
            MoneyAccount.owner_id,
            MoneyAccount.kind,
            MoneyAccount.balance,
            func.coalesce(entry_sums.c.total, 0),
        )
        .outerjoin(entry_sums, entry_sums.c.account_id == MoneyAccount.id)
        .where(MoneyAccount.balance != func.coalesce(entry_sums.c.total, 0))
        .order_by(MoneyAccount.id)
    ):
        differences.append(
            Difference(
                "money account %(account)s (%(kind)s of %(owner_kind)s %(owner)s): cached balance %(stated)s, "
                "its entries sum to %(expected)s",
                account=account_id,
                kind=kind,
                owner_kind=owner_kind,
                owner=owner,
                stated=balance,
                expected=int(total),
            )
        )
    for account_id, kind, owner, balance in db.session.execute(
        select(MoneyAccount.id, MoneyAccount.kind, MoneyAccount.owner_id, MoneyAccount.balance)
        .where(~MoneyAccount.allow_negative, MoneyAccount.balance < 0)
        .order_by(MoneyAccount.id)
    ):
        differences.append(
            Difference(
                "money account %(account)s (%(kind)s %(owner)s) is negative: %(stated)s",
                account=account_id,
                kind=kind,
                owner=owner,
                stated=balance,
            )
        )
    total = db.session.scalar(select(func.coalesce(func.sum(MoneyAccount.balance), 0)))
    if total != 0:
        differences.append(Difference("money accounts sum to %(stated)s, not 0", stated=int(total)))
    return differences


def reconcile(day: date) -> list[str]:
    """Every difference between statements, ledgers and sales for ``day``, and in the ledgers overall."""
    return (
        check_statements(day)
        + check_ledger_against_sales(day)
        + check_merchant_balances()
        + check_ledger_balanced()
        + check_commissions(day)
        + check_money_ledger_balanced()
    )
