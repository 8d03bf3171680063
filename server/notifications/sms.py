"""SMS: a small sender interface, the development sender, and the outbox every message goes through.

A use case queues a message with :func:`queue_sms` inside its own transaction, so the message exists
exactly when the change that caused it was committed. :func:`dispatch_pending` then hands pending
messages to the configured sender (after the request, and from the jobs/CLI for retries).

A message that carries a secret (a one-time code) is queued with ``secret=``: the outbox keeps a copy
with the code masked (what operators read), and the full text sealed under its own key only while it
can still be sent; it is wiped when the message is sent, given up, or the code expires.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Protocol

import requests
from flask import current_app
from sqlalchemy import case, select, update

from server.domain.identifiers import mask_mobile
from server.domain.statuses import SmsStatus
from server.extensions import db
from server.models import SmsMessage
from server.models.base import utcnow
from server.notifications.templates import render_sms
from server.security.pii import decrypt_phone, encrypt_phone, phone_lookup_hash
from server.security.sealed import open_sms, seal_sms

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5


class SmsDeliveryFailed(Exception):
    """The provider did not accept the message (it stays in the outbox for a retry)."""


class SmsSender(Protocol):
    """What an SMS provider adapter offers: send one text, return the provider's message id."""

    name: str

    @classmethod
    def from_config(cls, config) -> SmsSender: ...

    def send(self, phone: str, text: str) -> str: ...


class LogSmsSender:
    """Development sender: writes the full text (codes included, the phone masked) to the log."""

    name = "log"

    @classmethod
    def from_config(cls, config) -> LogSmsSender:
        return cls()

    def send(self, phone: str, text: str) -> str:
        log.warning("SMS to %s: %s", mask_mobile(phone), text)
        return "logged"


class HttpSmsSender:
    """A provider's HTTP API: POST JSON ``{"phone", "text", "sign"}`` with ``Authorization: Bearer <key>``.

    Settings: ``SMS_HTTP_URL``, ``SMS_HTTP_KEY``, ``SMS_SIGN`` (the approved signature, e.g. 【幸福街】),
    ``SMS_HTTP_TIMEOUT_SECONDS``. A 2xx answer with ``{"message_id": ...}`` is a delivery; anything else,
    or no answer, raises SmsDeliveryFailed so the message stays in the outbox for a retry.
    """

    name = "http"

    def __init__(self, url: str, key: str, sign: str = "", timeout: float = 10.0):
        if not url:
            raise RuntimeError("SMS_SENDER=http needs SMS_HTTP_URL")
        self.url, self.key, self.sign, self.timeout = url, key, sign, timeout

    @classmethod
    def from_config(cls, config) -> HttpSmsSender:
        return cls(
            config["SMS_HTTP_URL"],
            config["SMS_HTTP_KEY"],
            config["SMS_SIGN"],
            config["SMS_HTTP_TIMEOUT_SECONDS"],
        )

    def send(self, phone: str, text: str) -> str:
        try:
            response = requests.post(
                self.url,
                json={"phone": phone, "text": text, "sign": self.sign},
                headers={"Authorization": f"Bearer {self.key}"},
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            raise SmsDeliveryFailed(f"provider unreachable: {exc.__class__.__name__}") from exc
        if not response.ok:
            raise SmsDeliveryFailed(f"provider answered HTTP {response.status_code}: {response.text[:100]}")
        try:
            message_id = response.json()["message_id"]
        except (ValueError, KeyError, TypeError) as exc:
            raise SmsDeliveryFailed("provider answer has no message_id") from exc
        return str(message_id)


SENDERS: dict[str, type] = {"log": LogSmsSender, "http": HttpSmsSender}


def configured_sender() -> SmsSender:
    """The sender named by the ``SMS_SENDER`` setting (default ``log``), built from the app config."""
    name = current_app.config["SMS_SENDER"]
    if name not in SENDERS:
        raise RuntimeError(f"unknown SMS_SENDER {name!r}; known: {', '.join(sorted(SENDERS))}")
    return SENDERS[name].from_config(current_app.config)


def mask_secret(secret: str) -> str:
    """What a secret looks like in the readable copy of a message."""
    return "*" * len(secret)


def queue_sms(
    mobile: str, template: str, *, secret: str | None = None, secret_expires_at: datetime | None = None, **params
) -> SmsMessage:
    """Add a message to the outbox in the caller's transaction (flushes, never commits).

    A one-time code goes in ``secret`` (it fills the template's ``{code}``), with ``secret_expires_at``, the
    moment it stops working: the stored text shows it masked, the full text is sealed until it is sent,
    given up or expired (an expired code is never sent).
    """
    if "code" in params:
        raise TypeError("pass a one-time code as secret=..., never as a plain template parameter")
    lookup, sealed = phone_lookup_hash(mobile), None
    if secret is not None:
        if secret_expires_at is None:
            raise TypeError("a message with a secret needs secret_expires_at")
        sealed = seal_sms(render_sms(template, **params, code=secret), secret, lookup)
        params["code"] = mask_secret(secret)
    message = SmsMessage(
        phone_ciphertext=encrypt_phone(mobile),
        phone_hash=lookup,
        phone_masked=mask_mobile(mobile),
        template=template,
        text=render_sms(template, **params),
        sealed_text=sealed,
        secret_expires_at=secret_expires_at if secret is not None else None,
    )
    db.session.add(message)
    db.session.flush()
    return message


def wipe_expired_secrets() -> int:
    """Forget the sealed text of messages whose code expired; unsent ones become ``expired`` (no commit)."""
    result = db.session.execute(
        update(SmsMessage)
        .where(SmsMessage.sealed_text.is_not(None), SmsMessage.secret_expires_at <= utcnow())
        .values(
            sealed_text=None,
            status=case((SmsMessage.status == SmsStatus.PENDING, SmsStatus.EXPIRED), else_=SmsMessage.status),
        )
    )
    return result.rowcount


def _scrub(error: str, phone: str, secret: str | None) -> str:
    """A provider's error text without the phone number or the code (providers may echo the request)."""
    error = error.replace(phone, mask_mobile(phone))
    return error.replace(secret, mask_secret(secret)) if secret else error


def dispatch_pending(sender: SmsSender | None = None, limit: int = 100, only: Iterable[int] | None = None) -> int:
    """Send up to ``limit`` pending messages (``only`` those ids, if given), oldest first, one commit each.

    Returns how many were sent. A request sends ``only`` the message it queued, so it never waits on others;
    a full run (jobs, CLI) first wipes the codes that expired unsent.
    """
    sender = sender or configured_sender()
    if only is None:
        wipe_expired_secrets()
    query = select(SmsMessage.id).where(SmsMessage.status == SmsStatus.PENDING)
    if only is not None:
        query = query.where(SmsMessage.id.in_(list(only)))
    ids = db.session.scalars(query.order_by(SmsMessage.id).limit(limit)).all()
    db.session.commit()
    sent = 0
    for message_id in ids:
        # FOR UPDATE SKIP LOCKED (PostgreSQL): a message another worker is sending is passed over, not waited for
        message = db.session.scalar(
            select(SmsMessage)
            .where(SmsMessage.id == message_id)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        )
        if message is None or message.status != SmsStatus.PENDING:  # another worker has it or sent it
            db.session.commit()
            continue
        if message.secret_expires_at is not None and (
            message.sealed_text is None or message.secret_expires_at <= utcnow()
        ):  # a code that no longer works is not worth sending
            message.status, message.sealed_text = SmsStatus.EXPIRED, None
            db.session.commit()
            continue
        phone = decrypt_phone(message.phone_ciphertext)
        if message.sealed_text is not None:
            text, secret = open_sms(message.sealed_text, message.phone_hash)
        else:
            text, secret = message.text, None
        message.attempts += 1
        message.sender = sender.name
        try:
            message.provider_message_id = sender.send(phone, text)
        except SmsDeliveryFailed as exc:
            message.last_error = _scrub(str(exc), phone, secret)[:255]
            if message.attempts >= MAX_ATTEMPTS:
                message.status, message.sealed_text = SmsStatus.FAILED, None
        else:
            message.status, message.sealed_text = SmsStatus.SENT, None
            message.sent_at = utcnow()
            sent += 1
        db.session.commit()
    return sent


def send_now(message_id: int | None) -> None:
    """Hand a message a request just queued (and committed) to the provider right away.

    Any failure leaves it pending in the outbox for ``alliance-server sms dispatch`` or the jobs.
    """
    if message_id is None:
        return
    try:
        dispatch_pending(only=[message_id])
    except Exception:  # noqa: BLE001 - the message stays pending in the outbox
        current_app.logger.exception("SMS dispatch failed; the message stays in the outbox")
