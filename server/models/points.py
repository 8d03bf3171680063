"""Points lots: earned points with their expiry date, and which lots each spend used."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, created_column
from server.models.ledger import BigId


class PointsLot(Base):
    """Points earned together, spendable through ``expires_on``; open lots sum to the member's balance."""

    __tablename__ = "points_lots"
    __table_args__ = (
        CheckConstraint("remaining >= 0 AND expired_points >= 0", name="not_negative"),
        Index("ix_points_lots_member_expiry", "member_id", "expires_on", "id"),
        # a spend walks only the member's open lots, however many spent ones the member has
        Index(
            "ix_points_lots_open",
            "member_id",
            "expires_on",
            "id",
            postgresql_where=text("remaining > 0"),
            sqlite_where=text("remaining > 0"),
        ),
        Index("ix_points_lots_expires_on", "expires_on"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"))
    source: Mapped[str] = mapped_column(String(16))  # sale, adjustment, opening
    sale_id: Mapped[str | None] = mapped_column(ForeignKey("sales.id"), index=True)
    earned_on: Mapped[date]
    expires_on: Mapped[date]
    points: Mapped[int]
    remaining: Mapped[int]
    expired_points: Mapped[int] = mapped_column(default=0)
    notified_on: Mapped[date | None]
    created_at: Mapped[datetime] = created_column()


class PointsLotSpend(Base):
    """Points taken from one lot by a redemption, a refund's take-back or a negative adjustment."""

    __tablename__ = "points_lot_spends"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("points_lots.id"), index=True)
    reason: Mapped[str] = mapped_column(String(16))  # redeem, reverse, adjustment, forfeit
    sale_id: Mapped[str | None] = mapped_column(ForeignKey("sales.id"), index=True)
    points: Mapped[int]
    restored: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = created_column()
