"""Refusals of the shared rules, each carrying the stable API error code and HTTP status.

``DomainError`` is the base of every business-rule refusal (the server's others are in
``server/domain/errors.py``, which lists these too); the API answers one in its JSON error shape with
``code`` and ``status``, the message is an English msgid translated by the server's catalog.
"""

from __future__ import annotations


class DomainError(Exception):
    """A business rule refused the request; nothing was changed (unless ``keeps_changes``)."""

    code = "invalid_request"
    status = 422
    default_message = "The request is not valid."
    keeps_changes = False  # True: the refusal itself is recorded (e.g. a suspected clone is blocked)

    def __init__(self, message: str | None = None, **details):
        super().__init__(message or self.default_message)
        self.message = message or self.default_message
        self.details = details


class InvalidRequest(DomainError):
    code, status, default_message = "invalid_request", 422, "The request is not valid."


class InsufficientPoints(DomainError):
    code, status, default_message = "insufficient_points", 409, "The member does not have enough points."


class RedeemLimitExceeded(DomainError):
    code, status, default_message = (
        "redeem_limit_exceeded",
        409,
        "Points may not pay this much of the bill at this merchant.",
    )


class VoucherInvalid(DomainError):
    """One answer for every voucher a till cannot use: unknown, used, expired, void, another member's, not
    accepted at this merchant, so a guess tells nothing about which codes exist."""

    code, status, default_message = "voucher_invalid", 422, "This voucher cannot be used here."


class VoucherMinSpend(DomainError):
    code, status, default_message = (
        "voucher_min_spend",
        422,
        "The bill after the member's discount does not reach the voucher's minimum spend.",
    )


class VoucherOffline(DomainError):
    code, status, default_message = "voucher_offline", 422, "Vouchers are never redeemed offline."
