"""Withdrawals (提现), their payouts, the bonus pool periods and shares, and the payout policy.

Money moves in the money ledger (server/models/money.py); these rows say what was asked, decided and paid.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.domain.statuses import BonusDistributionStatus, PayoutStatus, WithdrawalStatus
from server.models.base import Base, created_column, id_column, status_column


class PayoutPolicy(Base):
    """The alliance's withdrawal, tax and bonus pool settings (single row, id 1)."""

    __tablename__ = "payout_policy"
    __table_args__ = (
        CheckConstraint("id = 1", name="single_row"),
        CheckConstraint("withdrawal_minimum_fen >= 1", name="minimum_positive"),
        CheckConstraint("withdrawal_daily_maximum_fen >= withdrawal_minimum_fen", name="daily_maximum"),
        CheckConstraint(
            "withdrawal_fee_fixed_fen >= 0 AND withdrawal_fee_bp >= 0 AND withdrawal_fee_bp <= 10000", name="fee"
        ),
        CheckConstraint("tax_rate_bp >= 0 AND tax_rate_bp <= 4500", name="tax_rate"),
        CheckConstraint("bonus_pool_share_bp >= 0 AND bonus_pool_share_bp <= 10000", name="pool_share"),
        CheckConstraint("bonus_reserve_share_bp >= 0 AND bonus_reserve_share_bp <= 10000", name="reserve_share"),
        CheckConstraint("bonus_min_health_score >= 0 AND bonus_min_health_score <= 100", name="min_health"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, default=1)
    withdrawal_minimum_fen: Mapped[int] = mapped_column(default=10_000)
    withdrawal_daily_maximum_fen: Mapped[int] = mapped_column(default=5_000_000)
    withdrawal_fee_fixed_fen: Mapped[int] = mapped_column(default=0)
    withdrawal_fee_bp: Mapped[int] = mapped_column(default=0)
    tax_rate_bp: Mapped[int] = mapped_column(default=2_000)
    payout_channel: Mapped[str] = mapped_column(String(16), default="bank_file")
    bonus_pool_share_bp: Mapped[int] = mapped_column(default=1_000)
    bonus_reserve_share_bp: Mapped[int] = mapped_column(default=2_000)
    bonus_min_health_score: Mapped[int] = mapped_column(default=0)


class Withdrawal(Base):
    """An agent's withdrawal: the amount and its split, the payee, the decision and the payout's outcome."""

    __tablename__ = "withdrawals"
    __table_args__ = (
        UniqueConstraint("agent_id", "idempotency_key"),
        Index("ix_withdrawals_agent_day", "agent_id", "requested_on"),
        CheckConstraint("amount_fen > 0 AND fee_fen >= 0 AND tax_fen >= 0", name="amounts"),
        CheckConstraint("net_fen = amount_fen - fee_fen - tax_fen AND net_fen > 0", name="split"),
        CheckConstraint("channel IN ('bank_file', 'wechat')", name="channel"),
    )

    id: Mapped[str] = id_column("wdr")
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id"))
    idempotency_key: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = status_column(WithdrawalStatus, WithdrawalStatus.REQUESTED, index=True)
    agent_kind: Mapped[str] = mapped_column(String(8))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    fee_fen: Mapped[int] = mapped_column(BigInteger)
    tax_fen: Mapped[int] = mapped_column(BigInteger)
    net_fen: Mapped[int] = mapped_column(BigInteger)
    tax_rate_bp: Mapped[int]
    channel: Mapped[str] = mapped_column(String(16))
    payee_name: Mapped[str] = mapped_column(String(50))
    account_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)  # bank account number or WeChat openid
    account_masked: Mapped[str] = mapped_column(String(40))
    bank: Mapped[str] = mapped_column(String(50), default="")
    out_detail_no: Mapped[str] = mapped_column(String(32), unique=True)
    requested_on: Mapped[date]  # the alliance's local day of the request (daily maximum)
    requested_at: Mapped[datetime] = created_column()
    requested_by: Mapped[str] = mapped_column(String(40))
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(40))
    reject_reason: Mapped[str] = mapped_column(String(200), default="")
    payout_status: Mapped[str | None] = status_column(PayoutStatus, name="payout_status", nullable=True)
    sent_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    fail_reason: Mapped[str] = mapped_column(String(200), default="")
    channel_reference: Mapped[str] = mapped_column(String(64), default="")


class BonusPoolPeriod(Base):
    """One month of the bonus pool: what accrued from the fee income, and its distribution's state."""

    __tablename__ = "bonus_pool_periods"

    period: Mapped[str] = mapped_column(String(7), primary_key=True)  # YYYY-MM
    status: Mapped[str] = status_column(BonusDistributionStatus, BonusDistributionStatus.ACCRUED)
    fee_income_fen: Mapped[int] = mapped_column(BigInteger)
    pool_fen: Mapped[int] = mapped_column(BigInteger)  # distributable at period end
    reserve_fen: Mapped[int] = mapped_column(BigInteger)
    pool_share_bp: Mapped[int]
    reserve_share_bp: Mapped[int]
    accrued_at: Mapped[datetime] = created_column()
    accrued_by: Mapped[str] = mapped_column(String(40))
    round: Mapped[int] = mapped_column(default=0)  # distributions made (a reversal allows another)
    distributed_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    distributed_at: Mapped[datetime | None]
    distributed_by: Mapped[str | None] = mapped_column(String(40))
    paid_at: Mapped[datetime | None]
    paid_by: Mapped[str | None] = mapped_column(String(40))


class BonusShare(Base):
    """One agent's share of one distribution round, with the figures it was computed from."""

    __tablename__ = "bonus_shares"
    __table_args__ = (UniqueConstraint("period", "round", "agent_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    period: Mapped[str] = mapped_column(ForeignKey("bonus_pool_periods.period"), index=True)
    round: Mapped[int]
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id"), index=True)
    serviced_gmv_fen: Mapped[int] = mapped_column(BigInteger)
    health_score: Mapped[int]
    weight: Mapped[int] = mapped_column(BigInteger)
    share_fen: Mapped[int] = mapped_column(BigInteger)
    reversed: Mapped[bool] = mapped_column(default=False)


__all__ = ["BonusPoolPeriod", "BonusShare", "PayoutPolicy", "Withdrawal"]
