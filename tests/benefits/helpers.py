"""Builders for the benefits tests: a benefits manager, a third-party SKU with a supplier and purchase, vouchers."""

from __future__ import annotations

from datetime import date

from server.domain.permissions import Actor
from server.services import benefit_catalog
from server.services.alliance import ensure_alliance

MANAGER = Actor("staff:benefits-test", "benefits_manager", None)
ADMIN = Actor("staff:admin-test", "admin", None)


def third_party(code: str = "VIDEO-MONTH", quantity: int = 100, **purchase_fields):
    """A third-party SKU (video membership), a supplier and an ordered purchase of ``quantity`` codes."""
    ensure_alliance()
    sku = benefit_catalog.create_sku(
        MANAGER, code=code, name="视频月卡", kind="third_party_code", face_value_fen=2_500, sale_price_fen=1_990
    )
    supplier = benefit_catalog.create_supplier(MANAGER, name=f"供应商-{code}", contact_name="王经理")
    purchase = benefit_catalog.create_purchase(
        MANAGER,
        sku_id=sku.id,
        supplier_id=supplier.id,
        quantity=quantity,
        unit_cost_fen=1_800,
        source="file_import",
        purchase_date=date(2026, 12, 1),
        **purchase_fields,
    )
    return sku, supplier, purchase


def csv_file(rows) -> bytes:
    return ("code,secret,expiry\n" + "".join(",".join(row) + "\n" for row in rows)).encode()


def vouchers(code: str = "SAVE-10", quantity: int = 20, kind: str = "voucher_threshold", **sku_fields):
    """An alliance voucher SKU (spend 100 yuan, 10 off, funded by the alliance) with ``quantity`` generated codes."""
    from server.services import benefit_imports

    ensure_alliance()
    terms = {"threshold_fen": 10_000} if kind == "voucher_threshold" else {}
    sku = benefit_catalog.create_sku(
        MANAGER,
        code=code,
        name=f"满100减10-{code}",
        kind=kind,
        face_value_fen=1_000,
        funder="alliance",
        **{**terms, "valid_days": 90, **sku_fields},
    )
    purchase = benefit_catalog.create_purchase(
        MANAGER, sku_id=sku.id, quantity=quantity, source="generated", purchase_date=date(2026, 12, 1)
    )
    benefit_imports.generate_vouchers(MANAGER, purchase.id)
    return sku
