"""Benefit distribution (权益发放): grants through channels, campaigns, batch grants and partners.

Tables (docs/benefits.md, "Distribution channels"):

- ``benefit_grants``: one row per issue of a benefit to a member: its channel (``BenefitChannel``) and source id
  (unique together: a repeated issue is answered with the first one), the code issued, the campaign / batch /
  partner it came through and the points it cost (points exchange).
- ``benefit_campaigns``: a campaign (活动): a SKU, a time window, a total budget with the remaining count (taken
  by a guarded UPDATE, exactly once under concurrency), a per-member limit and who may claim it (lowest level,
  region, recruiting agent, a sale within the last N days).
- ``benefit_grant_batches``: a list of members granted one SKU from a CSV/XLSX file, with its report.
- ``benefit_partners`` / ``benefit_partner_nonces``: a partner's HMAC key (sealed) and the nonces it used
  (replay protection), for ``POST /api/v1/partner/benefit-grants``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.domain.statuses import BenefitCampaignStatus, BenefitChannel, BenefitPartnerStatus, sql_in
from server.models.base import Base, created_column, id_column, status_column


class BenefitCampaign(Base):
    """A campaign: a pool of one SKU claimable in a window, within a total and a per-member budget."""

    __tablename__ = "benefit_campaigns"
    __table_args__ = (
        CheckConstraint("total_budget > 0 AND remaining >= 0 AND remaining <= total_budget", name="budget_range"),
        CheckConstraint("per_member_limit > 0", name="member_limit_range"),
        CheckConstraint("starts_at < ends_at", name="window"),
        CheckConstraint("active_within_days IS NULL OR active_within_days > 0", name="active_days_range"),
    )

    id: Mapped[str] = id_column("bcp")
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(String(500), default="")
    sku_id: Mapped[str] = mapped_column(ForeignKey("benefit_skus.id"), index=True)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    total_budget: Mapped[int]
    remaining: Mapped[int]  # taken by UPDATE ... SET remaining = remaining - 1 WHERE remaining > 0
    per_member_limit: Mapped[int] = mapped_column(default=1)
    # eligibility (all optional): lowest level rank, region (and everything under it), recruiting agent,
    # a sale within the last N days
    min_level_rank: Mapped[int | None]
    region_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"))
    agent_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id"))
    active_within_days: Mapped[int | None]
    status: Mapped[str] = status_column(BenefitCampaignStatus, BenefitCampaignStatus.DRAFT)
    created_by: Mapped[str] = mapped_column(String(40), default="")
    created_at: Mapped[datetime] = created_column()


class BenefitGrantBatch(Base):
    """A batch grant of one SKU to the members listed in a file (phones), with its report."""

    __tablename__ = "benefit_grant_batches"
    __table_args__ = (UniqueConstraint("sku_id", "file_sha256"),)

    id: Mapped[str] = id_column("bgb")
    sku_id: Mapped[str] = mapped_column(ForeignKey("benefit_skus.id"), index=True)
    filename: Mapped[str] = mapped_column(String(200), default="")
    file_sha256: Mapped[str] = mapped_column(String(64))
    rows_total: Mapped[int] = mapped_column(default=0)
    granted: Mapped[int] = mapped_column(default=0)
    skipped: Mapped[int] = mapped_column(default=0)
    report: Mapped[list] = mapped_column(JSON, default=list)  # [{"row", "phone_masked", "outcome", "reason"}]
    created_by: Mapped[str] = mapped_column(String(40), default="")
    created_at: Mapped[datetime] = created_column()


class BenefitPartner(Base):
    """A partner allowed to grant benefits over the API: its key id, sealed HMAC secret and the SKUs it may give."""

    __tablename__ = "benefit_partners"

    id: Mapped[str] = id_column("bpt")
    name: Mapped[str] = mapped_column(String(100), unique=True)
    key_id: Mapped[str] = mapped_column(String(40), unique=True)
    sealed_secret: Mapped[bytes] = mapped_column(LargeBinary)
    sku_ids: Mapped[list] = mapped_column(JSON, default=list)
    status: Mapped[str] = status_column(BenefitPartnerStatus, BenefitPartnerStatus.ACTIVE)
    created_by: Mapped[str] = mapped_column(String(40), default="")
    created_at: Mapped[datetime] = created_column()


class BenefitPartnerNonce(Base):
    """A nonce a partner used in a signed request (refused if used again); purged after the replay window."""

    __tablename__ = "benefit_partner_nonces"

    partner_id: Mapped[str] = mapped_column(ForeignKey("benefit_partners.id"), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    seen_at: Mapped[datetime] = created_column()


class BenefitGrant(Base):
    """One issue of a benefit to a member, through a channel, idempotent on (channel, source id)."""

    __tablename__ = "benefit_grants"
    __table_args__ = (
        UniqueConstraint("channel", "source_id"),
        CheckConstraint(sql_in("channel", BenefitChannel), name="channel"),
        CheckConstraint("points_spent >= 0", name="points_range"),
        Index("ix_benefit_grants_member_sku", "member_id", "sku_id"),
        Index("ix_benefit_grants_campaign_member", "campaign_id", "member_id"),
    )

    id: Mapped[str] = id_column("bgr")
    channel: Mapped[str] = mapped_column(String(20))
    source_id: Mapped[str] = mapped_column(String(120))
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"))
    sku_id: Mapped[str] = mapped_column(ForeignKey("benefit_skus.id"))
    code_id: Mapped[str] = mapped_column(ForeignKey("benefit_codes.id"), unique=True)
    campaign_id: Mapped[str | None] = mapped_column(ForeignKey("benefit_campaigns.id"))
    batch_id: Mapped[str | None] = mapped_column(ForeignKey("benefit_grant_batches.id"), index=True)
    partner_id: Mapped[str | None] = mapped_column(ForeignKey("benefit_partners.id"), index=True)
    points_spent: Mapped[int] = mapped_column(default=0)
    created_by: Mapped[str] = mapped_column(String(40), default="")
    created_at: Mapped[datetime] = created_column()
