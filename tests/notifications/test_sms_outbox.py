"""The SMS outbox: queued with the change that caused it, sent once, retried on failure, phone encrypted."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from server.extensions import db
from server.models import SmsMessage
from server.notifications.sms import MAX_ATTEMPTS, SmsDeliveryFailed, configured_sender, dispatch_pending, queue_sms
from server.services.unit_of_work import transaction

PHONE = "13800138000"


class RecordingSender:
    name = "recording"

    def __init__(self, failures: int = 0):
        self.failures = failures
        self.sent: list[tuple[str, str]] = []

    def send(self, phone: str, text: str) -> str:
        if self.failures:
            self.failures -= 1
            raise SmsDeliveryFailed("gateway busy")
        self.sent.append((phone, text))
        return f"msg-{len(self.sent)}"


def _queue(template="login_code", **params):
    with transaction():
        queue_sms(PHONE, template, **({"alliance": "幸福街", "code": "123456", "minutes": 5} | params))


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
    rows = db.session.scalars(select(SmsMessage)).all()
    assert [(row.status, row.provider_message_id, row.phone_masked) for row in rows] == [
        ("sent", "msg-1", "138****8000"),
        ("sent", "msg-2", "138****8000"),
    ]


def test_message_of_a_rolled_back_change_is_never_sent(ctx):
    with pytest.raises(RuntimeError), transaction():
        queue_sms(PHONE, "login_code", alliance="幸福街", code="1", minutes=5)
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


def test_configured_sender_is_the_log_sender_by_default(app, ctx):
    assert configured_sender().name == "log"
    app.config["SMS_SENDER"] = "carrier-pigeon"
    try:
        with pytest.raises(RuntimeError, match="unknown SMS_SENDER"):
            configured_sender()
    finally:
        app.config["SMS_SENDER"] = "log"
