"""Outgoing text messages (SMS), kept as a durable outbox until the provider accepted them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.domain.statuses import SmsStatus
from server.models.base import Base, created_column, status_column


class SmsMessage(Base):
    """One SMS: queued in the transaction that caused it, sent after commit; the phone is encrypted.

    ``text`` is what may be read: a message that carries a secret (a one-time code) keeps it masked there,
    and its full text is in ``sealed_text`` (AES-GCM) only until it is sent, fails or ``secret_expires_at``.
    """

    __tablename__ = "sms_messages"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    phone_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    phone_hash: Mapped[str] = mapped_column(String(64), index=True)
    phone_masked: Mapped[str] = mapped_column(String(16))
    template: Mapped[str] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(Text)
    sealed_text: Mapped[bytes | None] = mapped_column(LargeBinary)
    secret_expires_at: Mapped[datetime | None]
    status: Mapped[str] = status_column(SmsStatus, SmsStatus.PENDING, index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    sender: Mapped[str | None] = mapped_column(String(20))
    provider_message_id: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = created_column()
    sent_at: Mapped[datetime | None]
