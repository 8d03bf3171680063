"""Alliance vouchers at the till: the ones a member can use here, finding the one a sale names, consuming it
in the sale's own transaction, and giving it back on a full refund.

- ``usable(member_id, merchant)``: the identified member's issued alliance vouchers accepted at this merchant
  today (``POST /identify`` lists them; third-party 卡密 are never listed: they are redeemed at the supplier).
- ``find(merchant, member_id, voucher_code=, voucher_id=)``: the voucher a quote or sale names, scanned or
  typed (found by its keyed hash, ``benefit_stock.find_code``; a dynamic one-time code through
  ``voucher_lookup.resolve_till_voucher_code``) or picked from the list. Every voucher that
  cannot be used here gets the one answer ``VoucherInvalid`` (unknown, used, expired, void, another
  member's, not accepted here, not a voucher, and any voucher while an anti-fraud budget is used up), so a
  guess tells nothing about which codes exist; ``failures_counted`` counts each refusal after the rollback.
- ``redeem_in_sale(found, sale, now)``: the guarded UPDATE ``issued → redeemed`` (``WHERE status = 'issued'
  AND member_id = …``) and the ``SaleVoucher`` row, in the sale's transaction. Of concurrent sales naming
  the same voucher exactly one changes the row; the others find it redeemed and answer ``VoucherInvalid``
  (their whole sale rolls back). A retried sale is answered from its idempotency record, never run again.
- ``settle_refund(voucher, split, refund, today)``: the refund's share of the voucher; the refund that
  completes the sale gives the voucher back when the SKU allows it (``restore_on_refund``) and it is still
  valid (``server/domain/refunds.py`` sizes the share).

The pricing of the voucher is the shared rule's (``alliance_shared/pricing.py``: ``VoucherTerms``).
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Row, bindparam, insert, select, text, update

from alliance_shared.pricing import VoucherTerms
from server.domain import benefit_budgets as budgets
from server.domain import dynamic_vouchers
from server.domain.errors import BenefitLimitReached, VoucherInvalid
from server.domain.refunds import RefundSplit
from server.domain.statuses import VOUCHER_KINDS, BenefitCodeStatus, BenefitFunder
from server.extensions import db
from server.hot_sql import HotStatement
from server.models import BenefitCode, BenefitSku, Merchant, Refund, Sale, SaleVoucher
from server.services import benefit_fraud, benefit_stock, voucher_lookup, webhooks
from server.services.benefit_catalog import sku_accepted_at

S = BenefitCodeStatus
MAX_CODE_LENGTH = 64


_codes, _skus = BenefitCode.__table__, BenefitSku.__table__
# built once: the sale's path executes it with parameters only (one statement finds the code and its SKU)
_VOUCHER = select(
    _codes.c.id.label("code_id"),
    _codes.c.status,
    _codes.c.member_id,
    _codes.c.expires_on,
    _codes.c.last4,
    _skus.c.id,
    _skus.c.name,
    _skus.c.kind,
    _skus.c.scope,
    _skus.c.face_value_fen,
    _skus.c.threshold_fen,
    _skus.c.percent_off_bp,
    _skus.c.cap_fen,
    _skus.c.valid_from,
    _skus.c.funder,
    _skus.c.sponsor_merchant_id,
).join_from(_codes, _skus, _skus.c.id == _codes.c.sku_id)
_VOUCHER_BY_ID = _VOUCHER.where(_codes.c.id == bindparam("code_id"))
# a code's text has at most two keyed hashes (as typed, normalised: benefit_stock.lookup_hashes); one is sent twice
_VOUCHER_BY_HASH = HotStatement(
    _VOUCHER.where(_codes.c.lookup_hash.in_([bindparam("hash0"), bindparam("hash1")])).limit(2)
)


@dataclass(frozen=True)
class FoundVoucher:
    """A voucher a sale may use: the code's id and last four, its SKU's terms (a row), its pricing terms."""

    code_id: str
    last4: str
    sku: Row
    terms: VoucherTerms

    def ref(self) -> dict:
        """As the quote and the sale show it."""
        return voucher_ref(self.code_id, self.sku.name, self.sku.kind, self.last4)


def voucher_ref(code_id: str, name: str, kind: str, last4: str) -> dict:
    return {"id": code_id, "name": name, "kind": kind, "code_last4": last4}


def voucher_terms(sku) -> VoucherTerms:
    """The SKU's voucher terms for the pricing rule (a threshold is the minimum spend of any kind)."""
    return VoucherTerms(
        kind=sku.kind,
        face_value_fen=sku.face_value_fen,
        min_spend_fen=sku.threshold_fen or 0,
        discount_bp=sku.percent_off_bp or 0,
        max_off_fen=sku.cap_fen or 0,
    )


def _usable_today(expires_on: date | None, sku, today: date) -> bool:
    return (
        sku.kind in VOUCHER_KINDS
        and (expires_on is None or expires_on >= today)
        and (sku.valid_from is None or sku.valid_from <= today)
    )


def usable(member_id: str, merchant: Merchant, today: date) -> list[dict]:
    """The member's alliance vouchers usable at ``merchant`` today, soonest expiry first (one query)."""
    rows = db.session.execute(
        select(BenefitCode, BenefitSku)
        .join(BenefitSku, BenefitSku.id == BenefitCode.sku_id)
        .where(
            BenefitCode.member_id == member_id,
            BenefitCode.status == S.ISSUED,
            BenefitSku.kind.in_(sorted(VOUCHER_KINDS)),
        )
        .order_by(BenefitCode.expires_on.asc().nulls_last(), BenefitCode.id)
    ).all()
    accepted: dict[str, bool] = {}
    listed = []
    for code, sku in rows:
        if not _usable_today(code.expires_on, sku, today):
            continue
        if sku.id not in accepted:
            accepted[sku.id] = sku_accepted_at(sku, merchant)
        if not accepted[sku.id]:
            continue
        terms = voucher_terms(sku)
        listed.append(
            {
                "id": code.id,
                "name": sku.name,
                "kind": sku.kind,
                "face_value_fen": terms.face_value_fen,
                "min_spend_fen": terms.min_spend_fen,
                "discount_bp": terms.discount_bp,
                "max_off_fen": terms.max_off_fen,
                "item_name": sku.item_name or "",
                "expires_on": code.expires_on,
                "code_last4": code.last4,
            }
        )
    return listed


def find(
    merchant: Merchant,
    member_id: str,
    today: date,
    *,
    voucher_code: str | None = None,
    voucher_id: str | None = None,
    consume: bool = True,
    terminal_id: str | None = None,
    now: datetime | None = None,
) -> FoundVoucher:
    """The voucher a quote or sale names, usable by this member here today; else ``VoucherInvalid``.

    A dynamic one-time code (``voucher_lookup``) is used up by the sale (``consume``; a quote only checks it);
    the printed code of a voucher shown dynamically is refused like an unknown one. The anti-fraud budgets
    answer the same way (``server/services/benefit_fraud.py``): while the member or the terminal is over its
    failure budget, or the member / terminal / merchant over its redemption budget, every voucher is refused
    like an unknown one. The refusal carries the member (``error.member_id``, never in the answer) for
    :func:`failures_counted`.
    """
    row = None
    if voucher_code is not None:
        text = voucher_code.strip()
        if text and len(text) <= MAX_CODE_LENGTH and dynamic_vouchers.parse(text) is not None:
            code = voucher_lookup.resolve_till_voucher_code(text, consume=consume)
            row = db.session.execute(_VOUCHER_BY_ID, {"code_id": code.id}).first() if code is not None else None
        elif text and len(text) <= MAX_CODE_LENGTH:
            hashes = benefit_stock.lookup_hashes(text)
            rows = _VOUCHER_BY_HASH.rows({"hash0": hashes[0], "hash1": hashes[-1]})
            row = rows[0] if len(rows) == 1 and not voucher_lookup.is_dynamic(rows[0]) else None
    elif voucher_id is not None:
        row = db.session.execute(_VOUCHER_BY_ID, {"code_id": voucher_id}).first()
    subjects = _subjects(member_id, terminal_id, merchant.id)
    refused = benefit_fraud.redemption_refused(subjects, now)  # read for every voucher: the same work for all
    if refused or row is None or row.status != S.ISSUED or row.member_id != member_id:
        raise _invalid(member_id)
    if not _usable_today(row.expires_on, row, today) or not sku_accepted_at(row, merchant):
        raise _invalid(member_id)
    return FoundVoucher(row.code_id, row.last4, row, voucher_terms(row))


def _subjects(member_id: str | None, terminal_id: str | None, merchant_id: str | None) -> dict:
    return {"member": member_id, "terminal": terminal_id, "merchant": merchant_id}


def _invalid(member_id: str | None) -> VoucherInvalid:
    error = VoucherInvalid()
    error.member_id = member_id  # for counting the failure after the rollback; not part of the answer
    return error


@contextmanager
def failures_counted(terminal_id: str | None, ip: str | None = None):
    """Count a ``VoucherInvalid`` of the block as a failed lookup of the terminal, the IP address and the
    member, in a transaction of its own: wrap the whole quote or sale (its transaction rolled back first)."""
    try:
        yield
    except VoucherInvalid as error:
        subjects = {"member": getattr(error, "member_id", None), "terminal": terminal_id, "ip": ip}
        benefit_fraud.record_failure(subjects)
        raise


def funder_merchant(sku, accepting_merchant_id: str) -> str | None:
    """The merchant that funds a voucher accepted at ``accepting_merchant_id`` (None: the alliance)."""
    if sku.funder == BenefitFunder.SPONSOR_MERCHANT:
        return sku.sponsor_merchant_id
    if sku.funder == BenefitFunder.ACCEPTING_MERCHANT:
        return accepting_merchant_id
    return None


_INSERT_SALE_VOUCHER = insert(SaleVoucher.__table__)
_REDEEM = (  # the guard: only an issued code of this member moves, so of concurrent sales exactly one does
    update(_codes)
    .where(
        _codes.c.id == bindparam("b_code_id"),
        _codes.c.status == S.ISSUED,
        _codes.c.member_id == bindparam("b_member_id"),
    )
    .values(status=S.REDEEMED, redeemed_at=bindparam("b_now"), redeemed_merchant_id=bindparam("b_merchant_id"))
)
# PostgreSQL: the guarded UPDATE and the link row in one statement (one round trip less per voucher sale); the
# link row exists only if the UPDATE moved the code, so the INSERT's row count is the guard's
_REDEEM_AND_LINK = HotStatement(
    text(
        "WITH redeemed AS (UPDATE benefit_codes SET status = 'redeemed', redeemed_at = :b_now, "
        "redeemed_merchant_id = :b_merchant_id "
        "WHERE id = :b_code_id AND status = 'issued' AND member_id = :b_member_id "
        "RETURNING id) "
        "INSERT INTO sale_vouchers (code_id, sale_id, sku_id, merchant_id, funder, funder_merchant_id, name, kind, "
        "code_last4, value_fen, refunded_fen, restored, created_at) "
        "SELECT id, :sale_id, :sku_id, :merchant_id, :funder, :funder_merchant_id, :name, :kind, :code_last4, "
        ":value_fen, :refunded_fen, :restored, :created_at FROM redeemed RETURNING code_id"
    )
)


def redeem_in_sale(found: FoundVoucher, sale: Sale, now: datetime) -> None:
    """Consume the voucher in the sale's transaction (exactly once) and link it to the sale."""
    sku = found.sku
    try:  # the redemption budgets of the member, the terminal and the merchant (counted in the sale's transaction)
        benefit_fraud.take(budgets.REDEEM, _subjects(sale.member_id, sale.terminal_id, sale.merchant_id), now)
    except BenefitLimitReached as error:
        raise _invalid(sale.member_id) from error
    guard = {"b_code_id": found.code_id, "b_member_id": sale.member_id, "b_now": now, "b_merchant_id": sale.merchant_id}
    link = {
        "sale_id": sale.id,
        "sku_id": sku.id,
        "merchant_id": sale.merchant_id,
        "funder": sku.funder,
        "funder_merchant_id": funder_merchant(sku, sale.merchant_id),
        "name": sku.name,
        "kind": sku.kind,
        "code_last4": found.last4,
        "value_fen": sale.voucher_fen,
        "refunded_fen": 0,
        "restored": False,
        "created_at": sale.created_at,
    }
    if db.session.get_bind().dialect.name == "postgresql":
        moved = len(_REDEEM_AND_LINK.rows({**guard, **link}))
    else:
        moved = db.session.execute(_REDEEM, guard).rowcount
        if moved == 1:
            db.session.execute(_INSERT_SALE_VOUCHER, {**link, "code_id": found.code_id})
    if moved != 1:  # another sale took it first (or it changed since it was found)
        raise VoucherInvalid()
    webhooks.emit(
        db.session,
        "benefit.redeemed",
        {
            "benefit_id": found.code_id,
            "sku_id": sku.id,
            "member_id": sale.member_id,
            "channel": "till",
            "merchant_id": sale.merchant_id,
            "sale_id": sale.id,
            "value_fen": sale.voucher_fen,
            "occurred_at": sale.occurred_at.isoformat(),
        },
    )


def of_sale(sale_id: str) -> SaleVoucher | None:
    """The voucher a sale redeemed, if any."""
    return db.session.get(SaleVoucher, sale_id)


def settle_refund(voucher: SaleVoucher, split: RefundSplit, refund: Refund, today: date) -> None:
    """The refund's share of the voucher; the refund completing the sale gives the voucher back if it may."""
    refund.voucher_fen = split.voucher_fen
    voucher.refunded_fen += split.voucher_fen
    if not split.completes or voucher.restored:
        return
    sku = db.session.get(BenefitSku, voucher.sku_id)
    if not sku.restore_on_refund:
        return
    result = db.session.execute(
        update(BenefitCode)
        .where(
            BenefitCode.id == voucher.code_id,
            BenefitCode.status == S.REDEEMED,
            BenefitCode.redeemed_merchant_id == voucher.merchant_id,
            (BenefitCode.expires_on.is_(None)) | (BenefitCode.expires_on >= today),
        )
        .values(status=S.ISSUED, redeemed_at=None, redeemed_merchant_id=None)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount == 1:
        voucher.restored = refund.voucher_restored = True
