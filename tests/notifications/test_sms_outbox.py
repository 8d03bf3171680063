"""The SMS outbox: queued with the change that caused it, sent once, retried on failure, phone encrypted,
one-time codes readable only by the sender and only while they work."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from server.extensions import db
from server.models import SmsMessage
from server.models.base import utcnow
from server.notifications.sms import MAX_ATTEMPTS, SmsDeliveryFailed, configured_sender, dispatch_pending, queue_sms
from server.services.unit_of_work import transaction

PHONE = "13800138000"


class RecordingSender:
    name = "recording"

    def __init__(self, failures: int = 0, error: str = "gateway busy"):
        self.failures = failures
        self.error = error
        self.sent: list[tuple[str, str]] = []

    def send(self, phone: str, text: str) -> str:
        if self.failures:
            self.failures -= 1
            raise SmsDeliveryFailed(self.error.format(phone=phone, text=text))
        self.sent.append((phone, text))
        return f"msg-{len(self.sent)}"


def _queue(code="123456", minutes=5, expires_in: timedelta | None = None):
    with transaction():
        return queue_sms(
            PHONE,
            "login_code",
            secret=code,
            secret_expires_at=utcnow() + (timedelta(minutes=minutes) if expires_in is None else expires_in),
            alliance="幸福街",
            minutes=minutes,
        ).id


def test_queued_message_is_sent_once_in_order(ctx):
    _queue(code="111111")
    _queue(code="222222")
    sender = RecordingSender()
    assert dispatch_pending(sender) == 2
    assert dispatch_pending(sender) == 0
    assert [text for _, text in sender.sent] == [
        "【幸福街】您的验证码是111111，5分钟内有效。如非本人操作，请忽略本短信。",
        "【幸福街】您的验证码是222222，5分钟内有效。如非本人操作，请忽略本短信。",
    ]
    assert {phone for phone, _ in sender.sent} == {PHONE}
    rows = db.session.scalars(select(SmsMessage).order_by(SmsMessage.id)).all()
    assert [(row.status, row.provider_message_id, row.phone_masked) for row in rows] == [
        ("sent", "msg-1", "138****8000"),
        ("sent", "msg-2", "138****8000"),
    ]


def test_message_of_a_rolled_back_change_is_never_sent(ctx):
    with pytest.raises(RuntimeError), transaction():
        queue_sms(PHONE, "points_expiring", alliance="幸福街", points=5, date="2026-02-10")
        raise RuntimeError("the change failed")
    assert dispatch_pending(RecordingSender()) == 0


def test_failed_delivery_is_retried_then_given_up(ctx):
    _queue()
    sender = RecordingSender(failures=1)
    assert dispatch_pending(sender) == 0
    message = db.session.scalars(select(SmsMessage)).one()
    assert (message.status, message.attempts, message.last_error) == ("pending", 1, "gateway busy")
    assert dispatch_pending(sender) == 1

    _queue()
    hopeless = RecordingSender(failures=MAX_ATTEMPTS)
    for _ in range(MAX_ATTEMPTS):
        dispatch_pending(hopeless)
    statuses = db.session.scalars(select(SmsMessage.status).order_by(SmsMessage.id)).all()
    assert statuses == ["sent", "failed"]


def test_phone_is_not_stored_in_clear(ctx):
    _queue()
    row = db.session.scalars(select(SmsMessage)).one()
    assert PHONE.encode() not in row.phone_ciphertext
    assert PHONE not in row.phone_hash and PHONE not in row.text


def _stored(message_id: int) -> SmsMessage:
    db.session.expire_all()
    return db.session.get(SmsMessage, message_id)


def _no_code_anywhere(message: SmsMessage, code: str) -> None:
    for name, value in vars(message).items():
        if isinstance(value, str | bytes):
            assert code not in (value.decode("latin-1") if isinstance(value, bytes) else value), name


def test_a_code_is_stored_masked_and_sealed_only_until_sent(ctx):
    message_id = _queue(code="368852")
    queued = _stored(message_id)
    assert queued.text == "【幸福街】您的验证码是******，5分钟内有效。如非本人操作，请忽略本短信。"
    assert queued.sealed_text is not None
    _no_code_anywhere(queued, "368852")
    sender = RecordingSender(failures=1, error="provider refused {phone}: {text}")
    assert dispatch_pending(sender) == 0  # the provider echoed the request: kept for a retry, scrubbed
    retried = _stored(message_id)
    assert retried.sealed_text is not None and retried.last_error.startswith("provider refused 138****8000")
    _no_code_anywhere(retried, "368852")
    assert PHONE not in retried.last_error and "验证码是******" in retried.last_error
    assert dispatch_pending(sender) == 1
    assert sender.sent == [(PHONE, "【幸福街】您的验证码是368852，5分钟内有效。如非本人操作，请忽略本短信。")]
    sent = _stored(message_id)
    assert (sent.status, sent.sealed_text) == ("sent", None)
    _no_code_anywhere(sent, "368852")


def test_a_code_is_wiped_when_given_up(ctx):
    message_id = _queue()
    hopeless = RecordingSender(failures=MAX_ATTEMPTS)
    for _ in range(MAX_ATTEMPTS):
        dispatch_pending(hopeless)
    assert (_stored(message_id).status, _stored(message_id).sealed_text) == ("failed", None)


def test_an_expired_code_is_never_sent_and_its_text_is_wiped(ctx):
    expired = timedelta(seconds=-1)
    first, second = _queue("111111", expires_in=expired), _queue("222222", expires_in=expired)
    live = _queue("333333")
    sender = RecordingSender()
    assert dispatch_pending(sender, only=[first]) == 0  # the request's own send came too late
    assert (_stored(first).status, _stored(first).sealed_text) == ("expired", None)
    assert dispatch_pending(sender) == 1  # a full run (job, CLI) wipes every code that expired unsent
    assert (_stored(second).status, _stored(second).sealed_text) == ("expired", None)
    assert len(sender.sent) == 1 and "验证码是333333" in sender.sent[0][1] and _stored(live).status == "sent"


def test_a_code_must_be_queued_as_a_secret_with_its_expiry(ctx):
    with pytest.raises(TypeError, match="secret="), transaction():
        queue_sms(PHONE, "login_code", alliance="幸福街", code="123456", minutes=5)
    with pytest.raises(TypeError, match="secret_expires_at"), transaction():
        queue_sms(PHONE, "login_code", secret="123456", alliance="幸福街", minutes=5)
    assert db.session.scalars(select(SmsMessage)).all() == []


def test_configured_sender_is_the_log_sender_by_default(app, ctx):
    assert configured_sender().name == "log"
    app.config["SMS_SENDER"] = "carrier-pigeon"
    try:
        with pytest.raises(RuntimeError, match="unknown SMS_SENDER"):
            configured_sender()
    finally:
        app.config["SMS_SENDER"] = "log"
