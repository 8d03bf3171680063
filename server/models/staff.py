"""Operator and merchant staff accounts and their personal API tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from server.domain.statuses import StaffStatus
from server.models.base import Base, created_column, id_column, status_column


class StaffUser(Base):
    """A person working for the operator (admin, finance, ...) or for a merchant (owner, cashier)."""

    __tablename__ = "staff_users"
    __table_args__ = (
        CheckConstraint("(role IN ('owner', 'cashier')) = (merchant_id IS NOT NULL)", name="merchant_roles_scoped"),
    )

    id: Mapped[str] = id_column("usr")
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    password_hash: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    merchant_id: Mapped[str | None] = mapped_column(ForeignKey("merchants.id"), index=True)
    status: Mapped[str] = status_column(StaffStatus, StaffStatus.ACTIVE)
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    must_change_password: Mapped[bool] = mapped_column(default=False)  # new account or reset by an admin
    totp_secret_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)  # set: a second factor is required
    totp_last_step: Mapped[int | None]  # the newest code step used: a code is accepted once
    created_at: Mapped[datetime] = created_column()


class PersonalToken(Base):
    """A staff member's API token (pt_...), stored as a SHA-256 hash; refused once revoked or expired
    (``expires_at`` None: a token made before tokens expired, e.g. by ``create-admin``)."""

    __tablename__ = "personal_tokens"

    id: Mapped[str] = id_column("tok")
    user_id: Mapped[str] = mapped_column(ForeignKey("staff_users.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(40))
    created_by: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = created_column()
