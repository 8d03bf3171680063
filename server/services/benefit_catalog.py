"""The benefits catalogue (权益): SKUs with their agent prices and acceptance scope, suppliers, purchase batches.

One transaction per use case, audited. The stock of codes is ``server/services/benefit_stock.py``; importing
卡密 and generating vouchers is ``server/services/benefit_imports.py`` (docs/benefits.md).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from server.domain.errors import Conflict, InvalidRequest, NotFound
from server.domain.statuses import (
    VOUCHER_KINDS,
    BenefitFunder,
    BenefitKind,
    BenefitPurchaseSource,
    BenefitScope,
    BenefitSkuStatus,
    SupplierStatus,
)
from server.extensions import db
from server.models import (
    AgentLevel,
    BenefitPurchase,
    BenefitSku,
    BenefitSkuAgentPrice,
    BenefitSkuMerchant,
    BenefitSkuRegion,
    BenefitSkuTrade,
    Merchant,
    Region,
    Supplier,
)
from server.services.audit import audit
from server.services.unit_of_work import transactional

SKU_FIELDS = (
    "code",
    "name",
    "kind",
    "face_value_fen",
    "sale_price_fen",
    "threshold_fen",
    "percent_off_bp",
    "cap_fen",
    "item_name",
    "scope",
    "valid_from",
    "valid_until",
    "valid_days",
    "per_member_limit",
    "funder",
    "sponsor_merchant_id",
    "low_stock_threshold",
    "near_expiry_days",
    "description",
    "points_price",
    "restore_on_refund",
)
SUPPLIER_FIELDS = ("name", "contact_name", "contact_phone", "contact_email", "terms", "payment_days")


def _check_sku_terms(fields: dict) -> None:
    """The voucher terms each kind needs (the CHECK constraints hold the rest)."""
    kind = fields["kind"]
    if kind not in set(BenefitKind):
        raise InvalidRequest("Unknown benefit kind.")
    if kind in VOUCHER_KINDS and not fields.get("funder"):
        raise InvalidRequest("A voucher needs a funder: the alliance, the accepting merchant or a sponsor.")
    if kind == BenefitKind.THIRD_PARTY_CODE and fields.get("funder"):
        raise InvalidRequest("A third party's code has no funder.")
    if kind == BenefitKind.VOUCHER_THRESHOLD and not fields.get("threshold_fen"):
        raise InvalidRequest("A spend-and-save voucher needs the spend threshold.")
    if kind == BenefitKind.VOUCHER_THRESHOLD and fields["threshold_fen"] <= fields.get("face_value_fen", 0):
        raise InvalidRequest("The spend threshold must be above the amount taken off.")
    if kind == BenefitKind.VOUCHER_PERCENT and not (fields.get("percent_off_bp") and fields.get("cap_fen")):
        raise InvalidRequest("A percentage voucher needs the percentage off and its cap.")
    if kind == BenefitKind.VOUCHER_ITEM and not fields.get("item_name"):
        raise InvalidRequest("An item voucher needs the item's name.")
    if fields.get("funder") == BenefitFunder.SPONSOR_MERCHANT and not fields.get("sponsor_merchant_id"):
        raise InvalidRequest("A sponsored voucher needs its sponsoring merchant.")
    if fields.get("funder") != BenefitFunder.SPONSOR_MERCHANT and fields.get("sponsor_merchant_id"):
        raise InvalidRequest("Only a sponsored voucher names a sponsoring merchant.")
    if not (fields.get("valid_until") or fields.get("valid_days")) and kind in VOUCHER_KINDS:
        raise InvalidRequest("A voucher needs an end date or a number of days after issue.")
    start, end = fields.get("valid_from"), fields.get("valid_until")
    if start and end and start > end:
        raise InvalidRequest("The validity ends before it starts.")


def _check_scope_lists(scope: str, trades, region_codes, merchant_ids) -> None:
    """The list of the chosen acceptance scope is given and not empty; the other lists are not."""
    lists = {BenefitScope.TRADES: trades, BenefitScope.REGIONS: region_codes, BenefitScope.MERCHANTS: merchant_ids}
    for list_scope, values in lists.items():
        if scope == list_scope and not values:
            raise InvalidRequest("This acceptance scope needs at least one entry.")
        if scope != list_scope and values:
            raise InvalidRequest("Only the list of the chosen acceptance scope may be given.")


def _add_lists(sku: BenefitSku, agent_prices, trades, region_codes, merchant_ids) -> None:
    """The SKU's acceptance lists and agent prices, each naming a stored trade, region, merchant or level."""
    for trade in dict.fromkeys(trades):
        db.session.add(BenefitSkuTrade(sku_id=sku.id, trade=trade))
    for code in dict.fromkeys(region_codes):
        if db.session.get(Region, code) is None:
            raise NotFound("No such region.")
        db.session.add(BenefitSkuRegion(sku_id=sku.id, region_code=code))
    for merchant_id in dict.fromkeys(merchant_ids):
        if db.session.get(Merchant, merchant_id) is None:
            raise NotFound("No such merchant.")
        db.session.add(BenefitSkuMerchant(sku_id=sku.id, merchant_id=merchant_id))
    for level_id, price_fen in (agent_prices or {}).items():
        if db.session.get(AgentLevel, level_id) is None:
            raise NotFound("No such agent level.")
        db.session.add(BenefitSkuAgentPrice(sku_id=sku.id, agent_level_id=level_id, price_fen=price_fen))


@transactional
def create_sku(
    actor,
    *,
    agent_prices: dict[str, int] | None = None,
    trades: list[str] = (),
    region_codes: list[str] = (),
    merchant_ids: list[str] = (),
    **fields,
) -> BenefitSku:
    """A new benefit product with its agent prices per agent level and the merchants that accept it."""
    fields = {name: value for name, value in fields.items() if name in SKU_FIELDS}
    fields.setdefault("scope", BenefitScope.ALL)
    _check_sku_terms(fields)
    if db.session.scalar(select(BenefitSku.id).where(BenefitSku.code == fields["code"])):
        raise Conflict("A benefit with this code exists already.")
    if fields.get("sponsor_merchant_id") and db.session.get(Merchant, fields["sponsor_merchant_id"]) is None:
        raise NotFound("No such merchant.")
    _check_scope_lists(fields["scope"], trades, region_codes, merchant_ids)
    sku = BenefitSku(created_by=actor.key, **fields)
    db.session.add(sku)
    db.session.flush()
    _add_lists(sku, agent_prices, trades, region_codes, merchant_ids)
    audit(actor.key, "benefit_sku.create", "benefit_sku", sku.id, code=sku.code, kind=sku.kind)
    db.session.flush()
    return sku


def sku_details(sku: BenefitSku) -> dict:
    """A SKU with its agent prices and acceptance lists, as the API and the console show it."""
    out = {name: getattr(sku, name) for name in (*SKU_FIELDS, "id", "status", "created_at")}
    out["agent_prices"] = {
        row.agent_level_id: row.price_fen
        for row in db.session.scalars(select(BenefitSkuAgentPrice).where(BenefitSkuAgentPrice.sku_id == sku.id))
    }
    out["trades"] = list(db.session.scalars(select(BenefitSkuTrade.trade).where(BenefitSkuTrade.sku_id == sku.id)))
    out["region_codes"] = list(
        db.session.scalars(select(BenefitSkuRegion.region_code).where(BenefitSkuRegion.sku_id == sku.id))
    )
    out["merchant_ids"] = list(
        db.session.scalars(select(BenefitSkuMerchant.merchant_id).where(BenefitSkuMerchant.sku_id == sku.id))
    )
    return out


def list_skus(status: str | None = None) -> list[dict]:
    """Every SKU (optionally of one status), newest first, with its details."""
    query = select(BenefitSku).order_by(BenefitSku.created_at.desc(), BenefitSku.id)
    if status:
        query = query.where(BenefitSku.status == status)
    return [sku_details(sku) for sku in db.session.scalars(query)]


def get_sku(sku_id: str) -> BenefitSku:
    sku = db.session.get(BenefitSku, sku_id)
    if sku is None:
        raise NotFound("No such benefit.")
    return sku


def sku_accepted_at(sku: BenefitSku, merchant: Merchant) -> bool:
    """True when ``merchant`` accepts ``sku`` (its scope: all, its trade, its region or above, or listed)."""
    if sku.scope == BenefitScope.ALL:
        return True
    if sku.scope == BenefitScope.TRADES:
        return db.session.get(BenefitSkuTrade, (sku.id, merchant.trade)) is not None
    if sku.scope == BenefitScope.MERCHANTS:
        return db.session.get(BenefitSkuMerchant, (sku.id, merchant.id)) is not None
    codes = set(db.session.scalars(select(BenefitSkuRegion.region_code).where(BenefitSkuRegion.sku_id == sku.id)))
    code = merchant.region_code
    while code:  # the merchant's region or any region above it
        if code in codes:
            return True
        code = db.session.scalar(select(Region.parent_code).where(Region.code == code))
    return False


@transactional
def create_supplier(actor, **fields) -> Supplier:
    """A new supplier (names are unique)."""
    fields = {name: value for name, value in fields.items() if name in SUPPLIER_FIELDS}
    if db.session.scalar(select(Supplier.id).where(Supplier.name == fields["name"])):
        raise Conflict("A supplier with this name exists already.")
    supplier = Supplier(**fields)
    db.session.add(supplier)
    db.session.flush()
    audit(actor.key, "supplier.create", "supplier", supplier.id, name=supplier.name)
    return supplier


def list_suppliers() -> list[Supplier]:
    return list(db.session.scalars(select(Supplier).order_by(Supplier.name)))


@transactional
def create_purchase(
    actor,
    *,
    sku_id: str,
    quantity: int,
    source: str,
    purchase_date: date,
    supplier_id: str | None = None,
    unit_cost_fen: int = 0,
    invoice_number: str = "",
    valid_until: date | None = None,
) -> BenefitPurchase:
    """A purchase batch, ordered: its codes come in by an import (file), the supplier's API, or generation."""
    sku = get_sku(sku_id)
    if sku.status != BenefitSkuStatus.ACTIVE:
        raise Conflict("This benefit is retired; nothing new is bought for it.")
    if source not in set(BenefitPurchaseSource):
        raise InvalidRequest("Unknown purchase source.")
    generated = source == BenefitPurchaseSource.GENERATED
    if generated != (sku.kind in VOUCHER_KINDS):
        raise InvalidRequest("Alliance vouchers are generated here; third parties' codes are bought.")
    if generated and supplier_id:
        raise InvalidRequest("A generated purchase has no supplier.")
    if not generated:
        supplier = db.session.get(Supplier, supplier_id) if supplier_id else None
        if supplier is None:
            raise NotFound("No such supplier.")
        if supplier.status != SupplierStatus.ACTIVE:
            raise Conflict("This supplier is suspended.")
    purchase = BenefitPurchase(
        sku_id=sku.id,
        supplier_id=supplier_id,
        quantity=quantity,
        unit_cost_fen=unit_cost_fen,
        invoice_number=invoice_number,
        purchase_date=purchase_date,
        valid_until=valid_until,
        source=source,
        created_by=actor.key,
    )
    db.session.add(purchase)
    db.session.flush()
    audit(actor.key, "benefit_purchase.create", "benefit_purchase", purchase.id, sku=sku.code, quantity=quantity)
    return purchase


def get_purchase(purchase_id: str) -> BenefitPurchase:
    purchase = db.session.get(BenefitPurchase, purchase_id)
    if purchase is None:
        raise NotFound("No such purchase.")
    return purchase


@transactional
def update_sku(
    actor,
    sku_id: str,
    *,
    agent_prices: dict[str, int] | None = None,
    trades: list[str] = (),
    region_codes: list[str] = (),
    merchant_ids: list[str] = (),
    **fields,
) -> BenefitSku:
    """Change a SKU's terms (its code stays), acceptance lists and agent prices (all replaced); audited.

    The codes already in stock keep their expiry; the next ones issued follow the new validity."""
    sku = get_sku(sku_id)
    changes = {name: value for name, value in fields.items() if name in SKU_FIELDS and name not in ("code", "kind")}
    merged = {name: getattr(sku, name) for name in SKU_FIELDS} | changes
    _check_sku_terms(merged)
    if merged.get("sponsor_merchant_id") and db.session.get(Merchant, merged["sponsor_merchant_id"]) is None:
        raise NotFound("No such merchant.")
    _check_scope_lists(merged["scope"], trades, region_codes, merchant_ids)
    before = {name: getattr(sku, name) for name in changes}
    for name, value in changes.items():
        setattr(sku, name, value)
    for table in (BenefitSkuTrade, BenefitSkuRegion, BenefitSkuMerchant, BenefitSkuAgentPrice):
        for row in db.session.scalars(select(table).where(table.sku_id == sku.id)):
            db.session.delete(row)
    db.session.flush()
    _add_lists(sku, agent_prices, trades, region_codes, merchant_ids)
    changed = sorted(name for name in changes if before[name] != changes[name])
    audit(actor.key, "benefit_sku.update", "benefit_sku", sku.id, code=sku.code, changed=changed)
    db.session.flush()
    return sku
