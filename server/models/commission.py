"""Commission policy (versioned data) and commission entries (分润): one per sale, beneficiary and role."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.domain.commissions import BASES, FUNDINGS, HARD_MAX_DEPTH, ROLES
from server.domain.statuses import CommissionStatus
from server.models.base import Base, created_column, status_column
from server.models.money import BigId


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


class CommissionPolicy(Base):
    """One version of the commission policy; never edited: a change is a new row with the next version."""

    __tablename__ = "commission_policies"
    __table_args__ = (
        CheckConstraint(_in("base", BASES), name="base"),
        CheckConstraint(_in("funding", FUNDINGS), name="funding"),
        CheckConstraint(f"management_depth >= 1 AND management_depth < {HARD_MAX_DEPTH}", name="management_depth"),
        CheckConstraint("NOT management_enabled OR management_ack_by IS NOT NULL", name="management_acknowledged"),
    )

    version: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    base: Mapped[str] = mapped_column(String(16))
    funding: Mapped[str] = mapped_column(String(16))
    envelope_bp: Mapped[int]
    recruiter_rate_bp: Mapped[int]
    member_recruiter_rate_bp: Mapped[int]
    management_enabled: Mapped[bool]
    management_rate_bp: Mapped[int]
    management_depth: Mapped[int]
    management_ack_text: Mapped[str] = mapped_column(String(400), default="")
    management_ack_by: Mapped[str | None] = mapped_column(String(40))
    regional_fee_bp: Mapped[int]
    return_window_days: Mapped[int]
    reason: Mapped[str] = mapped_column(String(200), default="")
    created_by: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = created_column()


class CommissionMerchantTerm(Base):
    """A merchant's override in one policy version: its servicing rate and/or its return window."""

    __tablename__ = "commission_merchant_terms"

    policy_version: Mapped[int] = mapped_column(ForeignKey("commission_policies.version"), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"), primary_key=True)
    rate_bp: Mapped[int | None]
    return_window_days: Mapped[int | None]


class Commission(Base):
    """One commission entry of a sale (unique per sale, beneficiary and role: a re-run never pays twice)."""

    __tablename__ = "commissions"
    __table_args__ = (
        UniqueConstraint("sale_id", "beneficiary_kind", "beneficiary_id", "role"),
        CheckConstraint(_in("role", ROLES), name="role"),
        CheckConstraint("beneficiary_kind IN ('agent', 'member')", name="beneficiary_kind"),
        CheckConstraint(
            "amount_fen >= 0 AND reversed_fen >= 0 AND reversed_fen <= amount_fen AND earned_fen <= amount_fen",
            name="amounts",
        ),
        CheckConstraint(f"depth >= 0 AND depth < {HARD_MAX_DEPTH}", name="depth"),
        Index("ix_commissions_business_day_merchant", "business_day", "merchant_id"),
        Index("ix_commissions_beneficiary", "beneficiary_id", "status"),
        Index("ix_commissions_status_available_on", "status", "available_on"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    sale_id: Mapped[str] = mapped_column(ForeignKey("sales.id"))
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    business_day: Mapped[date]  # the day of the sale (the merchant statement it appears on)
    beneficiary_kind: Mapped[str] = mapped_column(String(8))
    beneficiary_id: Mapped[str] = mapped_column(String(24))
    role: Mapped[str] = mapped_column(String(16))
    depth: Mapped[int]
    policy_version: Mapped[int] = mapped_column(ForeignKey("commission_policies.version"))
    base_fen: Mapped[int] = mapped_column(BigInteger)
    rate_bp: Mapped[int]
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    reversed_fen: Mapped[int] = mapped_column(BigInteger, default=0)  # taken back by refunds or a flag, cumulative
    earned_fen: Mapped[int] = mapped_column(BigInteger)  # what the day closing posted (amount − refunds before it)
    funded_by: Mapped[str] = mapped_column(String(8))  # "merchant" or "platform" (the regional fee)
    status: Mapped[str] = status_column(CommissionStatus, CommissionStatus.PENDING)
    available_on: Mapped[date]  # the first closed day after which it may be released
    released_on: Mapped[date | None]
    created_at: Mapped[datetime] = created_column()


class CommissionAdjustment(Base):
    """A later change of a commission (append-only): a refund's reversal, a clawback into debt, a flag."""

    __tablename__ = "commission_adjustments"
    __table_args__ = (CheckConstraint("kind IN ('refund', 'clawback', 'brushing')", name="kind"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    commission_id: Mapped[int] = mapped_column(ForeignKey("commissions.id"), index=True)
    kind: Mapped[str] = mapped_column(String(12))
    refund_id: Mapped[str | None] = mapped_column(ForeignKey("refunds.id"))
    amount_fen: Mapped[int] = mapped_column(BigInteger)  # negative: taken back
    business_day: Mapped[date] = mapped_column(index=True)
    transaction_id: Mapped[int] = mapped_column(ForeignKey("money_transactions.id"))
    created_at: Mapped[datetime] = created_column()


__all__ = ["Commission", "CommissionAdjustment", "CommissionMerchantTerm", "CommissionPolicy"]
