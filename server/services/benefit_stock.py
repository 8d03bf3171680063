"""The stock of benefit codes: allocation first-expiring-first-out, reservations, issue, redemption, void, expiry.

Every transition is one guarded ``UPDATE … WHERE status = <from>`` whose affected row count must equal the rows
meant; a mismatch (another request changed them meanwhile) raises ``BenefitStockConflict`` and the use case's
transaction rolls back. Allocation picks the codes that expire first (no expiry last, then by id):

- on PostgreSQL with ``SELECT … FOR UPDATE SKIP LOCKED``: concurrent allocations take different codes without
  waiting on one another, and the update that follows is guarded;
- on SQLite (one writer at a time) as one ``UPDATE … WHERE id IN (SELECT … LIMIT n) AND status = 'available'``.

Reservations carry a deadline (``reserved_until``); the ``release-benefit-reservations`` job of ``jobs run``
returns the codes of lapsed reservations to stock, the ``expire-benefit-codes`` job marks codes past their
expiry. Codes are found at redemption by their keyed hash only (``server/security/benefit_secrets.py``); every
code that cannot be used gets the same answer. Codes are shown masked; a reveal in full is audited: the member
who holds the code, or staff with ``benefits:secrets`` and a reason (docs/benefits.md).
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from datetime import date, datetime, timedelta

from sqlalchemy import case, func, select, update

from server.domain import benefit_budgets as budgets
from server.domain import voucher_codes
from server.domain.errors import (
    BenefitCodeInvalid,
    BenefitLimitReached,
    BenefitOutOfStock,
    BenefitStockConflict,
    Conflict,
    Forbidden,
    InvalidRequest,
    NotFound,
)
from server.domain.permissions import READ_SECRETS_PERMISSION
from server.domain.statuses import VOUCHER_KINDS, BenefitCodeStatus, BenefitSkuStatus
from server.extensions import db
from server.models import BenefitCode, BenefitSku, Merchant
from server.models.base import utcnow
from server.security.benefit_secrets import sealer
from server.services import benefit_fraud, webhooks
from server.services.audit import audit
from server.services.benefit_catalog import get_sku, sku_accepted_at
from server.services.points import alliance_today
from server.services.unit_of_work import transactional

DEFAULT_RESERVATION_MINUTES = 15
MAX_ALLOCATION = 1000

S = BenefitCodeStatus


def masked(last4: str) -> str:
    """A code as everyone but its holder (and staff reading secrets) sees it."""
    return f"****{last4}"


def _expect(result, wanted: int) -> None:
    if result.rowcount != wanted:
        raise BenefitStockConflict(wanted=wanted, changed=result.rowcount)


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def _fefo_candidates(sku_id: str, count: int, today: date):
    """The ``count`` available, unexpired codes of ``sku_id`` that expire first (a SELECT of their ids)."""
    return (
        select(BenefitCode.id)
        .where(
            BenefitCode.sku_id == sku_id,
            BenefitCode.status == S.AVAILABLE,
            (BenefitCode.expires_on.is_(None)) | (BenefitCode.expires_on >= today),
        )
        .order_by(BenefitCode.expires_on.asc().nulls_last(), BenefitCode.id)
        .limit(count)
    )


def _reserve(sku_id: str, count: int, minutes: int, now: datetime) -> str:
    """Reserve ``count`` codes (FEFO) under a new reservation token; flush only (the caller's transaction)."""
    if not 1 <= count <= MAX_ALLOCATION:
        raise InvalidRequest("Allocate between 1 and 1000 codes at a time.")
    sku = get_sku(sku_id)
    if sku.status != BenefitSkuStatus.ACTIVE:
        raise Conflict("This benefit is retired; nothing new is bought for it.")
    token = secrets.token_urlsafe(18)
    today = alliance_today()
    values = dict(
        status=S.RESERVED, reservation=token, reserved_until=now + timedelta(minutes=minutes), reserved_at=now
    )
    if _dialect() == "postgresql":
        ids = list(db.session.scalars(_fefo_candidates(sku_id, count, today).with_for_update(skip_locked=True)))
        if len(ids) < count:
            raise BenefitOutOfStock(available=len(ids))
        result = db.session.execute(
            update(BenefitCode)
            .where(BenefitCode.id.in_(ids), BenefitCode.status == S.AVAILABLE)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        _expect(result, count)
    else:  # SQLite: one writer at a time; the update picks and takes the codes in one statement
        result = db.session.execute(
            update(BenefitCode)
            .where(BenefitCode.id.in_(_fefo_candidates(sku_id, count, today).scalar_subquery()))
            .where(BenefitCode.status == S.AVAILABLE)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount < count:
            raise BenefitOutOfStock(available=result.rowcount)
        _expect(result, count)
    return token


@transactional
def reserve(
    sku_id: str, count: int = 1, minutes: int = DEFAULT_RESERVATION_MINUTES, now: datetime | None = None
) -> str:
    """Reserve ``count`` codes of a SKU for ``minutes`` (first expiring first); the reservation's token."""
    return _reserve(sku_id, count, minutes, now or utcnow())


def _member_limit_check(sku: BenefitSku, member_id: str, adding: int) -> None:
    if sku.per_member_limit is None:
        return
    held = db.session.scalar(
        select(func.count())
        .select_from(BenefitCode)
        .where(
            BenefitCode.sku_id == sku.id,
            BenefitCode.member_id == member_id,
            BenefitCode.status.in_([S.ISSUED, S.REDEEMED, S.EXPIRED]),
        )
    )
    if held + adding > sku.per_member_limit:
        raise Conflict("The member already holds as many of this benefit as one member may.")


def member_limit_check(sku: BenefitSku, member_id: str, adding: int) -> None:
    """Refuse (Conflict) when the member would hold more of the SKU than one member may (hand-outs of held codes)."""
    _member_limit_check(sku, member_id, adding)


def _issue(token: str, member_id: str | None, agent_id: str | None, now: datetime) -> list[str]:
    if (member_id is None) == (agent_id is None):
        raise InvalidRequest("Issue to a member or to an agent.")
    rows = db.session.execute(
        select(BenefitCode.id, BenefitCode.sku_id, BenefitCode.reserved_until).where(
            BenefitCode.reservation == token, BenefitCode.status == S.RESERVED
        )
    ).all()
    if not rows:
        raise Conflict("No such reservation, or it was released.")
    if any(row.reserved_until <= now for row in rows):
        raise Conflict("The reservation ran out; reserve again.")
    sku = get_sku(rows[0].sku_id)
    if member_id is not None:
        _member_limit_check(sku, member_id, len(rows))
    values: dict = dict(status=S.ISSUED, member_id=member_id, agent_id=agent_id, issued_at=now, reserved_until=None)
    ends = [end for end in (sku.valid_until,) if end]
    if sku.valid_days:
        ends.append(alliance_today() + timedelta(days=sku.valid_days))
    if ends:  # valid N days after issue / until the SKU's end: the earlier end wins over the stock's expiry
        values["expires_on"] = _earlier_expiry(min(ends))
    result = db.session.execute(
        update(BenefitCode)
        .where(BenefitCode.reservation == token, BenefitCode.status == S.RESERVED, BenefitCode.reserved_until > now)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    _expect(result, len(rows))
    return [row.id for row in rows]


def _earlier_expiry(end: date):
    """The code's expiry, or ``end`` if that is earlier (or the code had none)."""
    return case(
        (BenefitCode.expires_on.is_(None), end),
        (BenefitCode.expires_on > end, end),
        else_=BenefitCode.expires_on,
    )


@transactional
def issue_reserved(token: str, *, member_id: str | None = None, agent_id: str | None = None, now=None) -> list[str]:
    """Issue a reservation's codes to a member or an agent (before its deadline); their ids."""
    return _issue(token, member_id, agent_id, now or utcnow())


@transactional
def allocate(
    sku_id: str, *, member_id: str | None = None, agent_id: str | None = None, count: int = 1, now=None
) -> list[str]:
    """Reserve and issue ``count`` codes (first expiring first) in one transaction; their ids."""
    now = now or utcnow()
    token = _reserve(sku_id, count, DEFAULT_RESERVATION_MINUTES, now)
    return _issue(token, member_id, agent_id, now)


@transactional
def release_reservation(token: str) -> int:
    """Return a reservation's codes to stock (the buyer gave up); how many."""
    wanted = db.session.scalar(
        select(func.count())
        .select_from(BenefitCode)
        .where(BenefitCode.reservation == token, BenefitCode.status == S.RESERVED)
    )
    result = db.session.execute(
        update(BenefitCode)
        .where(BenefitCode.reservation == token, BenefitCode.status == S.RESERVED)
        .values(status=S.AVAILABLE, reservation=None, reserved_until=None, reserved_at=None)
        .execution_options(synchronize_session=False)
    )
    _expect(result, wanted)
    return wanted


def release_expired_reservations(now: datetime | None = None) -> int:
    """Return the codes of every reservation past its deadline to stock (the job; the caller's transaction)."""
    result = db.session.execute(
        update(BenefitCode)
        .where(BenefitCode.status == S.RESERVED, BenefitCode.reserved_until <= (now or utcnow()))
        .values(status=S.AVAILABLE, reservation=None, reserved_until=None, reserved_at=None)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def expire_codes(today: date, now: datetime | None = None) -> int:
    """Mark available and issued codes whose last day has passed as expired (the job; caller's transaction).

    Each member's code that expired unused emits ``benefit.expired`` in the same transaction.
    """
    now = now or utcnow()
    expired = db.session.execute(
        update(BenefitCode)
        .where(BenefitCode.status.in_([S.AVAILABLE, S.ISSUED]), BenefitCode.expires_on < today)
        .values(status=S.EXPIRED, expired_at=now)
        .returning(BenefitCode.id, BenefitCode.sku_id, BenefitCode.member_id)
        .execution_options(synchronize_session=False)
    ).all()
    held = [row for row in expired if row.member_id]
    if held and webhooks.subscribers().get("benefit.expired"):
        values = dict(db.session.execute(select(BenefitSku.id, BenefitSku.face_value_fen)).all())
        for row in held:
            payload = webhooks.benefit_payload(row.id, row.sku_id, row.member_id, values.get(row.sku_id), now)
            webhooks.emit(db.session, "benefit.expired", payload)
    return len(expired)


def lookup_hashes(code: str) -> list[str]:
    """The keyed hashes a typed or scanned code may be stored under (as typed; a voucher code normalised)."""
    candidates = {code.strip()}
    if voucher_codes.is_valid(code):
        candidates.add(voucher_codes.normalize(code))
    return [sealer().lookup_hash(text) for text in sorted(candidates)]


def _find_code(code: str) -> BenefitCode | None:
    hashes = lookup_hashes(code)
    rows = list(db.session.scalars(select(BenefitCode).where(BenefitCode.lookup_hash.in_(hashes)).limit(2)))
    return rows[0] if len(rows) == 1 else None


def find_code(code: str) -> BenefitCode | None:
    """The stock row a code's text names (its keyed hash), or None; whether it may be used is the caller's."""
    return _find_code(code)


def redeemable_code(
    code: str,
    merchant_id: str,
    *,
    terminal_id: str | None = None,
    member_id: str | None = None,
    ip: str | None = None,
    now: datetime | None = None,
) -> BenefitCode:
    """The issued code ``code`` ready to be redeemed at the merchant, its redemption budgets taken.

    The one check every redemption makes (this service's :func:`redeem`, and the sale that redeems a voucher at
    the till, in its own transaction): flushes only. Every code that cannot be used gets the same
    ``BenefitCodeInvalid`` with the same work done: unknown, used, expired, another merchant's, and any code
    while the member / terminal / IP address is over its failure budget or over its redemption budget
    (``server/services/benefit_fraud.py``). ``member_id`` is the member identified at the till, if any; the
    code's holder is counted too. The caller counts the refusal with ``benefit_fraud.record_failure`` after
    its transaction rolled back (see :func:`redeem`).
    """
    now = now or utcnow()
    row = _find_code(code) if code and len(code) <= 200 else None  # always looked up: the same work for all
    merchant = db.session.get(Merchant, merchant_id)
    sku = db.session.get(BenefitSku, row.sku_id if row is not None else "")
    holder = row.member_id if row is not None else member_id
    budget = {"member": holder, "terminal": terminal_id, "merchant": merchant_id, "ip": ip}
    refused = benefit_fraud.redemption_refused(budget, now)
    usable = (
        row is not None
        and merchant is not None
        and row.status == S.ISSUED
        and (row.expires_on is None or row.expires_on >= alliance_today())
        and sku_accepted_at(sku, merchant)
    )
    if refused or not usable:
        raise BenefitCodeInvalid()
    try:
        benefit_fraud.take(budgets.REDEEM, budget, now)
    except BenefitLimitReached as error:  # the budget filled up since the read above: the same answer
        raise BenefitCodeInvalid() from error
    return row


def _failure_subjects(member_id: str | None, terminal_id: str | None, ip: str | None) -> dict:
    return {"member": member_id, "terminal": terminal_id, "ip": ip}


@transactional
def _redeem(code, merchant_id, now, terminal_id, member_id, ip) -> BenefitCode:
    row = redeemable_code(code, merchant_id, terminal_id=terminal_id, member_id=member_id, ip=ip, now=now)
    result = db.session.execute(
        update(BenefitCode)
        .where(BenefitCode.id == row.id, BenefitCode.status == S.ISSUED)
        .values(status=S.REDEEMED, redeemed_at=now, redeemed_merchant_id=merchant_id)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # redeemed twice at once: the second is a used code
        raise BenefitCodeInvalid()
    db.session.refresh(row)
    return row


def redeem(
    code: str,
    merchant_id: str,
    now: datetime | None = None,
    *,
    terminal_id: str | None = None,
    member_id: str | None = None,
    ip: str | None = None,
) -> BenefitCode:
    """Redeem an issued code at a merchant that accepts it; one answer for every code that cannot be used.

    A refusal is counted as a failed attempt of the terminal, the member and the IP address in a transaction
    of its own once the redemption's rolled back (call this outside any other transaction).
    """
    now = now or utcnow()
    try:
        return _redeem(code, merchant_id, now, terminal_id, member_id, ip)
    except BenefitCodeInvalid:
        benefit_fraud.record_failure(_failure_subjects(member_id, terminal_id, ip), now)
        raise


@transactional
def void(actor, code_id: str, reason: str) -> BenefitCode:
    """Void a code (a dead code from a supplier, a mistaken issue); audited with the reason."""
    if not reason.strip():
        raise InvalidRequest("Give the reason.")
    row = db.session.get(BenefitCode, code_id)
    if row is None:
        raise NotFound("No such code.")
    before = row.status
    result = db.session.execute(
        update(BenefitCode)
        .where(BenefitCode.id == code_id, BenefitCode.status.in_([S.AVAILABLE, S.RESERVED, S.ISSUED]))
        .values(status=S.VOID, voided_at=utcnow(), void_reason=reason, reservation=None, reserved_until=None)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Conflict("This code can no longer be voided.")
    audit(actor.key, "benefit_code.void", "benefit_code", code_id, reason=reason, before=before)
    db.session.refresh(row)
    return row


def stock_counts() -> list[dict]:
    """How many codes each SKU has by status and expiry month (``YYYY-MM``, None for no expiry), with cost."""
    rows = db.session.execute(
        select(BenefitCode.sku_id, BenefitCode.status, BenefitCode.expires_on, func.count()).group_by(
            BenefitCode.sku_id, BenefitCode.status, BenefitCode.expires_on
        )
    ).all()
    totals: dict[tuple, int] = defaultdict(int)
    for sku_id, status, expires_on, count in rows:
        totals[(sku_id, status, expires_on.strftime("%Y-%m") if expires_on else None)] += count
    codes = dict(db.session.execute(select(BenefitSku.id, BenefitSku.code)).all())
    return [
        {"sku_id": sku_id, "sku_code": codes.get(sku_id, ""), "status": status, "expiry_month": month, "count": n}
        for (sku_id, status, month), n in sorted(
            totals.items(), key=lambda item: (item[0][0], item[0][1], item[0][2] or "9999")
        )
    ]


def member_codes(member_id: str) -> list[dict]:
    """A member's wallet: their codes, masked."""
    rows = db.session.execute(
        select(BenefitCode, BenefitSku.name)
        .join(BenefitSku, BenefitSku.id == BenefitCode.sku_id)
        .where(BenefitCode.member_id == member_id)
        .order_by(BenefitCode.issued_at.desc())
    ).all()
    return [
        {
            "id": code.id,
            "sku_name": name,
            "masked": masked(code.last4),
            "status": code.status,
            "expires_on": code.expires_on,
        }
        for code, name in rows
    ]


def _open(row: BenefitCode) -> dict:
    code, secret = sealer().open(row.id, row.sku_id, row.sealed)
    sku = db.session.get(BenefitSku, row.sku_id)
    shown = voucher_codes.display(code) if sku.kind in VOUCHER_KINDS else code
    return {"id": row.id, "code": shown, "secret": secret, "expires_on": row.expires_on, "status": row.status}


@transactional
def reveal_for_member(member_id: str, code_id: str) -> dict:
    """The code and secret in full for the member who holds it (one code per request, audited)."""
    row = db.session.get(BenefitCode, code_id)
    if row is None or row.member_id != member_id or row.status not in (S.ISSUED, S.REDEEMED):
        raise NotFound("No such code.")
    audit(f"member:{member_id}", "benefit_code.reveal", "benefit_code", code_id, last4=row.last4)
    return _open(row)


@transactional
def reveal_for_staff(actor, code_id: str, reason: str) -> dict:
    """The code and secret in full for staff holding ``benefits:secrets``; audited with the reason."""
    if not actor.can(READ_SECRETS_PERMISSION):
        raise Forbidden("Reading codes and secrets in full needs its own permission.")
    if not reason or not reason.strip():
        raise InvalidRequest("Give the reason.")
    row = db.session.get(BenefitCode, code_id)
    if row is None:
        raise NotFound("No such code.")
    audit(actor.key, "benefit_code.reveal_secret", "benefit_code", code_id, reason=reason.strip(), last4=row.last4)
    return _open(row)
