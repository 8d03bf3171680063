"""Benefit stock for the alerts, reconciliation and consignment tests: rows as the stock services leave them.

Codes are written straight to the stock table (their sealed bytes are opaque here: nothing in these tests
reads a secret), with the status and times each scenario needs.
"""

from __future__ import annotations

import itertools
import secrets
from datetime import date, datetime

from server.extensions import db
from server.models import BenefitCode, BenefitPurchase, BenefitSku, BenefitSkuAgentPrice, Supplier

_serial = itertools.count(1)


def make_supplier(name: str = "优选卡券") -> Supplier:
    supplier = Supplier(name=f"{name}{next(_serial)}" if name == "优选卡券" else name)
    db.session.add(supplier)
    db.session.commit()
    return supplier


def make_sku(name: str = "视频月卡", threshold: int = 0, near_expiry_days: int = 30, **fields) -> BenefitSku:
    sku = BenefitSku(
        code=f"SKU{next(_serial):05d}",
        name=name,
        kind="third_party_code",
        face_value_fen=fields.pop("face_value_fen", 2_500),
        low_stock_threshold=threshold,
        near_expiry_days=near_expiry_days,
        **fields,
    )
    db.session.add(sku)
    db.session.commit()
    return sku


def set_agent_price(sku: BenefitSku, level_id: str, price_fen: int) -> None:
    db.session.add(BenefitSkuAgentPrice(sku_id=sku.id, agent_level_id=level_id, price_fen=price_fen))
    db.session.commit()


def make_purchase(
    supplier: Supplier | None,
    sku: BenefitSku,
    quantity: int,
    unit_cost_fen: int,
    purchase_date: date,
    status: str = "received",
    invoice_number: str = "",
    received_at: datetime | None = None,
) -> BenefitPurchase:
    purchase = BenefitPurchase(
        supplier_id=supplier.id if supplier else None,
        sku_id=sku.id,
        quantity=quantity,
        unit_cost_fen=unit_cost_fen,
        purchase_date=purchase_date,
        source="file_import" if supplier else "generated",
        status=status,
        invoice_number=invoice_number,
        received_at=received_at,
    )
    db.session.add(purchase)
    db.session.commit()
    return purchase


def add_codes(
    purchase: BenefitPurchase,
    count: int,
    expires_on: date | None = None,
    status: str = "available",
    received_at: datetime | None = None,
    **fields,
) -> list[BenefitCode]:
    """``count`` codes of the purchase in ``status`` (an issued/redeemed code needs ``issued_at`` and a holder)."""
    codes = []
    for _ in range(count):
        serial = next(_serial)
        code = BenefitCode(
            sku_id=purchase.sku_id,
            purchase_id=purchase.id,
            lookup_hash=secrets.token_hex(32),
            sealed=secrets.token_bytes(40),
            last4=f"{serial % 10_000:04d}",
            expires_on=expires_on,
            status=status,
            **fields,
        )
        if received_at is not None:
            code.created_at = received_at
        if status == "reserved" and "reserved_until" not in fields:
            code.reserved_until = received_at
        codes.append(code)
    db.session.add_all(codes)
    purchase.received_count += count
    db.session.commit()
    return codes
