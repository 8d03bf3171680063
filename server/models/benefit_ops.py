"""Benefits (权益) operations: scheduled demand, failed-at-redemption claims, stock alerts, consignment to agents.

Tables (docs/benefits.md, "Alerts", "Supplier reconciliation", "Consignment to agents"):

- ``benefit_demands``: a scheduled demand for a SKU (a campaign's need: date and quantity), entered by the
  operator; the "not enough for the scheduled demand" alert weighs the stock against it.
- ``benefit_claims``: a code reported dead at redemption (the supplier's side refused it): the code, the
  reason, when; open, then credited against what is due to the supplier, or rejected.
- ``benefit_alerts``: one alert per key (kind and subject) and period, with the figures that raised it;
  open until acknowledged in the console.
- ``benefit_consignments`` / ``benefit_consignment_codes``: N codes of a SKU handed to an agent at the
  agent's level price, invoiced (the amount the agent owes), and which codes they were.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.domain.statuses import (
    BenefitAlertKind,
    BenefitAlertStatus,
    BenefitClaimStatus,
    BenefitConsignmentStatus,
    sql_in,
)
from server.models.base import Base, created_column, id_column, status_column


class BenefitDemand(Base):
    """A scheduled demand: ``quantity`` codes of a SKU needed on ``needed_on`` (e.g. a campaign's start)."""

    __tablename__ = "benefit_demands"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_range"),
        Index("ix_benefit_demands_sku_date", "sku_id", "needed_on"),
    )

    id: Mapped[str] = id_column("bdm")
    sku_id: Mapped[str] = mapped_column(ForeignKey("benefit_skus.id"))
    needed_on: Mapped[date] = mapped_column(Date)
    quantity: Mapped[int]
    note: Mapped[str] = mapped_column(String(200), default="")
    created_by: Mapped[str] = mapped_column(String(40), default="")
    created_at: Mapped[datetime] = created_column()


class BenefitClaim(Base):
    """A code that failed at redemption (dead on the supplier's side), reported by staff; one claim per code."""

    __tablename__ = "benefit_claims"
    __table_args__ = (
        CheckConstraint("credit_fen >= 0", name="credit_range"),
        Index("ix_benefit_claims_supplier_reported", "supplier_id", "reported_at"),
    )

    id: Mapped[str] = id_column("bcl")
    code_id: Mapped[str] = mapped_column(ForeignKey("benefit_codes.id"), unique=True)
    supplier_id: Mapped[str] = mapped_column(ForeignKey("suppliers.id"))
    reason: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = status_column(BenefitClaimStatus, BenefitClaimStatus.OPEN)
    credit_fen: Mapped[int] = mapped_column(default=0)  # the code's unit cost, credited unless rejected
    reported_by: Mapped[str] = mapped_column(String(40), default="")
    reported_at: Mapped[datetime] = created_column()
    resolved_by: Mapped[str | None] = mapped_column(String(40))
    resolved_at: Mapped[datetime | None]


class BenefitAlert(Base):
    """A benefit stock alert: one per key (kind and subject) and period, with the figures that raised it."""

    __tablename__ = "benefit_alerts"
    __table_args__ = (
        UniqueConstraint("alert_key", "period"),
        CheckConstraint(sql_in("kind", BenefitAlertKind), name="kind"),
        Index("ix_benefit_alerts_status_raised", "status", "raised_at"),
    )

    id: Mapped[str] = id_column("bal")
    kind: Mapped[str] = mapped_column(String(24))
    alert_key: Mapped[str] = mapped_column(String(80))
    period: Mapped[str] = mapped_column(String(16))  # 2026-W49, 2026-12, or a velocity alert's 2026-12-06T13
    sku_id: Mapped[str | None] = mapped_column(ForeignKey("benefit_skus.id"), index=True)
    supplier_id: Mapped[str | None] = mapped_column(ForeignKey("suppliers.id"), index=True)
    figures: Mapped[dict] = mapped_column(JSON, default=dict)
    texted: Mapped[int] = mapped_column(default=0)  # how many staff phones the alert was texted to
    status: Mapped[str] = status_column(BenefitAlertStatus, BenefitAlertStatus.OPEN)
    raised_at: Mapped[datetime] = created_column()
    acknowledged_by: Mapped[str | None] = mapped_column(String(40))
    acknowledged_at: Mapped[datetime | None]


class BenefitConsignment(Base):
    """Codes of a SKU consigned to an agent at its level's price (拿货价), invoiced: the agent owes ``amount_fen``."""

    __tablename__ = "benefit_consignments"
    __table_args__ = (
        CheckConstraint(
            "quantity > 0 AND unit_price_fen >= 0 AND amount_fen = quantity * unit_price_fen", name="amount"
        ),
    )

    id: Mapped[str] = id_column("bcs")
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id"), index=True)
    sku_id: Mapped[str] = mapped_column(ForeignKey("benefit_skus.id"), index=True)
    agent_level_id: Mapped[str] = mapped_column(ForeignKey("agent_levels.id"))  # the level whose price applied
    quantity: Mapped[int]
    unit_price_fen: Mapped[int]
    amount_fen: Mapped[int]
    invoice_no: Mapped[str] = mapped_column(String(32), unique=True)
    status: Mapped[str] = status_column(BenefitConsignmentStatus, BenefitConsignmentStatus.INVOICED)
    created_by: Mapped[str] = mapped_column(String(40), default="")
    created_at: Mapped[datetime] = created_column()
    paid_at: Mapped[datetime | None]
    payment_reference: Mapped[str] = mapped_column(String(64), default="")


class BenefitConsignmentCode(Base):
    """One code of a consignment (a code is consigned once)."""

    __tablename__ = "benefit_consignment_codes"

    code_id: Mapped[str] = mapped_column(ForeignKey("benefit_codes.id"), primary_key=True)
    consignment_id: Mapped[str] = mapped_column(ForeignKey("benefit_consignments.id"), index=True)


class BenefitInvoice(Base):
    """The supplier's invoice for a purchase as finance recorded it (its total, checked against unit cost ×
    quantity by the supplier reconciliation)."""

    __tablename__ = "benefit_invoices"
    __table_args__ = (CheckConstraint("total_fen >= 0", name="total_range"),)

    purchase_id: Mapped[str] = mapped_column(ForeignKey("benefit_purchases.id"), primary_key=True)
    invoice_number: Mapped[str] = mapped_column(String(64), default="")
    total_fen: Mapped[int]
    recorded_by: Mapped[str] = mapped_column(String(40), default="")
    recorded_at: Mapped[datetime] = created_column()
