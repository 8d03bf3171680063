"""Rate limits on logins and code verification (Flask-Limiter's storage: memory, or Redis shared by workers).

Limits are checked in the views with keys that need the parsed request (the phone number, the terminal,
the member's device), so the views call :func:`enforce` rather than decorating whole routes. Per-IP keys use
Flask-Limiter's ``get_remote_address``: behind a proxy, configure ProxyFix so it is the client's address.
"""

from __future__ import annotations

import math
import time

from flask import Flask, current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits import parse_many
from limits.storage import MemoryStorage
from werkzeug.exceptions import TooManyRequests

from server.security.pii import keyed_hash

limiter = Limiter(key_func=get_remote_address, default_limits=[])


class SweptMemoryStorage(MemoryStorage):
    """``memory-swept://``: limits' memory storage without a timer thread per hit.

    ``MemoryStorage`` (limits 5.8) starts a ``threading.Timer(0.01)`` on every hit whose previous timer
    already fired, i.e. one OS thread per request when requests are more than 10 ms apart. Its ``get``
    already drops an expired counter when read; here the full sweep of expired counters and moving-window
    entries runs inline, at most once a second, instead of in those threads. (Like ``memory://`` it counts
    per process: with several workers use Redis.)
    """

    STORAGE_SCHEME = ["memory-swept"]
    SWEEP_SECONDS = 1.0

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self._swept_at = time.monotonic()

    def _MemoryStorage__schedule_expiry(self) -> None:  # replaces the timer of MemoryStorage's hits
        now = time.monotonic()
        if now - self._swept_at >= self.SWEEP_SECONDS:
            self._swept_at = now
            expire = getattr(self, "_MemoryStorage__expire_events", None)  # private in limits: may go away
            if expire is not None:  # without it, expired counters are still dropped when read
                expire()


# What each action may do per key, as limits strings ("5/minute;20/hour" = both apply). A deployment (or a
# benchmark, or a test that compresses a day into seconds) overrides some with the RATE_LIMITS setting.
LIMITS = {
    "login_code:phone": "1/minute;5/hour;10/day",
    "login_code:ip": "30/hour",
    "login_code:device": "10/hour",
    "login:phone": "10/hour",
    "login:ip": "60/hour",
    "card_bind:member": "10/hour",
    "identify:terminal": "120/minute",
    "identify_phone:terminal": "10/minute;100/hour",
    "identify_phone:member": "5/minute;30/hour",
    "proof_code:terminal": "10/minute;60/hour",
    "proof_code:member": "1/minute;5/hour;10/day",
    "refund_pin:merchant": "5/10minute;20/day",  # wrong supervisor PINs only
    "card_bind:terminal": "30/minute;500/day",  # cards handed out at one till (a stolen token binds no stock)
    "benefit_reveal:member": "30/minute;200/day",  # codes opened in full in the wallet (each one audited)
    "benefit_claim:member": "10/minute;100/day",  # campaign claims from the H5 page
    "voucher_code:member": "20/minute;3000/day",  # one-time voucher codes refreshed in the wallet (every 30 s)
    "benefit_claim_code:member": "1/minute;5/hour;10/day",  # SMS codes of high-value claims
    "partner_grant:ip": "600/minute",  # signed partner requests (a bad signature is refused before any work)
}


class RateLimited(TooManyRequests):
    """429 in the project's error shape (``rate_limited``) with ``Retry-After`` in seconds."""

    def __init__(self, retry_after: int):
        super().__init__("Too many requests; try again later.")
        self.retry_after = retry_after
        self.data = {"message": "Too many requests; try again later.", "headers": {"Retry-After": str(retry_after)}}


def init_rate_limits(app: Flask) -> None:
    """Bind the limiter to the app (storage from RATELIMIT_STORAGE_URI)."""
    limiter.init_app(app)


def _digest(value: str) -> str:
    # keys in shared storage carry no phone numbers, not even as a plain hash (11 digits are quickly guessed)
    return keyed_hash(value)[:32]


def limits_of(action: str):
    """The limits of ``action``: the RATE_LIMITS setting's, else the default above."""
    return parse_many(current_app.config["RATE_LIMITS"].get(action, LIMITS[action]))


def _check(action: str, value: str | None, *, count: bool) -> None:
    """Raise RateLimited when ``value`` is over a limit of ``action``; ``count`` this request as one more."""
    if not value or not limiter.enabled:
        return
    strategy = limiter.limiter
    key = _digest(f"{action}:{value}")
    for item in limits_of(action):
        allowed = strategy.hit(item, "alliance", action, key) if count else strategy.test(item, "alliance", action, key)
        if not allowed:
            reset_at, _ = strategy.get_window_stats(item, "alliance", action, key)
            raise RateLimited(max(1, math.ceil(reset_at - time.time())))


def enforce(action: str, value: str | None) -> None:
    """Count one request of ``action`` for ``value`` (phone, IP, device...); raise RateLimited when over."""
    _check(action, value, count=True)


def check_failures(action: str, value: str) -> None:
    """Raise RateLimited if ``value`` already used up its failures of ``action`` (counted by count_failure)."""
    _check(action, value, count=False)


def count_failure(action: str, value: str) -> None:
    """Count one failed attempt of ``action`` for ``value`` (a wrong PIN), checked by check_failures."""
    if not value or not limiter.enabled:
        return
    key = _digest(f"{action}:{value}")
    for item in limits_of(action):
        limiter.limiter.hit(item, "alliance", action, key)
