"""Helpers for member tests: read login codes from the SMS outbox, log a phone in, compute its codes."""

from __future__ import annotations

import re

from sqlalchemy import select

from server.domain.member_codes import member_code, time_step
from server.extensions import db
from server.models import SmsMessage
from server.security.pii import phone_lookup_hash
from server.services import member_login


def last_login_code(phone: str) -> str:
    """The code in the newest SMS to ``phone``."""
    text = db.session.scalars(
        select(SmsMessage.text).where(SmsMessage.phone_hash == phone_lookup_hash(phone)).order_by(SmsMessage.id.desc())
    ).first()
    return re.search(r"验证码是(\d{6})", text).group(1)


def register_phone(phone: str, poster_token: str | None = None) -> member_login.MemberLogin:
    """Register (or log in) ``phone`` through the login-code service; returns the new device."""
    member_login.request_login_code(phone)
    return member_login.log_in(phone, last_login_code(phone), register=True, consent=True, poster_token=poster_token)


def code_at(login: member_login.MemberLogin, unix_seconds: float, prefix: str = "88") -> str:
    """The code the device shows at ``unix_seconds``."""
    return member_code(prefix, login.device.code_index, login.code_secret, time_step(unix_seconds))
