"""Anti-fraud counters of benefits: claims, redemptions and failed code lookups per subject and period.

One row per (action, subject kind, subject, period), e.g. (``claim``, ``member``, ``mem_…``, ``2026-12-06``).
Rows are taken with one statement per request for all its subjects and periods (``INSERT … ON CONFLICT DO UPDATE
SET count = count + 1 WHERE count < excluded.budget RETURNING …``, ``server/services/benefit_fraud.py``):
exactly ``budget`` requests succeed however many arrive at once, and a claim or redemption that fails later
gives its count back with its rollback.
Rules: ``server/domain/benefit_budgets.py``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, created_column


class BenefitCounter(Base):
    """How many claims / redemptions / failures one subject had in one period."""

    __tablename__ = "benefit_counters"
    __table_args__ = (
        CheckConstraint("count >= 0", name="count_range"),
        Index("ix_benefit_counters_action_last", "action", "last_at"),
    )

    action: Mapped[str] = mapped_column(String(16), primary_key=True)
    subject_kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    subject: Mapped[str] = mapped_column(String(64), primary_key=True)
    period: Mapped[str] = mapped_column(String(16), primary_key=True)
    count: Mapped[int] = mapped_column(default=0)
    budget: Mapped[int] = mapped_column(default=0)  # the budget in force when last counted (0: none)
    first_at: Mapped[datetime] = created_column()
    last_at: Mapped[datetime] = created_column()
