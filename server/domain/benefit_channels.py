"""Pure rules of benefit distribution: what points may buy, who may claim a campaign, partner request signatures.

No Flask, no SQLAlchemy: the services (``server/services/benefit_grants.py``) gather the facts and call these.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from server.domain.statuses import BenefitKind

PARTNER_CLOCK_SKEW_SECONDS = 300  # a signed request is accepted this long either side of the server's clock


def is_cash_like(kind: str) -> bool:
    """Benefits worth money on their own (a third party's 卡密, a cash voucher): points buy them only under licence.

    Threshold, percentage and item vouchers need a purchase at a member merchant, so they are not cash-like.
    """
    return kind in (BenefitKind.THIRD_PARTY_CODE, BenefitKind.VOUCHER_CASH)


@dataclass(frozen=True)
class CampaignRules:
    """Who may claim a campaign, and when."""

    starts_at: datetime
    ends_at: datetime
    min_level_rank: int | None = None
    region_code: str | None = None
    agent_id: str | None = None
    active_within_days: int | None = None


@dataclass(frozen=True)
class MemberFacts:
    """What the rules need to know about a member: level rank, home region and the regions above it,
    recruiting agent, last sale."""

    level_rank: int
    region_path: tuple[str, ...] = ()  # the member's region code and every code above it
    agent_id: str | None = None
    last_sale_at: datetime | None = None


def campaign_refusal(rules: CampaignRules, member: MemberFacts, now: datetime) -> str | None:
    """Why the member may not claim now (a short reason key), or None when they may."""
    if now < rules.starts_at:
        return "not_started"
    if now >= rules.ends_at:
        return "ended"
    if rules.min_level_rank is not None and member.level_rank < rules.min_level_rank:
        return "level"
    if rules.region_code and rules.region_code not in member.region_path:
        return "region"
    if rules.agent_id and rules.agent_id != member.agent_id:
        return "agent"
    if rules.active_within_days:
        since = now - timedelta(days=rules.active_within_days)
        if member.last_sale_at is None or member.last_sale_at < since:
            return "inactive"
    return None


def birthday_key(day: date) -> list[str]:
    """The ``MM-DD`` birthdays celebrated on ``day`` (29 February's on the 28th in a common year)."""
    keys = [day.strftime("%m-%d")]
    if day.month == 2 and day.day == 28:
        try:
            date(day.year, 2, 29)
        except ValueError:
            keys.append("02-29")
    return keys


def normalize_birthday(text: str) -> str | None:
    """A birthday typed as ``YYYY-MM-DD``, ``MM-DD`` or ``M/D`` as ``MM-DD``; None when empty; ValueError if bad."""
    text = (text or "").strip().replace("/", "-")
    if not text:
        return None
    parts = text.split("-")
    if len(parts) == 3:
        parts = parts[1:]
    if len(parts) != 2 or not all(part.isdigit() for part in parts):
        raise ValueError("not a birthday")
    month, day = int(parts[0]), int(parts[1])
    date(2000, month, day)  # a leap year: 29 February is a birthday
    return f"{month:02d}-{day:02d}"


def partner_string_to_sign(method: str, path: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    """What a partner signs: method, path, timestamp, nonce and the body's SHA-256, one per line."""
    digest = hashlib.sha256(body).hexdigest()
    return "\n".join([method.upper(), path, timestamp, nonce, digest]).encode()


def partner_signature(secret: str, method: str, path: str, timestamp: str, nonce: str, body: bytes) -> str:
    """HMAC-SHA256 of the string to sign under the partner's secret, hex."""
    message = partner_string_to_sign(method, path, timestamp, nonce, body)
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def partner_request_fresh(timestamp: str, now: datetime) -> bool:
    """True when the request's Unix timestamp is within the allowed clock skew of ``now``."""
    if not timestamp.isdigit() or len(timestamp) > 12:
        return False
    return abs(int(timestamp) - int(now.timestamp())) <= PARTNER_CLOCK_SKEW_SECONDS


def signature_matches(expected: str, given: str) -> bool:
    """Constant-time comparison of two hex signatures."""
    return hmac.compare_digest(expected.encode(), (given or "").strip().lower().encode())
