"""Server-side console sessions: the browser holds only a random token, so a session can be ended for good."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, created_column


class ConsoleSession(Base):
    """A signed-in console session of a staff user; the token exists only in the browser (stored hashed)."""

    __tablename__ = "console_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("staff_users.id"), index=True)
    source: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = created_column()
    last_seen_at: Mapped[datetime] = created_column()
    ended_at: Mapped[datetime | None]
