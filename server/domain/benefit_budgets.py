"""Benefit anti-fraud budgets as pure rules: what is counted, per which subject, per which period, up to what.

Three actions are counted per subject and period (docs/benefits.md, "Anti-fraud"):

- ``claim``: a benefit reaching a member through a channel the member (or someone on the member's behalf)
  asks for: a campaign claim, a points exchange, a partner's grant, an agent's hand-out. Subjects: the member,
  the member's device (the H5 page's login), the requesting IP address;
- ``redeem``: a code redeemed. Subjects: the member holding it, the terminal, the merchant, the IP address;
- ``failure``: a code lookup that found nothing usable (unknown, used, expired, another merchant's, over
  budget). Subjects: the member, the device, the terminal, the IP address. Failures are not refused by
  their own count: once a subject's failures reach their budget, *every* lookup of that subject gets the
  same "cannot be used" answer for the rest of the period (guessing stops paying).

A budget is a whole number per ``<action>:<subject>:<period>`` (``claim:member:day``); 0 means no limit. The
alliance overrides the defaults below in its settings (``AllianceSettings.benefit_limits``, the console page
"风控额度"). Alert thresholds (``alert:<action>:<period>``, any subject) raise one velocity alert per subject and
period when a subject's count reaches them.

Periods are the local hour (``2026-12-06T13``) and the local day (``2026-12-06``) in the alliance's time zone.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

from server.domain.errors import InvalidRequest

CLAIM, REDEEM, FAILURE = "claim", "redeem", "failure"
ACTIONS = (CLAIM, REDEEM, FAILURE)
MEMBER, DEVICE, IP, TERMINAL, MERCHANT = "member", "device", "ip", "terminal", "merchant"
SUBJECTS = {
    CLAIM: (MEMBER, DEVICE, IP),
    REDEEM: (MEMBER, TERMINAL, MERCHANT, IP),
    FAILURE: (MEMBER, DEVICE, TERMINAL, IP),
}
HOUR, DAY = "hour", "day"
PERIODS = (HOUR, DAY)
MAX_LIMIT = 1_000_000

DEFAULT_LIMITS: dict[str, int] = {
    "claim:member:hour": 10,
    "claim:member:day": 30,
    "claim:device:hour": 10,
    "claim:device:day": 30,
    "claim:ip:hour": 100,
    "claim:ip:day": 1000,
    "redeem:member:hour": 10,
    "redeem:member:day": 30,
    "redeem:terminal:hour": 300,
    "redeem:terminal:day": 3000,
    "redeem:merchant:hour": 1000,
    "redeem:merchant:day": 10000,
    "redeem:ip:hour": 300,
    "redeem:ip:day": 3000,
    "failure:member:hour": 10,
    "failure:member:day": 30,
    "failure:device:hour": 10,
    "failure:device:day": 30,
    "failure:terminal:hour": 20,
    "failure:terminal:day": 100,
    "failure:ip:hour": 30,
    "failure:ip:day": 200,
    # a velocity alert when one subject's count in the period reaches the threshold (0: no alert)
    "alert:claim:hour": 8,
    "alert:redeem:hour": 0,
    "alert:failure:hour": 5,
}
DEFAULT_SECOND_FACTOR_FEN = 10_000  # claims of benefits worth 100 yuan or more need an SMS code (0: never)


def budget_key(action: str, subject: str, period: str) -> str:
    return f"{action}:{subject}:{period}"


def alert_key_of(action: str, period: str) -> str:
    return f"alert:{action}:{period}"


def effective_limits(overrides: Mapping[str, int] | None) -> dict[str, int]:
    """The defaults with the alliance's overrides applied (unknown keys ignored)."""
    limits = dict(DEFAULT_LIMITS)
    for key, value in (overrides or {}).items():
        if key in limits and isinstance(value, int) and not isinstance(value, bool):
            limits[key] = value
    return limits


def check_limits(values: Mapping[str, object]) -> dict[str, int]:
    """Validate budgets entered by the operator: known keys, whole numbers from 0 to 1,000,000."""
    checked = {}
    for key, value in values.items():
        if key not in DEFAULT_LIMITS:
            raise InvalidRequest("This budget does not exist.", field=key)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_LIMIT:
            raise InvalidRequest("A budget must be a whole number from 0 to 1000000.", field=key)
        checked[key] = value
    return checked


def period_keys(moment: datetime, timezone: str) -> dict[str, str]:
    """The hour and day ``moment`` falls in, in the alliance's time zone."""
    local = moment.astimezone(ZoneInfo(timezone))
    return {HOUR: local.strftime("%Y-%m-%dT%H"), DAY: local.strftime("%Y-%m-%d")}


def subjects_of(action: str, given: Mapping[str, str | None]) -> list[tuple[str, str]]:
    """The (subject kind, value) pairs counted for ``action``: the kinds it counts that were given a value."""
    return [(kind, str(given[kind])[:64]) for kind in SUBJECTS[action] if given.get(kind)]


def alert_reached(count: int, threshold: int) -> bool:
    """True exactly when a count reaches the threshold (so the alert is raised by one request, not each after)."""
    return threshold > 0 and count >= threshold


def mask_subject(kind: str, value: str) -> str:
    """How a subject is shown in an alert's SMS: ids in full (not personal data), an IP address cut short."""
    if kind == IP:
        if ":" in value:
            return ":".join(value.split(":")[:3]) + ":*"
        parts = value.split(".")
        return ".".join(parts[:2] + ["*", "*"]) if len(parts) == 4 else value
    return value
