"""What the console's benefit pages read besides the use cases: choices for forms, purchases with their
received count and imports (reads only; the changes go through the catalogue, import, stock and ops services)."""

from __future__ import annotations

from sqlalchemy import func, select

from server.extensions import db
from server.models import (
    AgentLevel,
    BenefitCode,
    BenefitImport,
    BenefitInvoice,
    BenefitPurchase,
    BenefitSku,
    Merchant,
    Supplier,
)

PURCHASES_SHOWN = 200


def agent_levels() -> list[AgentLevel]:
    """Agent levels by rank (a SKU's agent price is per level)."""
    return list(db.session.scalars(select(AgentLevel).order_by(AgentLevel.rank)))


def merchant_choices() -> list[tuple[str, str]]:
    """Every merchant as (id, name), by name (a sponsoring merchant)."""
    return [
        (row.id, row.name) for row in db.session.execute(select(Merchant.id, Merchant.name).order_by(Merchant.name))
    ]


def list_purchases(supplier_id: str | None = None, limit: int = PURCHASES_SHOWN) -> list[dict]:
    """Purchases newest first with their SKU, supplier, codes in stock and recorded invoice total."""
    in_stock = (
        select(BenefitCode.purchase_id, func.count(BenefitCode.id).label("codes"))
        .group_by(BenefitCode.purchase_id)
        .subquery()
    )
    query = (
        select(BenefitPurchase, BenefitSku.name, Supplier.name, func.coalesce(in_stock.c.codes, 0), BenefitInvoice)
        .join(BenefitSku, BenefitSku.id == BenefitPurchase.sku_id)
        .outerjoin(Supplier, Supplier.id == BenefitPurchase.supplier_id)
        .outerjoin(in_stock, in_stock.c.purchase_id == BenefitPurchase.id)
        .outerjoin(BenefitInvoice, BenefitInvoice.purchase_id == BenefitPurchase.id)
        .order_by(BenefitPurchase.purchase_date.desc(), BenefitPurchase.created_at.desc())
        .limit(limit)
    )
    if supplier_id:
        query = query.where(BenefitPurchase.supplier_id == supplier_id)
    return [
        {
            "purchase": purchase,
            "sku_name": sku_name,
            "supplier_name": supplier_name or "",
            "codes": int(codes),
            "invoice_total_fen": invoice.total_fen if invoice else None,
        }
        for purchase, sku_name, supplier_name, codes, invoice in db.session.execute(query)
    ]


def purchase_details(purchase_id: str) -> dict:
    """A purchase's SKU and supplier names, its codes by status, and its imports newest first."""
    purchase = db.session.get(BenefitPurchase, purchase_id)
    by_status = dict(
        db.session.execute(
            select(BenefitCode.status, func.count(BenefitCode.id))
            .where(BenefitCode.purchase_id == purchase_id)
            .group_by(BenefitCode.status)
        ).all()
    )
    imports = list(
        db.session.scalars(
            select(BenefitImport)
            .where(BenefitImport.purchase_id == purchase_id)
            .order_by(BenefitImport.created_at.desc())
        )
    )
    supplier = db.session.get(Supplier, purchase.supplier_id) if purchase.supplier_id else None
    return {
        "sku_name": db.session.get(BenefitSku, purchase.sku_id).name,
        "supplier_name": supplier.name if supplier else "",
        "by_status": {status: int(count) for status, count in by_status.items()},
        "imports": imports,
    }


def purchase_choices(supplier_id: str) -> list[tuple[str, str]]:
    """A supplier's purchases as (id, "date · SKU × quantity · invoice number") for recording an invoice."""
    choices = []
    for row in list_purchases(supplier_id):
        purchase = row["purchase"]
        label = f"{purchase.purchase_date} · {row['sku_name']} × {purchase.quantity}"
        choices.append((purchase.id, f"{label} · {purchase.invoice_number}" if purchase.invoice_number else label))
    return choices
