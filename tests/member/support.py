"""Helpers for member tests: read login codes as the development SMS sender logs them, log a phone in, compute codes."""

from __future__ import annotations

import logging
import re

from sqlalchemy import select

from server.domain.identifiers import mask_mobile
from server.domain.member_codes import member_code, time_step
from server.extensions import db
from server.models import SmsMessage
from server.notifications import sms
from server.security.pii import phone_lookup_hash
from server.services import member_login


class _SmsLog(logging.Handler):
    """What the development sender wrote: the outbox keeps codes masked, so tests read them where developers do."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(record.getMessage())


_sms_log = _SmsLog()
logging.getLogger(sms.__name__).addHandler(_sms_log)


def sent_codes(phone: str) -> list[str]:
    """The codes texted to ``phone``, oldest first, as the development sender logged them (sent now if queued)."""
    queued = db.session.scalars(
        select(SmsMessage.id).where(SmsMessage.phone_hash == phone_lookup_hash(phone), SmsMessage.status == "pending")
    ).all()
    if queued:
        sms.dispatch_pending(sms.LogSmsSender(), only=queued)
    return [
        found.group(1)
        for line in _sms_log.lines
        if mask_mobile(phone) in line and (found := re.search(r"验证码是(\d{6})", line))
    ]


def last_login_code(phone: str) -> str:
    """The code in the newest SMS to ``phone``, as the development sender logged it (sent now if still queued)."""
    codes = sent_codes(phone)
    assert codes, f"no login code was sent to {mask_mobile(phone)}"
    return codes[-1]


def register_phone(phone: str, poster_token: str | None = None) -> member_login.MemberLogin:
    """Register (or log in) ``phone`` through the login-code service; returns the new device."""
    member_login.request_login_code(phone)
    return member_login.log_in(phone, last_login_code(phone), register=True, consent=True, poster_token=poster_token)


def code_at(login: member_login.MemberLogin, unix_seconds: float, prefix: str = "88") -> str:
    """The code the device shows at ``unix_seconds``."""
    return member_code(prefix, login.device.code_index, login.code_secret, time_step(unix_seconds))
