"""Sales, refunds and the short-lived identifications that precede a sale."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.models.alliance import Level
from server.models.base import Base, created_column, id_column
from server.models.merchant import Merchant


class Identification(Base):
    """A member identified at a terminal; its token (stored hashed) is single-use and short-lived."""

    __tablename__ = "identifications"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"))
    terminal_id: Mapped[str] = mapped_column(ForeignKey("terminals.id"))
    card_id: Mapped[str | None] = mapped_column(ForeignKey("cards.id"))
    method: Mapped[str] = mapped_column(String(8))
    # the member's proof it carries: "card" (chip), "code" (dynamic member code), "sms" (one-time code
    # confirmed at the till) or None (phone number or typed card number: discount and earning only)
    proof: Mapped[str | None] = mapped_column(String(8))
    expires_at: Mapped[datetime] = mapped_column(index=True)
    used_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_column()


class Sale(Base):
    """A member sale at a merchant: amount = discount + points value + payable, to the fen."""

    __tablename__ = "sales"
    __table_args__ = (
        UniqueConstraint("merchant_id", "receipt_no"),
        UniqueConstraint("terminal_id", "client_sale_id"),
        Index("ix_sales_member_occurred", "member_id", "occurred_at"),
        Index("ix_sales_merchant_created", "merchant_id", "created_at"),
        Index("ix_sales_created_at", "created_at"),  # settlement reads one business day of every merchant
    )

    id: Mapped[str] = id_column("sal")
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    terminal_id: Mapped[str] = mapped_column(ForeignKey("terminals.id"))
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"))
    card_id: Mapped[str | None] = mapped_column(ForeignKey("cards.id"))
    level_id: Mapped[str] = mapped_column(ForeignKey("levels.id"))
    method: Mapped[str] = mapped_column(String(8))
    receipt_no: Mapped[str] = mapped_column(String(32))
    client_sale_id: Mapped[str | None] = mapped_column(String(64))
    amount_fen: Mapped[int]
    discount_bp: Mapped[int]
    discount_fen: Mapped[int]
    redeem_points: Mapped[int]
    redeem_value_fen: Mapped[int]
    payable_fen: Mapped[int]
    points_earned: Mapped[int]
    refunded_fen: Mapped[int] = mapped_column(default=0)
    points_reversed: Mapped[int] = mapped_column(default=0)
    points_restored: Mapped[int] = mapped_column(default=0)
    offline: Mapped[bool] = mapped_column(default=False)
    occurred_at: Mapped[datetime]
    created_at: Mapped[datetime] = created_column()

    merchant: Mapped[Merchant] = relationship()
    level: Mapped[Level] = relationship()


class Refund(Base):
    """A whole or partial refund of a sale's payable amount with its proportional points."""

    __tablename__ = "refunds"
    __table_args__ = (Index("ix_refunds_created_at", "created_at"),)

    id: Mapped[str] = id_column("rfd")
    sale_id: Mapped[str] = mapped_column(ForeignKey("sales.id"), index=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"), index=True)
    actor: Mapped[str] = mapped_column(String(40))
    amount_fen: Mapped[int]
    points_reversed: Mapped[int]
    points_restored: Mapped[int]
    points_unrecovered: Mapped[int] = mapped_column(default=0)
    reason: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = created_column()
