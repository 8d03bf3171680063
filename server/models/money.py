"""The money ledger (fen): accounts with cached balances, transactions and append-only entries.

Kinds and sign conventions: server/domain/money_ledger.py; posting: server/services/money_ledger.py.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, created_column

BigId = BigInteger().with_variant(Integer, "sqlite")


class MoneyAccount(Base):
    """A money account of an owner; ``balance`` caches the sum of its entries, guarded against going negative."""

    __tablename__ = "money_accounts"
    __table_args__ = (
        UniqueConstraint("owner_kind", "owner_id", "kind"),
        CheckConstraint("allow_negative OR balance >= 0", name="balance_not_negative"),
        CheckConstraint("owner_kind IN ('agent', 'member', 'merchant', 'alliance')", name="owner_kind"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    owner_kind: Mapped[str] = mapped_column(String(16))
    owner_id: Mapped[str] = mapped_column(String(24))
    kind: Mapped[str] = mapped_column(String(32))
    balance: Mapped[int] = mapped_column(BigInteger, default=0)
    allow_negative: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = created_column()


class MoneyTransaction(Base):
    """One movement of money; its entries always sum to zero. ``source_key`` makes posting idempotent."""

    __tablename__ = "money_transactions"
    __table_args__ = (Index("ix_money_transactions_business_day", "business_day"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    source_key: Mapped[str] = mapped_column(String(120), unique=True)
    business_day: Mapped[date | None]  # the business day it belongs to (statements)
    sale_id: Mapped[str | None] = mapped_column(ForeignKey("sales.id"), index=True)
    refund_id: Mapped[str | None] = mapped_column(ForeignKey("refunds.id"), index=True)
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("money_transactions.id"), unique=True)
    actor: Mapped[str] = mapped_column(String(40))
    memo: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = created_column()


class MoneyEntry(Base):
    """A signed amount of fen on one account within one transaction (append-only)."""

    __tablename__ = "money_entries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    transaction_id: Mapped[int] = mapped_column(ForeignKey("money_transactions.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("money_accounts.id"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    # the month partition key on PostgreSQL (docs/operations.md): the inserting transaction's start, like
    # its ledger transaction's; set by the database, so every way of inserting (Core, SQL text) fills it
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


__all__ = ["MoneyAccount", "MoneyEntry", "MoneyTransaction"]
