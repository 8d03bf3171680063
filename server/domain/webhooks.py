"""Webhooks as pure rules: the event catalogue, the signature, the retry schedule and the URL rule.

The catalogue names every event a subscription may ask for. A feature emits its event with
``server.services.webhooks.emit(session, event_type, payload)`` in its own transaction; the payload of each
type is documented in the OpenAPI document (``server/api/webhook_schemas.py``) and in docs/webhooks.md.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class EventType:
    """One kind of event: its name (``area.what``), what it means, and whether code in this build emits it."""

    name: str
    description: str
    emitted: bool = True


CATALOGUE: tuple[EventType, ...] = (
    EventType("sale.recorded", "A sale was recorded (online or replayed offline)."),
    EventType("refund.recorded", "A sale was refunded, in part or in full."),
    EventType("points.expiring", "A member's points expire soon (sent once per member and expiry date)."),
    EventType("card.blocked", "A card was blocked: reported lost, frozen, replaced, cancelled or a suspected copy."),
    EventType("benefit.issued", "A benefit was issued to a member (any channel)."),
    EventType("benefit.redeemed", "A member's benefit was redeemed (an alliance voucher at a till, in the sale)."),
    EventType("benefit.expired", "A member's benefit expired unused."),
    EventType("commission.available", "An agent's commission became available for withdrawal."),
    EventType("withdrawal.paid", "An agent's withdrawal was paid."),
)
EVENT_TYPES: tuple[str, ...] = tuple(event.name for event in CATALOGUE)

SIGNATURE_VERSION = "v1"
TIMESTAMP_TOLERANCE_SECONDS = 300  # what receivers should accept (documented): older timestamps are replays
MAX_ATTEMPTS = 8  # then the delivery is failed (the operator may replay it)
FIRST_RETRY_SECONDS = 30
MAX_RETRY_SECONDS = 3_600
MAX_URL_LENGTH = 500


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """``v1=<hex HMAC-SHA256 of "<timestamp>.<body>" under the subscription's secret>``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_VERSION}={digest}"


def signature_valid(secret: str, timestamp: int, body: bytes, header: str, now: int) -> bool:
    """The receiver's check: a signature made with ``secret`` over this body, and a recent timestamp."""
    if abs(now - timestamp) > TIMESTAMP_TOLERANCE_SECONDS:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), header)


def retry_delay_seconds(attempts: int) -> int | None:
    """How long to wait after ``attempts`` failed attempts: doubling from 30 s up to an hour; None: give up."""
    if attempts >= MAX_ATTEMPTS:
        return None
    return min(FIRST_RETRY_SECONDS * 2 ** (attempts - 1), MAX_RETRY_SECONDS)


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot receive webhooks (None when it can): http(s), a host, no credentials in it."""
    if len(url) > MAX_URL_LENGTH:
        return "too long"
    if any(char.isspace() for char in url):
        return "spaces in the address"
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return "not a URL"
    if parts.scheme not in {"http", "https"}:
        return "not http or https"
    if not parts.hostname:
        return "no host"
    if parts.username or parts.password:
        return "credentials in the address"
    return None


def unknown_event_types(names) -> list[str]:
    """The names among ``names`` that are not in the catalogue."""
    return sorted(set(names) - set(EVENT_TYPES))
