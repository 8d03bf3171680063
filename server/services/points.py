"""Points lots behind the member balances: earning, spending, restoring, expiring, expiry notices.

The helpers run inside the caller's transaction, after the caller posted to the ledger: the balance
update of ``ledger.post`` locks the member's account row, so lots of one member are never changed by
two transactions at once. Invariant (checked by reconciliation): a member's open lots (their
``remaining``) sum to the member's points balance.

Refunds across an expiry: redeemed points a refund gives back return to the lots the sale spent; if such
a lot is already past its expiry date, the points returning to it expire at once, in the same database
transaction (a second ledger transaction ``expiry`` moves them to the alliance's expiry account), so a
refund never revives expired points. A sale recorded before lots existed (no record of the lots it
spent) restores into a new lot expiring by the current policy. Earned points a refund takes back come
from the sale's own lot first, then from the lots closest to expiry.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, func, insert, select, tuple_, update

from server.domain.ledger import ALLIANCE_EXPIRY, Posting, balanced
from server.domain.lots import OpenLot, Restore, SpentPart, allocate_spend, expiry_date, plan_restore
from server.domain.statuses import MemberStatus
from server.extensions import db
from server.hot_sql import HotStatement
from server.models import ALLIANCE_OWNER, AllianceSettings, LedgerAccount, Member, PointsLot, PointsLotSpend
from server.models.base import utcnow
from server.notifications.sms import queue_sms
from server.security.pii import decrypt_phone
from server.services import ledger, webhooks
from server.services.alliance import get_settings
from server.services.unit_of_work import transactional

_lots = PointsLot.__table__
_spends = PointsLotSpend.__table__
_NEW_LOT = HotStatement(insert(_lots))
_NEW_SPEND = insert(_spends)
_TAKE_FROM_LOT = (
    update(_lots).where(_lots.c.id == bindparam("lot")).values(remaining=_lots.c.remaining - bindparam("take"))
)
_OPEN_LOT_COLUMNS = (_lots.c.id, _lots.c.expires_on, _lots.c.remaining)
# a member's open lots in spending order, one page after (expires_on, id) (index ix_points_lots_open)
_OPEN_LOTS_AFTER = (
    select(*_OPEN_LOT_COLUMNS)
    .where(
        _lots.c.member_id == bindparam("member_id"),
        _lots.c.remaining > 0,
        tuple_(_lots.c.expires_on, _lots.c.id) > tuple_(bindparam("after_expires_on"), bindparam("after_id")),
    )
    .order_by(_lots.c.expires_on, _lots.c.id)
    .limit(bindparam("page"))
)
_OPEN_SALE_LOT = select(*_OPEN_LOT_COLUMNS).where(
    _lots.c.sale_id == bindparam("sale_id"), _lots.c.member_id == bindparam("member_id"), _lots.c.remaining > 0
)
FIRST_PAGE, NEXT_PAGES = 4, 64  # most spends take one or two lots


def alliance_today(settings: AllianceSettings | None = None, now: datetime | None = None) -> date:
    """Today's date in the alliance's time zone."""
    settings = settings or get_settings()
    return (now or utcnow()).astimezone(ZoneInfo(settings.timezone)).date()


def add_lot(
    member_id: str,
    points: int,
    source: str,
    sale_id: str | None = None,
    now: datetime | None = None,
    settings: AllianceSettings | None = None,
) -> None:
    """Record ``points`` just credited to the member as a new lot expiring by the alliance's policy.

    ``settings``: the alliance settings the caller already holds (a sale prices and dates its lot by the
    same copy, without reading the row again); read here otherwise.
    """
    if points <= 0:
        return
    settings = settings or get_settings()
    now = now or utcnow()
    earned_on = alliance_today(settings, now)
    _NEW_LOT.defer(
        {
            "member_id": member_id,
            "source": source,
            "sale_id": sale_id,
            "earned_on": earned_on,
            "expires_on": expiry_date(earned_on, settings.points_expiry_policy, settings.points_expiry_months),
            "points": points,
            "remaining": points,
            "expired_points": 0,
            "created_at": now,
        },
    )


def spend_lots(member_id: str, points: int, reason: str, sale_id: str | None = None, first_sale_lot: bool = False):
    """Take ``points`` just debited from the member out of their lots, closest expiry first.

    ``first_sale_lot``: take from the lot the sale ``sale_id`` earned before any other (a refund).
    """
    if points <= 0:
        return
    lots, own_lot = _lots_covering(member_id, points, sale_id if first_sale_lot else None)
    taken = allocate_spend(lots, points, first=own_lot)
    db.session.execute(_TAKE_FROM_LOT, [{"lot": lot_id, "take": take} for lot_id, take in taken])
    now = utcnow()
    db.session.execute(
        _NEW_SPEND,
        [
            {"lot_id": lot_id, "reason": reason, "sale_id": sale_id, "points": take, "restored": 0, "created_at": now}
            for lot_id, take in taken
        ],
    )


def _lots_covering(member_id: str, points: int, sale_id: str | None) -> tuple[list[OpenLot], int | None]:
    """The open lots a spend of ``points`` reaches and the id of the sale ``sale_id``'s own lot (if given
    and open, it comes first), then the member's open lots closest to expiry, read page by page until
    they cover ``points`` (or run out): the cost follows the lots spent, not the lots the member ever had."""
    lots: list[OpenLot] = []
    if sale_id is not None:
        own = db.session.execute(_OPEN_SALE_LOT, {"sale_id": sale_id, "member_id": member_id}).first()
        if own is not None:
            lots.append(OpenLot(own.id, own.expires_on, own.remaining))
    own_id = lots[0].id if lots else None
    after, page = (date.min, 0), FIRST_PAGE
    while sum(lot.remaining for lot in lots) < points:
        rows = db.session.execute(
            _OPEN_LOTS_AFTER,
            {"member_id": member_id, "after_expires_on": after[0], "after_id": after[1], "page": page},
        ).all()
        lots += [OpenLot(row.id, row.expires_on, row.remaining) for row in rows if row.id != own_id]
        if len(rows) < page:
            break
        after, page = (rows[-1].expires_on, rows[-1].id), NEXT_PAGES
    return lots, own_id


def plan_redeemed_restore(sale_id: str, points: int, today: date) -> tuple[list[Restore], int]:
    """Where ``points`` a refund gives back to the sale's member go: the lots the sale spent.

    Returns the plan and the points no recorded spend covers (a sale recorded before lots existed):
    those go into a new lot (:func:`add_lot`, source ``restore``).
    """
    if points <= 0:
        return [], 0
    rows = db.session.execute(
        select(
            PointsLotSpend.id,
            PointsLotSpend.lot_id,
            PointsLot.expires_on,
            PointsLotSpend.points,
            PointsLotSpend.restored,
        )
        .join(PointsLot, PointsLot.id == PointsLotSpend.lot_id)
        .where(PointsLotSpend.sale_id == sale_id, PointsLotSpend.reason == "redeem")
    ).all()
    parts = [SpentPart(*row) for row in rows]
    placed = min(points, sum(part.points - part.restored for part in parts))
    return plan_restore(parts, placed, today), points - placed


def apply_restore(member: Member, plan: list[Restore], actor: str, refund_id: str | None = None) -> int:
    """Put restored points back into their lots; expire at once what returns to expired lots.

    The caller already credited the member with all the points; returns how many expired again.
    """
    for part in plan:
        db.session.execute(
            update(PointsLot)
            .where(PointsLot.id == part.lot_id)
            .values(
                remaining=PointsLot.remaining + part.points - part.expired,
                expired_points=PointsLot.expired_points + part.expired,
            )
            .execution_options(synchronize_session=False)
        )
        db.session.execute(
            update(PointsLotSpend)
            .where(PointsLotSpend.id == part.spend_id)
            .values(restored=PointsLotSpend.restored + part.points)
            .execution_options(synchronize_session=False)
        )
    expired = sum(part.expired for part in plan)
    if expired:
        expiry = ledger.account_id(ALLIANCE_EXPIRY, ALLIANCE_OWNER)
        ledger.post(
            "expiry",
            balanced([Posting(member.points_account_id, -expired), Posting(expiry, expired)]),
            actor,
            refund_id=refund_id,
            memo="restored to expired lots",
        )
    return expired


@transactional
def expire_points(actor: str, as_of: date) -> dict:
    """Move every lot whose last valid day is before ``as_of`` to the expiry account (breakage)."""
    expiry = ledger.account_id(ALLIANCE_EXPIRY, ALLIANCE_OWNER)
    due_members = db.session.execute(
        select(PointsLot.member_id, Member.points_account_id)
        .join(Member, Member.id == PointsLot.member_id)
        .where(PointsLot.expires_on < as_of, PointsLot.remaining > 0)
        .distinct()
        .order_by(PointsLot.member_id)
    ).all()
    members = points = 0
    for member_id, account_id in due_members:
        # lock the account first, as every posting does, then read the lots it guards
        db.session.execute(select(LedgerAccount.id).where(LedgerAccount.id == account_id).with_for_update())
        due = db.session.execute(
            select(PointsLot.id, PointsLot.remaining)
            .where(PointsLot.member_id == member_id, PointsLot.expires_on < as_of, PointsLot.remaining > 0)
            .with_for_update()
        ).all()
        total = sum(row.remaining for row in due)
        if not total:
            continue
        ledger.post(
            "expiry",
            balanced([Posting(account_id, -total), Posting(expiry, total)]),
            actor,
            memo=f"points expired before {as_of.isoformat()}",
        )
        db.session.execute(
            update(PointsLot)
            .where(PointsLot.id.in_([row.id for row in due]))
            .values(expired_points=PointsLot.expired_points + PointsLot.remaining, remaining=0)
            .execution_options(synchronize_session=False)
        )
        members += 1
        points += total
    return {"members": members, "points": points}


@transactional
def notify_expiring(as_of: date) -> dict:
    """Text each member once per expiry date about points expiring within the notice period."""
    settings = get_settings()
    horizon = as_of + timedelta(days=settings.expiry_notice_days)
    rows = db.session.execute(
        select(
            PointsLot.id,
            PointsLot.member_id,
            PointsLot.expires_on,
            PointsLot.remaining,
            Member.phone_ciphertext,
            Member.phone_masked,
        )
        .join(Member, Member.id == PointsLot.member_id)
        .where(
            PointsLot.remaining > 0,
            PointsLot.notified_on.is_(None),
            PointsLot.expires_on >= as_of,
            PointsLot.expires_on <= horizon,
            Member.status == MemberStatus.ACTIVE,
        )
        .order_by(PointsLot.member_id, PointsLot.expires_on, PointsLot.id)
        .with_for_update(of=PointsLot)
    ).all()
    grouped: dict[tuple[str, date], list] = defaultdict(list)
    for row in rows:
        grouped[(row.member_id, row.expires_on)].append(row)
    for (member_id, expires_on), lots in grouped.items():
        expiring = sum(lot.remaining for lot in lots)
        queue_sms(
            decrypt_phone(lots[0].phone_ciphertext),
            "points_expiring",
            alliance=settings.name,
            points=expiring,
            date=expires_on.isoformat(),
        )
        payload = webhooks.points_expiring_payload(member_id, lots[0].phone_masked, expiring, expires_on)
        webhooks.emit(db.session, "points.expiring", payload)
    if rows:
        db.session.execute(
            update(PointsLot)
            .where(PointsLot.id.in_([row.id for row in rows]))
            .values(notified_on=as_of)
            .execution_options(synchronize_session=False)
        )
    return {"messages": len(grouped), "lots": len(rows)}


def lot_mismatches() -> list[tuple[str, int, int]]:
    """``(member_id, balance, open lots)`` for every member whose open lots do not sum to the balance."""
    lots = (
        select(PointsLot.member_id, func.sum(PointsLot.remaining).label("open"))
        .group_by(PointsLot.member_id)
        .subquery()
    )
    rows = db.session.execute(
        select(Member.id, LedgerAccount.balance, func.coalesce(lots.c.open, 0))
        .join(LedgerAccount, LedgerAccount.id == Member.points_account_id)
        .outerjoin(lots, lots.c.member_id == Member.id)
        .where(LedgerAccount.balance != func.coalesce(lots.c.open, 0))
        .order_by(Member.id)
    ).all()
    return [(row[0], row[1], row[2]) for row in rows]


def member_lots(member_id: str, include_closed: bool = False) -> list[PointsLot]:
    """A member's lots, closest expiry first (by default only those still holding points)."""
    query = select(PointsLot).where(PointsLot.member_id == member_id)
    if not include_closed:
        query = query.where(PointsLot.remaining > 0)
    return list(db.session.scalars(query.order_by(PointsLot.expires_on, PointsLot.id)))
