"""Sales, refunds and the short-lived identifications that precede a sale."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, false
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
    """A member sale at a merchant: amount = discount + voucher + points value + payable, to the fen."""

    __tablename__ = "sales"
    __table_args__ = (
        UniqueConstraint("merchant_id", "receipt_no"),
        UniqueConstraint("receipt_no", name="uq_sales_receipt_no"),  # one sale per number, alliance-wide
        UniqueConstraint("terminal_id", "client_sale_id"),
        # the level check can sum a member's window spend from this index alone (PostgreSQL, all-visible pages)
        Index(
            "ix_sales_member_occurred",
            "member_id",
            "occurred_at",
            postgresql_include=["payable_fen", "refunded_fen"],
        ),
        Index("ix_sales_merchant_created", "merchant_id", "created_at"),
        Index("ix_sales_created_at", "created_at"),  # settlement reads one business day of every merchant
        # the agent evaluation aggregates a month of sales per servicing / recruiting agent
        Index("ix_sales_servicing_agent_occurred", "servicing_agent_id", "occurred_at"),
        Index("ix_sales_recruiting_agent_occurred", "recruiting_agent_id", "occurred_at"),
    )

    id: Mapped[str] = id_column("sal")
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    terminal_id: Mapped[str] = mapped_column(ForeignKey("terminals.id"))
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"))
    card_id: Mapped[str | None] = mapped_column(ForeignKey("cards.id"))
    level_id: Mapped[str] = mapped_column(ForeignKey("levels.id"))
    method: Mapped[str] = mapped_column(String(8))
    receipt_no: Mapped[str] = mapped_column(String(32))
    # the number printed before receipt numbers were alliance-wide (lookups still find the sale by it)
    legacy_receipt_no: Mapped[str | None] = mapped_column(String(32), index=True)
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
    # how the customer paid the payable amount (server/domain/payments.py)
    payment_method: Mapped[str] = mapped_column(String(8), default="cash", server_default="cash")
    occurred_at: Mapped[datetime]
    created_at: Mapped[datetime] = created_column()
    # attribution at sale time (server/services/sales/attribution.py): later changes never rewrite it
    servicing_agent_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id"))  # the merchant's agent
    recruiting_agent_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id"))  # who recruited the member
    recruiting_member_id: Mapped[str | None] = mapped_column(ForeignKey("members.id"))  # who invited the member
    invite_reward_points: Mapped[int] = mapped_column(default=0, server_default="0")  # granted to the inviter
    voucher_fen: Mapped[int] = mapped_column(default=0, server_default="0")  # an alliance voucher's value (SaleVoucher)

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
    payment_method: Mapped[str] = mapped_column(String(8), default="cash", server_default="cash")
    authorised_by: Mapped[str | None] = mapped_column(String(16))  # "supervisor_pin" when the merchant required it
    created_at: Mapped[datetime] = created_column()
    voucher_fen: Mapped[int] = mapped_column(default=0, server_default="0")  # its share of the sale's voucher value
    voucher_restored: Mapped[bool] = mapped_column(default=False, server_default=false())  # the voucher went back


class SaleVoucher(Base):
    """The alliance voucher a sale redeemed (at most one per sale): which code, its value, who funds it.

    Written in the sale's own transaction right after the guarded UPDATE that took the code from
    ``issued`` to ``redeemed``. The funder is snapshotted: ``funder_merchant_id`` is the sponsoring merchant
    (or the accepting merchant, when it funds the voucher itself); ``None`` for the alliance. ``refunded_fen``
    is the cumulative share of refunds (``server/domain/refunds.py``): the funder owes ``value_fen −
    refunded_fen``. ``restored``: a full refund gave the code back to the member.
    """

    __tablename__ = "sale_vouchers"
    __table_args__ = (
        CheckConstraint("value_fen >= 0 AND refunded_fen >= 0 AND refunded_fen <= value_fen", name="value_range"),
        Index("ix_sale_vouchers_created_at", "created_at"),  # settlement reads one business day
    )

    sale_id: Mapped[str] = mapped_column(ForeignKey("sales.id"), primary_key=True)
    code_id: Mapped[str] = mapped_column(ForeignKey("benefit_codes.id"), index=True)
    sku_id: Mapped[str] = mapped_column(ForeignKey("benefit_skus.id"), index=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"), index=True)  # where it was accepted
    funder: Mapped[str] = mapped_column(String(24))
    funder_merchant_id: Mapped[str | None] = mapped_column(ForeignKey("merchants.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(24))
    code_last4: Mapped[str] = mapped_column(String(4))
    value_fen: Mapped[int]
    refunded_fen: Mapped[int] = mapped_column(default=0)
    restored: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = created_column()


class RejectedSale(Base):
    """A sale a terminal committed (and printed) that the server refused: kept for an operator to resolve."""

    __tablename__ = "rejected_sales"
    __table_args__ = (UniqueConstraint("terminal_id", "client_sale_id"),)

    id: Mapped[str] = id_column("rej")
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"), index=True)
    terminal_id: Mapped[str] = mapped_column(ForeignKey("terminals.id"))
    client_sale_id: Mapped[str] = mapped_column(String(64))
    receipt_no: Mapped[str] = mapped_column(String(32), default="")
    amount_fen: Mapped[int]
    payable_fen: Mapped[int]
    payment_method: Mapped[str] = mapped_column(String(8), default="cash")
    error_code: Mapped[str] = mapped_column(String(40))
    error_message: Mapped[str] = mapped_column(String(400), default="")
    occurred_at: Mapped[datetime]
    request: Mapped[str] = mapped_column(Text, default="")  # the sale as the terminal sent it (JSON)
    status: Mapped[str] = mapped_column(String(12), default="open")  # open, resolved
    resolved_by: Mapped[str | None] = mapped_column(String(40))
    resolution: Mapped[str] = mapped_column(String(200), default="")
    resolved_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_column()
