"""Devices that show dynamic member codes: provisioning at login, and verifying a code at a terminal."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from datetime import datetime

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from server.domain.errors import CodeExpired, CodeInvalid, CodeUsed
from server.domain.member_codes import INDEX_DIGITS, match_step, parse_member_code, time_step
from server.domain.statuses import DeviceStatus, MemberStatus
from server.extensions import db
from server.models import Member, MemberCodeUse, MemberDevice
from server.models.base import new_id, utcnow
from server.security.credentials import token_hash

SESSION_TOKEN_PREFIX = "ms_"


def now() -> float:
    """Seconds since the epoch on the member-code clock (tests inject ``MEMBER_CODE_CLOCK``)."""
    clock = current_app.config.get("MEMBER_CODE_CLOCK")
    return clock() if clock else time.time()


def _device_key() -> bytes:
    # Derived from a server key, never stored: a database dump alone cannot mint anyone's codes.
    keys = current_app.extensions["alliance_keys"]
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"member code device secret").derive(
        keys.pii_hash
    )


def device_secret(device: MemberDevice) -> bytes:
    """The device's TOTP secret: HMAC of its id and random seed under the server's device key."""
    return hmac.new(_device_key(), device.id.encode() + device.secret_seed, hashlib.sha256).digest()


def _free_code_index() -> int:
    for _ in range(20):
        index = secrets.randbelow(10**INDEX_DIGITS)
        if db.session.scalar(select(MemberDevice.id).where(MemberDevice.code_index == index)) is None:
            return index
    raise RuntimeError("no free device index found; the index space is nearly full")


def provision_device(member_id: str, label: str = "") -> tuple[MemberDevice, bytes, str]:
    """A new logged-in device for the member: (device, its code secret, its session token). Flushes only."""
    token = secrets.token_urlsafe(32)
    device = MemberDevice(
        id=new_id("dev"),
        member_id=member_id,
        code_index=_free_code_index(),
        secret_seed=os.urandom(32),
        session_hash=token_hash(SESSION_TOKEN_PREFIX + token),
        label=label[:100],
        status=DeviceStatus.ACTIVE,
        last_seen_at=utcnow(),
    )
    db.session.add(device)
    db.session.flush()
    return device, device_secret(device), token


def device_for_session(token: str) -> MemberDevice | None:
    """The active device of a member session cookie, if any."""
    if not token:
        return None
    device = db.session.scalar(
        select(MemberDevice).where(MemberDevice.session_hash == token_hash(SESSION_TOKEN_PREFIX + token))
    )
    if device is None or device.status != DeviceStatus.ACTIVE:
        return None
    frozen = db.session.scalar(select(Member.status).where(Member.id == device.member_id)) != MemberStatus.ACTIVE
    return None if frozen else device  # a frozen (or closed) member's session no longer opens member pages


def revoke_device(device: MemberDevice) -> None:
    """Log the device out: its session ends and its codes stop being accepted. Flushes only."""
    device.status, device.revoked_at = DeviceStatus.REVOKED, utcnow()


def verify_member_code(digits: str, prefix: str, terminal_id: str | None, at: datetime | None = None) -> str:
    """The member id behind a dynamic code, marking the (device, step) pair used; raises Code* errors.

    ``at`` checks the code against another moment (an offline sale replayed with what it captured).
    """
    parsed = parse_member_code(digits, prefix)
    device = db.session.scalar(select(MemberDevice).where(MemberDevice.code_index == parsed.device_index))
    if device is None or device.status != DeviceStatus.ACTIVE:
        raise CodeInvalid()
    moment = at.timestamp() if at is not None else now()
    verdict, step = match_step(device_secret(device), parsed.otp, time_step(moment))
    if verdict == "invalid":
        raise CodeInvalid()
    if verdict == "expired":
        raise CodeExpired()
    try:
        with db.session.begin_nested():  # the unique pair decides between concurrent presentations
            db.session.add(MemberCodeUse(device_id=device.id, time_step=step, terminal_id=terminal_id))
    except IntegrityError:
        raise CodeUsed() from None
    return device.member_id
