"""Members of the alliance."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from server.domain.statuses import MemberStatus
from server.models.base import Base, created_column, id_column, status_column


class Member(Base):
    """A member of the alliance; the phone is stored encrypted with a keyed hash for lookup."""

    __tablename__ = "members"

    id: Mapped[str] = id_column("mem")
    display_name: Mapped[str] = mapped_column(String(50))
    phone_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    phone_hash: Mapped[str] = mapped_column(String(64), unique=True)
    phone_masked: Mapped[str] = mapped_column(String(16))
    # keyed hash of the last four digits: a partial-number search narrows to a few rows to decrypt and compare
    phone_suffix_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    level_id: Mapped[str] = mapped_column(ForeignKey("levels.id"))
    level_since: Mapped[datetime]
    status: Mapped[str] = status_column(MemberStatus, MemberStatus.ACTIVE)
    recruited_by_merchant_id: Mapped[str | None] = mapped_column(ForeignKey("merchants.id"))
    recruited_by_agent_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id"), index=True)
    # the member whose invite link (裂变分享) they joined through; rewarded only on their consumption
    invited_by_member_id: Mapped[str | None] = mapped_column(ForeignKey("members.id"), index=True)
    points_account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"), unique=True)
    # the birthday's month and day ("MM-DD", no year kept): the birthday gift job finds today's by index
    birth_md: Mapped[str | None] = mapped_column(String(5), index=True)
    created_at: Mapped[datetime] = created_column()
