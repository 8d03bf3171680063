"""Daily settlement between the alliance and its merchants, and the log of background jobs."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from server.domain.statuses import JobRunStatus, SettlementStatus
from server.models.base import Base, created_column, id_column, status_column
from server.models.ledger import BigId


class SettlementDay(Base):
    """A closed business day (one row per day; its existence is the lock)."""

    __tablename__ = "settlement_days"

    business_day: Mapped[date] = mapped_column(primary_key=True)
    status: Mapped[str] = status_column(SettlementStatus, SettlementStatus.CLOSED)
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    point_value_fen: Mapped[int]
    merchants: Mapped[int]
    net_fen: Mapped[int] = mapped_column(BigInteger)
    # the alliance's side of the day's vouchers: alliance-funded vouchers accepted, net of refunded shares
    voucher_alliance_fen: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    closed_by: Mapped[str] = mapped_column(String(40))
    closed_at: Mapped[datetime] = created_column()


class Settlement(Base):
    """One merchant's closed business day: its activity, fees and net position, in fen (immutable)."""

    __tablename__ = "settlements"
    __table_args__ = (
        UniqueConstraint("merchant_id", "business_day"),
        Index("ix_settlements_business_day", "business_day"),
    )

    id: Mapped[str] = id_column("stl")
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    business_day: Mapped[date] = mapped_column(ForeignKey("settlement_days.business_day"))
    status: Mapped[str] = status_column(SettlementStatus, SettlementStatus.CLOSED)
    sales_count: Mapped[int]
    member_sales_fen: Mapped[int] = mapped_column(BigInteger)
    points_earned: Mapped[int] = mapped_column(BigInteger)
    points_redeemed: Mapped[int] = mapped_column(BigInteger)
    refunds_count: Mapped[int]
    refunds_fen: Mapped[int] = mapped_column(BigInteger)
    points_reversed: Mapped[int] = mapped_column(BigInteger)
    points_restored: Mapped[int] = mapped_column(BigInteger)
    # alliance vouchers (server/domain/settlement.py): accepted here, refunded shares, owed by their funders to
    # this merchant (net), and charged to this merchant as the sponsor of vouchers accepted elsewhere (net)
    vouchers_count: Mapped[int] = mapped_column(default=0, server_default="0")
    voucher_fen: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    voucher_refunded_fen: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    voucher_owed_fen: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    voucher_sponsored_fen: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    point_value_fen: Mapped[int]
    fee_bp: Mapped[int]
    fee_per_sale_fen: Mapped[int]
    points_granted: Mapped[int] = mapped_column(BigInteger)
    points_accepted: Mapped[int] = mapped_column(BigInteger)
    granted_value_fen: Mapped[int] = mapped_column(BigInteger)
    accepted_value_fen: Mapped[int] = mapped_column(BigInteger)
    service_fee_fen: Mapped[int] = mapped_column(BigInteger)
    commission_fen: Mapped[int] = mapped_column(BigInteger)
    # the commission is carved out of the service fee (the fee line shows the alliance's remaining share)
    commission_within_fee: Mapped[bool] = mapped_column(default=False, server_default=false())
    net_fen: Mapped[int] = mapped_column(BigInteger)
    closed_at: Mapped[datetime] = created_column()
    # Whether the net position has been paid (finance marks it, audited); None: unpaid.
    paid_at: Mapped[datetime | None]
    paid_by: Mapped[str | None] = mapped_column(String(40))
    payment_reference: Mapped[str] = mapped_column(String(100), default="", server_default="")


class JobRun(Base):
    """One run of a background job (``alliance-server jobs run``) and what it did."""

    __tablename__ = "job_runs"
    __table_args__ = (Index("ix_job_runs_job_started", "job", "started_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    job: Mapped[str] = mapped_column(String(40))
    run_date: Mapped[date]
    status: Mapped[str] = status_column(JobRunStatus)
    summary: Mapped[str] = mapped_column(Text, default="")
    worker: Mapped[str] = mapped_column(String(80), default="")
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime] = created_column()
