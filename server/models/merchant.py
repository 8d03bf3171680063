"""Alliance merchants, their per-level discounts and their POS terminals."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.domain.statuses import MerchantStatus, TerminalStatus
from server.models.base import Base, created_column, id_column, status_column


class Merchant(Base):
    """A shop of the alliance."""

    __tablename__ = "merchants"
    __table_args__ = (
        CheckConstraint("earn_rate_bp >= 0 AND earn_rate_bp <= 10000", name="earn_rate_range"),
        CheckConstraint("max_redeem_bp >= 0 AND max_redeem_bp <= 10000", name="max_redeem_range"),
        CheckConstraint(
            "service_fee_bp >= 0 AND service_fee_bp <= 10000 AND service_fee_per_sale_fen >= 0",
            name="service_fee_range",
        ),
    )

    id: Mapped[str] = id_column("mer")
    name: Mapped[str] = mapped_column(String(100))
    trade: Mapped[str] = mapped_column(String(32))
    region: Mapped[str] = mapped_column(String(64), default="")
    # GB/T 2260 code of the merchant's county (or city); the servicing agent (history: merchant_agent_changes)
    region_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"), index=True)
    agent_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id"), index=True)
    address: Mapped[str] = mapped_column(String(200), default="")
    contact_phone: Mapped[str] = mapped_column(String(32), default="")
    status: Mapped[str] = status_column(MerchantStatus, MerchantStatus.ACTIVE)
    earn_rate_bp: Mapped[int] = mapped_column(default=100)
    max_redeem_bp: Mapped[int] = mapped_column(default=5_000)
    terminal_seq: Mapped[int] = mapped_column(default=0)
    # The alliance's service fee: basis points of net member sales and/or fen per sale (settlement).
    service_fee_bp: Mapped[int] = mapped_column(default=0, server_default="0")
    service_fee_per_sale_fen: Mapped[int] = mapped_column(default=0, server_default="0")
    # Refunds above this many fen need a supervisor PIN (argon2 hash); None: no authorisation asked.
    refund_auth_threshold_fen: Mapped[int | None]
    refund_pin_hash: Mapped[str | None] = mapped_column(String(200))
    # Where settlements are paid: the account number is encrypted (server/security/pii.py), shown masked.
    bank_account_name: Mapped[str] = mapped_column(String(100), default="", server_default="")
    bank_name: Mapped[str] = mapped_column(String(100), default="", server_default="")
    bank_account_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    bank_account_masked: Mapped[str] = mapped_column(String(40), default="", server_default="")
    points_issued_account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    points_accepted_account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    created_at: Mapped[datetime] = created_column()


class MerchantLevelDiscount(Base):
    """What a member of a level pays at a merchant, in basis points (9000 = 九折)."""

    __tablename__ = "merchant_level_discounts"

    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"), primary_key=True)
    level_id: Mapped[str] = mapped_column(ForeignKey("levels.id"), primary_key=True)
    discount_bp: Mapped[int]


class Terminal(Base):
    """A POS terminal; its bearer token is stored only as a SHA-256 hash."""

    __tablename__ = "terminals"
    __table_args__ = (UniqueConstraint("merchant_id", "code"),)

    id: Mapped[str] = id_column("trm")
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"), index=True)
    code: Mapped[str] = mapped_column(String(8))
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = status_column(TerminalStatus, TerminalStatus.ACTIVE)
    receipt_seq: Mapped[int] = mapped_column(default=0)
    # alliance-wide unique start of this terminal's receipt numbers, e.g. "P0007" (receipt "P0007-000123")
    receipt_prefix: Mapped[str | None] = mapped_column(String(12), unique=True)
    created_at: Mapped[datetime] = created_column()

    merchant: Mapped[Merchant] = relationship(lazy="joined", innerjoin=True)
