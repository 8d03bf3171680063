"""Benefits (权益): the catalogue of benefit products, suppliers, purchases, imports of 卡密 and the stock of codes.

Tables (docs/benefits.md):

- ``benefit_skus``: a benefit product: its kind (``BenefitKind``), face value and sale price in fen, the voucher's
  terms (threshold, percentage and cap, named item), who accepts it (``scope`` and the child tables
  ``benefit_sku_trades`` / ``benefit_sku_regions`` / ``benefit_sku_merchants``), its validity (fixed dates or
  ``valid_days`` after issue), the per-member limit and who funds a voucher; ``benefit_sku_agent_prices`` holds
  the agents' purchase price (拿货价) per agent level.
- ``suppliers``: who sells the alliance third-party codes, with contacts and terms.
- ``benefit_purchases``: a batch bought (or generated): supplier, SKU, quantity, unit cost, invoice, validity,
  source; its codes enter stock only when an import (or generation) is received.
- ``benefit_imports`` / ``benefit_import_rows``: a file of 卡密 being imported; its rows are checked and staged
  chunk by chunk (already encrypted, with the id the code will have in stock), so a crashed import continues
  from its checkpoint; the rows go into stock only once the whole file is staged and de-duplicated.
- ``benefit_codes``: the stock, one row per code: the code and its secret encrypted together (AES-GCM under the
  benefit key, associated data binding the row's id and SKU: ``server/security/benefit_secrets.py``), a keyed
  lookup hash (HMAC, unique per SKU) to find it at redemption, the last four characters for display, the
  expiry and the lifecycle ``BenefitCodeStatus`` with who holds it.

Service API (one transaction per call unless said otherwise; ``actor`` is a ``server.domain.permissions.Actor``):

- ``server/services/benefit_catalog.py``: ``create_sku(actor, **fields) -> BenefitSku`` (with ``agent_prices``
  {agent_level_id: fen}, ``trades`` / ``region_codes`` / ``merchant_ids`` for the scope), ``list_skus()``,
  ``create_supplier(actor, **fields)``, ``list_suppliers()``, ``create_purchase(actor, **fields)``,
  ``sku_accepted_at(sku, merchant) -> bool``.
- ``server/services/benefit_imports.py``: ``start_import(actor, purchase_id, filename, data, all_or_nothing)``
  → ``BenefitImport`` (or the unfinished one of the same file: resume), ``stage_chunk(import_id, rows)`` commits
  a chunk and the checkpoint, ``finish_import(actor, import_id)`` de-duplicates and receives into stock (one
  transaction), ``import_file(actor, purchase_id, path_or_bytes, ..., progress=callable)`` runs all three;
  ``generate_vouchers(actor, purchase_id)`` makes a generated purchase's codes (server/domain/voucher_codes.py).
- ``server/services/benefit_stock.py``: ``reserve(sku_id, count, holder, minutes) -> reservation token`` (FEFO,
  ``FOR UPDATE SKIP LOCKED`` on PostgreSQL), ``release_reservation(token)``, ``issue_reserved(token, member_id=|
  agent_id=)``, ``allocate(sku_id, member_id=|agent_id=, count=1)`` (reserve + issue in one call),
  ``redeem(sku_id, code, merchant_id)`` (by keyed hash; a wrong code answers like any other wrong code),
  ``void(actor, code_id, reason)``, ``release_expired_reservations(now)`` and ``expire_codes(today)`` (jobs),
  ``stock_counts()`` (by SKU, status and expiry month), ``reveal_for_member(member_id, code_id)`` and
  ``reveal_for_staff(actor, code_id, reason)`` (both audited). Every transition is a guarded UPDATE (``WHERE
  status = <from>``) whose affected row count must match, else ``BenefitStockConflict``.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Index, LargeBinary, String, UniqueConstraint, true
from sqlalchemy.orm import Mapped, mapped_column

from server.domain.statuses import (
    BenefitCodeStatus,
    BenefitFunder,
    BenefitImportStatus,
    BenefitKind,
    BenefitPurchaseSource,
    BenefitPurchaseStatus,
    BenefitScope,
    BenefitSkuStatus,
    SupplierStatus,
    sql_in,
)
from server.models.base import Base, created_column, id_column, status_column


class BenefitSku(Base):
    """A benefit product (权益 SKU): a third party's 卡密 or one of the alliance's vouchers."""

    __tablename__ = "benefit_skus"
    __table_args__ = (
        CheckConstraint(sql_in("kind", BenefitKind), name="kind"),
        CheckConstraint(sql_in("scope", BenefitScope), name="scope"),
        CheckConstraint(f"funder IS NULL OR {sql_in('funder', BenefitFunder)}", name="funder"),
        CheckConstraint("face_value_fen >= 0 AND sale_price_fen >= 0", name="money_range"),
        CheckConstraint("threshold_fen IS NULL OR threshold_fen > 0", name="threshold_range"),
        CheckConstraint("percent_off_bp IS NULL OR (percent_off_bp > 0 AND percent_off_bp <= 10000)", name="percent"),
        CheckConstraint("cap_fen IS NULL OR cap_fen > 0", name="cap_range"),
        CheckConstraint("valid_days IS NULL OR valid_days > 0", name="valid_days_range"),
        CheckConstraint("valid_from IS NULL OR valid_until IS NULL OR valid_from <= valid_until", name="valid_dates"),
        CheckConstraint("per_member_limit IS NULL OR per_member_limit > 0", name="member_limit_range"),
        CheckConstraint("kind = 'third_party_code' OR funder IS NOT NULL", name="voucher_funder"),
        CheckConstraint("funder <> 'sponsor_merchant' OR sponsor_merchant_id IS NOT NULL", name="sponsor"),
        CheckConstraint("low_stock_threshold >= 0 AND near_expiry_days >= 0", name="alert_range"),
        CheckConstraint("points_price IS NULL OR points_price > 0", name="points_price_range"),
    )

    id: Mapped[str] = id_column("bsk")
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(24))
    status: Mapped[str] = status_column(BenefitSkuStatus, BenefitSkuStatus.ACTIVE)
    face_value_fen: Mapped[int] = mapped_column(default=0)
    sale_price_fen: Mapped[int] = mapped_column(default=0)
    # voucher_threshold: spend threshold_fen, get face_value_fen off; voucher_percent: percent_off_bp, at most cap_fen
    threshold_fen: Mapped[int | None]
    percent_off_bp: Mapped[int | None]
    cap_fen: Mapped[int | None]
    item_name: Mapped[str] = mapped_column(String(100), default="")  # voucher_item: the named item
    scope: Mapped[str] = mapped_column(String(16), default=BenefitScope.ALL)
    # validity: fixed dates (valid_from..valid_until) and/or valid_days after issue (the earlier end wins)
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)
    valid_days: Mapped[int | None]
    per_member_limit: Mapped[int | None]
    funder: Mapped[str | None] = mapped_column(String(24))
    sponsor_merchant_id: Mapped[str | None] = mapped_column(ForeignKey("merchants.id"), index=True)
    # alerts (jobs): warn below this many available codes / this many days before codes expire
    low_stock_threshold: Mapped[int] = mapped_column(default=0)
    near_expiry_days: Mapped[int] = mapped_column(default=30)
    points_price: Mapped[int | None]  # members may exchange this many points for one (none: not exchangeable)
    # a voucher redeemed in a sale goes back to the member when the sale is fully refunded (and still valid)
    restore_on_refund: Mapped[bool] = mapped_column(default=True, server_default=true())
    description: Mapped[str] = mapped_column(String(500), default="")
    created_by: Mapped[str] = mapped_column(String(40), default="")
    created_at: Mapped[datetime] = created_column()


class BenefitSkuAgentPrice(Base):
    """What an agent of a level pays for one code of a SKU (拿货价), in fen."""

    __tablename__ = "benefit_sku_agent_prices"
    __table_args__ = (CheckConstraint("price_fen >= 0", name="price_range"),)

    sku_id: Mapped[str] = mapped_column(ForeignKey("benefit_skus.id"), primary_key=True)
    agent_level_id: Mapped[str] = mapped_column(ForeignKey("agent_levels.id"), primary_key=True)
    price_fen: Mapped[int]


class BenefitSkuTrade(Base):
    """A trade whose merchants accept a SKU of scope ``trades``."""

    __tablename__ = "benefit_sku_trades"

    sku_id: Mapped[str] = mapped_column(ForeignKey("benefit_skus.id"), primary_key=True)
    trade: Mapped[str] = mapped_column(String(32), primary_key=True)


class BenefitSkuRegion(Base):
    """A region (GB/T 2260, and everything under it) whose merchants accept a SKU of scope ``regions``."""

    __tablename__ = "benefit_sku_regions"

    sku_id: Mapped[str] = mapped_column(ForeignKey("benefit_skus.id"), primary_key=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), primary_key=True)


class BenefitSkuMerchant(Base):
    """A merchant that accepts a SKU of scope ``merchants``."""

    __tablename__ = "benefit_sku_merchants"

    sku_id: Mapped[str] = mapped_column(ForeignKey("benefit_skus.id"), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"), primary_key=True, index=True)


class Supplier(Base):
    """A supplier of third-party codes: contacts and terms."""

    __tablename__ = "suppliers"
    __table_args__ = (CheckConstraint("payment_days >= 0", name="payment_days_range"),)

    id: Mapped[str] = id_column("sup")
    name: Mapped[str] = mapped_column(String(100), unique=True)
    contact_name: Mapped[str] = mapped_column(String(50), default="")
    contact_phone: Mapped[str] = mapped_column(String(32), default="")
    contact_email: Mapped[str] = mapped_column(String(100), default="")
    terms: Mapped[str] = mapped_column(String(500), default="")
    payment_days: Mapped[int] = mapped_column(default=30)  # invoices are due this many days after receipt
    status: Mapped[str] = status_column(SupplierStatus, SupplierStatus.ACTIVE)
    created_at: Mapped[datetime] = created_column()


class BenefitPurchase(Base):
    """A batch of codes of one SKU bought from a supplier (or generated by the alliance for its vouchers)."""

    __tablename__ = "benefit_purchases"
    __table_args__ = (
        CheckConstraint(sql_in("source", BenefitPurchaseSource), name="source"),
        CheckConstraint("quantity > 0 AND unit_cost_fen >= 0", name="quantity_range"),
        CheckConstraint("received_count >= 0", name="received_range"),
        CheckConstraint("source = 'generated' OR supplier_id IS NOT NULL", name="supplier"),
    )

    id: Mapped[str] = id_column("bpu")
    supplier_id: Mapped[str | None] = mapped_column(ForeignKey("suppliers.id"), index=True)
    sku_id: Mapped[str] = mapped_column(ForeignKey("benefit_skus.id"), index=True)
    quantity: Mapped[int]
    unit_cost_fen: Mapped[int] = mapped_column(default=0)
    invoice_number: Mapped[str] = mapped_column(String(64), default="")
    purchase_date: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)  # the codes' expiry when a row gives none
    source: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = status_column(BenefitPurchaseStatus, BenefitPurchaseStatus.ORDERED)
    received_count: Mapped[int] = mapped_column(default=0)
    received_at: Mapped[datetime | None]
    created_by: Mapped[str] = mapped_column(String(40), default="")
    created_at: Mapped[datetime] = created_column()


class BenefitImport(Base):
    """A file of 卡密 imported into a purchase; resumable: ``rows_done`` is the checkpoint (rows staged)."""

    __tablename__ = "benefit_imports"
    __table_args__ = (UniqueConstraint("purchase_id", "file_sha256"),)

    id: Mapped[str] = id_column("bim")
    purchase_id: Mapped[str] = mapped_column(ForeignKey("benefit_purchases.id"), index=True)
    filename: Mapped[str] = mapped_column(String(200), default="")
    file_sha256: Mapped[str] = mapped_column(String(64))
    all_or_nothing: Mapped[bool] = mapped_column(default=True)
    status: Mapped[str] = status_column(BenefitImportStatus, BenefitImportStatus.STAGING)
    rows_done: Mapped[int] = mapped_column(default=0)
    rows_rejected: Mapped[int] = mapped_column(default=0)
    rows_received: Mapped[int] = mapped_column(default=0)
    report: Mapped[list] = mapped_column(JSON, default=list)  # rejected rows: {"row", "reason", "code_last4"}
    created_by: Mapped[str] = mapped_column(String(40), default="")
    created_at: Mapped[datetime] = created_column()
    finished_at: Mapped[datetime | None]


class BenefitImportRow(Base):
    """One good row of an import, staged (encrypted already, under the id its code will have in stock)."""

    __tablename__ = "benefit_import_rows"  # no index besides the key: COPY fast; de-duplicated by the import

    import_id: Mapped[str] = mapped_column(ForeignKey("benefit_imports.id"), primary_key=True)
    row_number: Mapped[int] = mapped_column(primary_key=True)
    code_id: Mapped[str] = mapped_column(String(24))
    lookup_hash: Mapped[str] = mapped_column(String(64))
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    last4: Mapped[str] = mapped_column(String(4))
    expires_on: Mapped[date | None] = mapped_column(Date)


class BenefitCode(Base):
    """One code in stock: encrypted code and secret, keyed lookup hash, last four, expiry, lifecycle, holder."""

    __tablename__ = "benefit_codes"
    __table_args__ = (
        UniqueConstraint("sku_id", "lookup_hash"),
        CheckConstraint("status <> 'reserved' OR reserved_until IS NOT NULL", name="reservation_deadline"),
        CheckConstraint(
            "status NOT IN ('issued', 'redeemed') OR member_id IS NOT NULL OR agent_id IS NOT NULL",
            name="issued_holder",
        ),
        Index("ix_benefit_codes_fefo", "sku_id", "status", "expires_on", "id"),  # FEFO order straight from the index
        Index("ix_benefit_codes_reserved_until", "status", "reserved_until"),
        Index("ix_benefit_codes_lookup_hash", "lookup_hash"),  # a till scans a voucher without naming its SKU
    )

    id: Mapped[str] = id_column("bcd")
    sku_id: Mapped[str] = mapped_column(ForeignKey("benefit_skus.id"))
    purchase_id: Mapped[str] = mapped_column(ForeignKey("benefit_purchases.id"), index=True)
    lookup_hash: Mapped[str] = mapped_column(String(64))
    sealed: Mapped[bytes] = mapped_column(LargeBinary)  # nonce + AES-GCM of {"code", "secret"}
    last4: Mapped[str] = mapped_column(String(4))
    expires_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = status_column(BenefitCodeStatus, BenefitCodeStatus.AVAILABLE)
    reservation: Mapped[str | None] = mapped_column(String(40), index=True)  # who reserved it (a token)
    reserved_until: Mapped[datetime | None]
    member_id: Mapped[str | None] = mapped_column(ForeignKey("members.id"), index=True)
    agent_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id"), index=True)
    redeemed_merchant_id: Mapped[str | None] = mapped_column(ForeignKey("merchants.id"), index=True)
    void_reason: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = created_column()
    reserved_at: Mapped[datetime | None]
    issued_at: Mapped[datetime | None]
    redeemed_at: Mapped[datetime | None]
    voided_at: Mapped[datetime | None]
    expired_at: Mapped[datetime | None]
    expiry_notified_on: Mapped[date | None] = mapped_column(Date)  # the holder was texted it is about to expire
