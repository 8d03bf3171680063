"""Gift with a purchase at the till (满赠): a merchant's gift rules, the gift a sale earns, voided by a full refund.

A qualifying sale (``server/domain/till_gifts.py``) gets one code of the rule's SKU through the grant machinery
(``benefit_grants.grant``: channel ``till_gift``, source id = the sale id, so a retried or replayed sale never
gives twice), in the sale's own transaction, inside a savepoint: no code in stock (or the SKU's own per-member
limit) skips the gift and counts it on the rule (``out_of_stock_count``), and the sale is recorded all the same.
The sale's response carries the gift (``name``, ``code`` for the receipt, ``expires_on``); the idempotent
response stores it sealed (``server/api/terminal.py``). A refund that leaves nothing of the sale voids the gift
if it is still unused. Rules are set by the operator (console, API) and by the merchant's owner (console).
"""

from __future__ import annotations

import logging
from datetime import datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import Row, bindparam, func, select, update
from sqlalchemy.exc import IntegrityError

from server.domain import dynamic_vouchers, voucher_codes
from server.domain.errors import BenefitOutOfStock, DomainError, InvalidRequest, NotFound
from server.domain.statuses import VOUCHER_KINDS, BenefitChannel, BenefitCodeStatus, BenefitSkuStatus, GiftLimitPeriod
from server.domain.till_gifts import GiftRuleFacts, period_start, qualifying_rule
from server.extensions import db
from server.models import BenefitCode, BenefitGrant, BenefitSku, Merchant, MerchantGiftRule, Sale, SaleGift
from server.models.base import utcnow
from server.security.benefit_secrets import sealer
from server.services import benefit_grants, worker_copies
from server.services.alliance import current_settings
from server.services.audit import audit
from server.services.points import alliance_today
from server.services.unit_of_work import transactional

log = logging.getLogger(__name__)

RULE_FIELDS = ("sku_id", "min_payable_fen", "starts_at", "ends_at", "per_member_limit", "limit_period", "active")
MAX_MIN_PAYABLE_FEN = 100_000_000


def _merchant(merchant_id: str) -> Merchant:
    merchant = db.session.get(Merchant, merchant_id)
    if merchant is None:
        raise NotFound("No such merchant.")
    return merchant


def list_rules(merchant_id: str) -> list[MerchantGiftRule]:
    """The merchant's gift rules, newest first."""
    return list(
        db.session.scalars(
            select(MerchantGiftRule)
            .where(MerchantGiftRule.merchant_id == merchant_id)
            .order_by(MerchantGiftRule.created_at.desc(), MerchantGiftRule.id)
        )
    )


def get_rule(merchant_id: str, rule_id: str) -> MerchantGiftRule:
    rule = db.session.get(MerchantGiftRule, rule_id)
    if rule is None or rule.merchant_id != merchant_id:
        raise NotFound("No such gift rule.")
    return rule


def gift_skus() -> list[BenefitSku]:
    """The SKUs a till gift may give: active alliance vouchers, by name."""
    return list(
        db.session.scalars(
            select(BenefitSku)
            .where(BenefitSku.status == BenefitSkuStatus.ACTIVE, BenefitSku.kind.in_(sorted(VOUCHER_KINDS)))
            .order_by(BenefitSku.name)
        )
    )


def _check(fields: dict) -> None:
    sku = db.session.get(BenefitSku, fields["sku_id"] or "")
    if sku is None:
        raise NotFound("No such benefit.", field="sku_id")
    if sku.kind not in VOUCHER_KINDS or sku.status != BenefitSkuStatus.ACTIVE:
        raise InvalidRequest("A till gift is an active alliance voucher.", field="sku_id")
    if not 1 <= fields["min_payable_fen"] <= MAX_MIN_PAYABLE_FEN:
        raise InvalidRequest("The minimum spend is between 0.01 and 1000000 yuan.", field="min_payable_fen")
    if fields["ends_at"] is not None and fields["ends_at"] <= fields["starts_at"]:
        raise InvalidRequest("The gift must end after it starts.", field="ends_at")
    if fields["per_member_limit"] is not None and not 1 <= fields["per_member_limit"] <= 100:
        raise InvalidRequest("The per-member limit is between 1 and 100.", field="per_member_limit")
    if fields["limit_period"] not in set(GiftLimitPeriod):
        raise InvalidRequest("The limit counts per day, week or month.", field="limit_period")


@transactional
def create_rule(actor: str, merchant_id: str, **fields) -> MerchantGiftRule:
    """A new gift rule for the merchant (on unless ``active=False``); audited."""
    unknown = set(fields) - set(RULE_FIELDS)
    if unknown:
        raise InvalidRequest("Unknown fields.", fields=sorted(unknown))
    _merchant(merchant_id)
    values = {
        "sku_id": fields.get("sku_id"),
        "min_payable_fen": fields.get("min_payable_fen") or 0,
        "starts_at": fields.get("starts_at") or utcnow(),
        "ends_at": fields.get("ends_at"),
        "per_member_limit": fields.get("per_member_limit"),
        "limit_period": fields.get("limit_period") or GiftLimitPeriod.DAY,
        "active": fields.get("active", True),
    }
    _check(values)
    rule = MerchantGiftRule(merchant_id=merchant_id, created_by=actor[:40], **values)
    db.session.add(rule)
    db.session.flush()
    audit(actor, "till_gift_rule.create", "merchant", merchant_id, rule_id=rule.id, sku_id=rule.sku_id)
    return rule


@transactional
def update_rule(actor: str, merchant_id: str, rule_id: str, **fields) -> MerchantGiftRule:
    """Change a gift rule (any of its fields; ``active`` turns it on or off); audited."""
    unknown = set(fields) - set(RULE_FIELDS)
    if unknown:
        raise InvalidRequest("Unknown fields.", fields=sorted(unknown))
    rule = get_rule(merchant_id, rule_id)
    values = {name: getattr(rule, name) for name in RULE_FIELDS} | fields
    _check(values)
    for name, value in fields.items():
        setattr(rule, name, value)
    db.session.flush()
    audit(actor, "till_gift_rule.update", "merchant", merchant_id, rule_id=rule.id, changed=sorted(fields))
    return rule


# --- in the sale's transaction ---
def _limit_reached(rule: Row, member_id: str) -> bool:
    if rule.per_member_limit is None:
        return False
    settings = current_settings()  # the sale's path: the worker's copy, not a read of the row
    first_day = period_start(rule.limit_period, alliance_today(settings))
    since = datetime.combine(first_day, time.min, tzinfo=ZoneInfo(settings.timezone))
    given = db.session.scalar(
        select(func.count())
        .select_from(SaleGift)
        .where(
            SaleGift.rule_id == rule.id,
            SaleGift.member_id == member_id,
            SaleGift.created_at >= since,
            SaleGift.voided_at.is_(None),
        )
    )
    return given >= rule.per_member_limit


def _count(rule_id: str, column: str) -> None:
    counter = getattr(MerchantGiftRule, column)
    db.session.execute(
        update(MerchantGiftRule)
        .where(MerchantGiftRule.id == rule_id)
        .values({column: counter + 1})
        .execution_options(synchronize_session=False)
    )


def receipt_gift(code: BenefitCode, sku: BenefitSku) -> dict:
    """What the receipt prints of a gift: the SKU's name, the code (None for a voucher shown only as a dynamic
    code in the member's wallet: its printed code is refused at the till) and the last day."""
    dynamic = dynamic_vouchers.is_dynamic_voucher(
        sku.kind in VOUCHER_KINDS, sku.face_value_fen, sku.cap_fen, current_settings().dynamic_voucher_min_fen
    )
    text = None
    if not dynamic:
        text, _secret = sealer().open(code.id, code.sku_id, code.sealed)
        text = voucher_codes.display(text)
    return {"name": sku.name, "code": text, "expires_on": code.expires_on}


_rules = MerchantGiftRule.__table__
_ACTIVE_RULES = select(
    _rules.c.id,
    _rules.c.sku_id,
    _rules.c.min_payable_fen,
    _rules.c.starts_at,
    _rules.c.ends_at,
    _rules.c.active,
    _rules.c.created_at,
    _rules.c.per_member_limit,
    _rules.c.limit_period,
).where(_rules.c.merchant_id == bindparam("merchant_id"), _rules.c.active.is_(True))


def active_rules(merchant_id: str) -> tuple[Row, ...]:
    """The merchant's active gift rules, from the worker's copy (server/services/worker_copies.py): most
    shops have none, and a sale there reads nothing."""
    return worker_copies.copied(
        "worker_copy:gift_rules",
        merchant_id,
        lambda: tuple(db.session.execute(_ACTIVE_RULES, {"merchant_id": merchant_id}).all()),
    )


def give_gift(sale: Sale, member_id: str, moment: datetime, actor: str) -> dict | None:
    """The gift ``sale`` earns (flushes only: the sale's transaction), as the receipt prints it, or None."""
    rows = active_rules(sale.merchant_id)
    if not rows:
        return None
    facts = [GiftRuleFacts(r.id, r.min_payable_fen, r.starts_at, r.ends_at, r.active, r.created_at) for r in rows]
    chosen = qualifying_rule(facts, sale.payable_fen, moment)
    if chosen is None:
        return None
    rule = next(r for r in rows if r.id == chosen.id)
    if _limit_reached(rule, member_id):
        return None
    try:
        with db.session.begin_nested():
            grant = benefit_grants.grant(BenefitChannel.TILL_GIFT, sale.id, member_id, rule.sku_id, actor)
            db.session.add(SaleGift(sale_id=sale.id, rule_id=rule.id, grant_id=grant.id, member_id=member_id))
            db.session.flush()
    except BenefitOutOfStock:
        log.warning("till gift of rule %s for sale %s skipped: no code in stock", rule.id, sale.id)
        _count(rule.id, "out_of_stock_count")
        return None
    except (DomainError, IntegrityError) as error:  # the SKU's own per-member limit, a concurrent grant
        log.warning("till gift of rule %s for sale %s skipped: %s", rule.id, sale.id, error)
        return None
    _count(rule.id, "granted_count")
    code = db.session.get(BenefitCode, grant.code_id)
    return receipt_gift(code, db.session.get(BenefitSku, rule.sku_id))


def void_gift_of_refunded_sale(sale: Sale, actor: str) -> bool:
    """A sale refunded in full takes back its gift if still unused (flushes only); whether a code was voided."""
    if sale.refunded_fen < sale.payable_fen:
        return False
    gift = db.session.get(SaleGift, sale.id)
    if gift is None or gift.voided_at is not None:
        return False
    code_id = db.session.scalar(select(BenefitGrant.code_id).where(BenefitGrant.id == gift.grant_id))
    now = utcnow()
    result = db.session.execute(
        update(BenefitCode)
        .where(BenefitCode.id == code_id, BenefitCode.status == BenefitCodeStatus.ISSUED)
        .values(status=BenefitCodeStatus.VOID, voided_at=now, void_reason="sale refunded")
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # used already (or expired): the gift stays as it is
        return False
    gift.voided_at = now
    audit(actor, "till_gift.void", "sale", sale.id, code_id=code_id)
    return True
