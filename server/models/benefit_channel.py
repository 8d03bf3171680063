"""Benefit channels at the till and through agents, and dynamic voucher codes (docs/benefits.md).

Tables:

- ``merchant_gift_rules``: a merchant's gift with a purchase (满赠): a sale paying at least ``min_payable_fen``
  gets one code of ``sku_id`` (an alliance voucher) in the rule's window, at most ``per_member_limit`` per
  member and period, while the rule is on.
- ``sale_gifts``: the gift a sale brought (one per sale: the grant of channel ``till_gift`` with source id =
  the sale id), which rule gave it, and when a full refund voided it.
- ``benefit_agent_handouts``: an agent handed out (price NULL) or sold (price: money it collected itself) one
  of its consigned codes to a member, idempotent on the agent's request id.
- ``dynamic_voucher_keys`` / ``dynamic_voucher_uses``: a voucher shown as a one-time dynamic code (the member
  code's scheme): its 7-digit index and random seed (the TOTP secret is derived from a server key, never
  stored), and each (code, time step) accepted once at a till.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.domain.statuses import GiftLimitPeriod, sql_in
from server.models.base import Base, created_column, id_column, utcnow


class MerchantGiftRule(Base):
    """A merchant's gift with a purchase (满赠)."""

    __tablename__ = "merchant_gift_rules"
    __table_args__ = (
        CheckConstraint("min_payable_fen > 0", name="min_payable_range"),
        CheckConstraint("per_member_limit IS NULL OR per_member_limit > 0", name="member_limit_range"),
        CheckConstraint(sql_in("limit_period", GiftLimitPeriod), name="limit_period"),
        CheckConstraint("ends_at IS NULL OR starts_at < ends_at", name="window"),
        CheckConstraint("granted_count >= 0 AND out_of_stock_count >= 0", name="count_range"),
    )

    id: Mapped[str] = id_column("mgr")
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"), index=True)
    sku_id: Mapped[str] = mapped_column(ForeignKey("benefit_skus.id"))
    min_payable_fen: Mapped[int]
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime | None]
    per_member_limit: Mapped[int | None]  # none: no limit
    limit_period: Mapped[str] = mapped_column(String(8), default=GiftLimitPeriod.DAY)
    active: Mapped[bool] = mapped_column(default=True)
    granted_count: Mapped[int] = mapped_column(default=0)
    out_of_stock_count: Mapped[int] = mapped_column(default=0)  # qualifying sales that found no code in stock
    created_by: Mapped[str] = mapped_column(String(40), default="")
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SaleGift(Base):
    """The gift a sale brought."""

    __tablename__ = "sale_gifts"
    __table_args__ = (Index("ix_sale_gifts_rule_member", "rule_id", "member_id", "created_at"),)

    sale_id: Mapped[str] = mapped_column(ForeignKey("sales.id"), primary_key=True)
    rule_id: Mapped[str] = mapped_column(ForeignKey("merchant_gift_rules.id"))
    grant_id: Mapped[str] = mapped_column(ForeignKey("benefit_grants.id"), unique=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"))
    created_at: Mapped[datetime] = created_column()
    voided_at: Mapped[datetime | None]


class BenefitAgentHandout(Base):
    """A consigned code an agent handed out or sold to a member."""

    __tablename__ = "benefit_agent_handouts"
    __table_args__ = (
        UniqueConstraint("agent_id", "request_id"),
        CheckConstraint("price_fen IS NULL OR price_fen >= 0", name="price_range"),
    )

    id: Mapped[str] = id_column("bah")
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id"), index=True)
    request_id: Mapped[str] = mapped_column(String(64))
    code_id: Mapped[str] = mapped_column(ForeignKey("benefit_codes.id"), unique=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"), index=True)
    grant_id: Mapped[str] = mapped_column(ForeignKey("benefit_grants.id"), unique=True)
    price_fen: Mapped[int | None]  # a sale: what the agent collected itself (no platform money moves)
    created_at: Mapped[datetime] = created_column()


class DynamicVoucherKey(Base):
    """The one-time code key of a voucher shown dynamically."""

    __tablename__ = "dynamic_voucher_keys"

    code_id: Mapped[str] = mapped_column(ForeignKey("benefit_codes.id"), primary_key=True)
    code_index: Mapped[int] = mapped_column(unique=True)
    secret_seed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = created_column()


class DynamicVoucherUse(Base):
    """A dynamic code (voucher and time step) accepted at a till: never accepted again."""

    __tablename__ = "dynamic_voucher_uses"

    code_id: Mapped[str] = mapped_column(ForeignKey("benefit_codes.id"), primary_key=True)
    time_step: Mapped[int] = mapped_column(primary_key=True)
    used_at: Mapped[datetime] = created_column()
