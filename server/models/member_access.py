"""How members get in: one-time login codes, logged-in devices (dynamic codes), used codes, WeChat, posters."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, created_column, id_column


class LoginCode(Base):
    """A one-time SMS code: stored as a keyed hash, short-lived, with limited attempts.

    ``purpose`` is what the code proves: ``login`` (the phone, ``phone_hash`` is the phone's lookup hash)
    or ``till_proof`` (the member at a till, ``phone_hash`` is the identification's token hash).
    """

    __tablename__ = "login_codes"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16), default="login", server_default="login")
    phone_hash: Mapped[str] = mapped_column(String(64), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    used_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_column()


class MemberDevice(Base):
    """A phone browser a member logged in on: its session and the seed of its dynamic member codes.

    ``code_index`` is the number inside every code the device shows; ``secret_seed`` alone cannot
    mint codes: the device secret is derived from it with a server key that is not in the database.
    """

    __tablename__ = "member_devices"

    id: Mapped[str] = id_column("dev")
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"), index=True)
    code_index: Mapped[int] = mapped_column(unique=True)
    secret_seed: Mapped[bytes] = mapped_column(LargeBinary(32))
    session_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(100), default="")
    status: Mapped[str] = mapped_column(String(16), default="active")  # active, revoked
    last_seen_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_column()


class MemberCodeUse(Base):
    """A dynamic code accepted once: the (device, time step) pair is unique, so a replay always loses."""

    __tablename__ = "member_code_uses"

    device_id: Mapped[str] = mapped_column(ForeignKey("member_devices.id"), primary_key=True)
    time_step: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    terminal_id: Mapped[str | None] = mapped_column(ForeignKey("terminals.id"))
    created_at: Mapped[datetime] = created_column()


class WechatBinding(Base):
    """A WeChat openid (stored as a keyed hash) bound to a member after phone verification."""

    __tablename__ = "wechat_bindings"

    openid_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"), index=True)
    created_at: Mapped[datetime] = created_column()


class MerchantPoster(Base):
    """The token in a merchant's recruiting poster QR code (/m/join?m=<token>)."""

    __tablename__ = "merchant_posters"

    token: Mapped[str] = mapped_column(String(32), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"), unique=True)
    created_at: Mapped[datetime] = created_column()
