"""The shared points ledger: accounts with cached balances, transactions and append-only entries."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Integer, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, created_column

BigId = BigInteger().with_variant(Integer, "sqlite")

ALLIANCE_OWNER = "alliance"


class LedgerAccount(Base):
    """A points account; ``balance`` caches the sum of its entries and is guarded against going negative."""

    __tablename__ = "ledger_accounts"
    __table_args__ = (
        UniqueConstraint("kind", "owner_id"),
        CheckConstraint("allow_negative OR balance >= 0", name="balance_not_negative"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    owner_id: Mapped[str] = mapped_column(String(24))
    balance: Mapped[int] = mapped_column(BigInteger, default=0)
    allow_negative: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = created_column()


class LedgerTransaction(Base):
    """One movement of points; its entries always sum to zero."""

    __tablename__ = "ledger_transactions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    sale_id: Mapped[str | None] = mapped_column(ForeignKey("sales.id"), index=True)
    refund_id: Mapped[str | None] = mapped_column(ForeignKey("refunds.id"), index=True)
    actor: Mapped[str] = mapped_column(String(40))
    memo: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = created_column()


class LedgerEntry(Base):
    """A signed amount of points on one account within one transaction (append-only)."""

    __tablename__ = "ledger_entries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    transaction_id: Mapped[int] = mapped_column(ForeignKey("ledger_transactions.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    # the month partition key on PostgreSQL (docs/operations.md): the inserting transaction's start, like
    # its ledger transaction's; set by the database, so every way of inserting (Core, SQL text) fills it
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
