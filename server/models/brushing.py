"""Anti-brushing (刷单) rules and flags, and the complaints and violations the agents' health score counts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.domain.brushing import KINDS, SUBJECT_TYPES
from server.domain.statuses import BrushingFlagStatus, ComplaintStatus
from server.models.base import Base, created_column, id_column, status_column

_KIND_CHECK = "kind IN ({})".format(", ".join(f"'{kind}'" for kind in KINDS))
_SUBJECT_CHECK = "subject_type IN ({})".format(", ".join(f"'{kind}'" for kind in SUBJECT_TYPES))


class BrushingRule(Base):
    """An anti-brushing rule: its kind (one function of server/domain/brushing.py), parameters, on or off."""

    __tablename__ = "brushing_rules"
    __table_args__ = (CheckConstraint(_KIND_CHECK, name="kind"),)

    id: Mapped[str] = id_column("bru")
    code: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(100))
    parameters: Mapped[dict] = mapped_column(JSON, default=dict)
    enabled: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_column()


class BrushingFlag(Base):
    """What a rule found (one per rule, subject and window): its sales are held until an operator clears it."""

    __tablename__ = "brushing_flags"
    __table_args__ = (
        UniqueConstraint("rule_id", "dedupe_key"),
        CheckConstraint(_SUBJECT_CHECK, name="subject_type"),
        Index("ix_brushing_flags_agent_window", "agent_id", "window_start"),
        Index("ix_brushing_flags_status_created", "status", "created_at"),
    )

    id: Mapped[str] = id_column("brf")
    rule_id: Mapped[str] = mapped_column(ForeignKey("brushing_rules.id"))
    dedupe_key: Mapped[str] = mapped_column(String(120))
    subject_type: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[str] = mapped_column(String(24))
    merchant_id: Mapped[str | None] = mapped_column(ForeignKey("merchants.id"), index=True)
    agent_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id"))
    window: Mapped[str] = mapped_column(String(10))  # YYYY-MM-DD or YYYY-MM (alliance time)
    window_start: Mapped[datetime]  # the earliest of its sales
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = status_column(BrushingFlagStatus, BrushingFlagStatus.OPEN)
    review_reason: Mapped[str] = mapped_column(String(200), default="")
    reviewed_by: Mapped[str | None] = mapped_column(String(40))
    reviewed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_column()


class BrushingFlagSale(Base):
    """A sale a flag holds."""

    __tablename__ = "brushing_flag_sales"

    flag_id: Mapped[str] = mapped_column(ForeignKey("brushing_flags.id"), primary_key=True)
    sale_id: Mapped[str] = mapped_column(ForeignKey("sales.id"), primary_key=True, index=True)


class Complaint(Base):
    """A complaint against a merchant or an agent: when it was opened, answered and closed."""

    __tablename__ = "complaints"
    __table_args__ = (
        CheckConstraint("merchant_id IS NOT NULL OR agent_id IS NOT NULL", name="against_someone"),
        Index("ix_complaints_opened", "opened_at"),
    )

    id: Mapped[str] = id_column("cpl")
    merchant_id: Mapped[str | None] = mapped_column(ForeignKey("merchants.id"), index=True)
    agent_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id"), index=True)
    summary: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = status_column(ComplaintStatus, ComplaintStatus.OPEN)
    response: Mapped[str] = mapped_column(String(500), default="")
    opened_at: Mapped[datetime]
    responded_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    recorded_by: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = created_column()


class AgentViolation(Base):
    """A violation of the agent's contract or the alliance's rules, recorded by an operator."""

    __tablename__ = "agent_violations"
    __table_args__ = (Index("ix_agent_violations_agent_occurred", "agent_id", "occurred_at"),)

    id: Mapped[str] = id_column("avl")
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id"))
    occurred_at: Mapped[datetime]
    description: Mapped[str] = mapped_column(String(500))
    recorded_by: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = created_column()


__all__ = ["AgentViolation", "BrushingFlag", "BrushingFlagSale", "BrushingRule", "Complaint"]
