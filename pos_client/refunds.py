"""Refund a sale by its receipt number, whole or in part, and print the refund slip (online only).

A refund is one logical operation: it is stored in the outbox with its own Idempotency-Key *before* it
is sent, so whatever happens next — a lost answer, a crash, a printer error — trying the same refund
again continues it with the same key and the server answers with the first result; it never refunds twice.
A printer failure after the server refunded is a printer failure: the refund stands and its slip can be
printed again (F8 / ``alliance-pos reprint``, marked 重打).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from pos_client.checkout import LAST_RECEIPT, Checkout
from pos_client.devices.receipt import Receipt
from pos_client.messages import PosError, ServerRefused
from pos_client.outbox import REFUND_DONE, REFUND_FAILED, OutboxRefund
from pos_client.payments import DEFAULT as DEFAULT_PAYMENT
from pos_client.receipts import receipt_from_json, receipt_to_json
from pos_client.server_client import ApiError, ServerUnreachable, new_idempotency_key
from pos_client.sync import send_refund


@dataclass(frozen=True)
class RefundOutcome:
    """A refund the server made: its answer, the slip, and whether the slip printed (refunds stand either way)."""

    refund: dict
    receipt: Receipt
    print_error: PosError | None = None
    replayed: bool = False  # a retry of a refund already made: the first result, nothing refunded again


def find_sale(checkout: Checkout, receipt_no: str) -> dict:
    """The sale with this receipt number, with ``refundable_fen``: the most that can still be refunded."""
    try:
        sale = checkout.client.find_sale(receipt_no.strip())
    except ServerUnreachable as exc:
        raise PosError("refund_needs_server") from exc
    except ApiError as exc:
        raise ServerRefused(exc.code, exc.message) from exc
    if sale is None:
        if checkout.outbox.waiting_with_receipt(receipt_no.strip()):
            raise PosError("offline_receipt_pending")
        raise PosError("receipt_not_found", receipt_no=receipt_no)
    return sale


def needs_authorisation(checkout: Checkout, amount_fen: int) -> bool:
    """True when this merchant wants a supervisor PIN for a refund of this amount (the server checks it)."""
    threshold = ((checkout.info or {}).get("refunds") or {}).get("authorisation_above_fen")
    return threshold is not None and amount_fen > threshold


def refund_by_receipt(
    checkout: Checkout,
    receipt_no: str,
    amount_fen: int | None = None,
    *,
    reason: str,
    payment_method: str = DEFAULT_PAYMENT,
    supervisor_pin: str | None = None,
) -> RefundOutcome:
    """Refund ``amount_fen`` (None: all that is left) of the sale with this receipt number and print the slip.

    If a refund of this receipt is still open (its answer never came, or its slip did not print), this
    continues that one instead of starting another. Raises PosError when nothing was refunded (or the
    outcome is not known yet: ``refund_unknown``); a printer failure comes back in ``print_error``.
    """
    outbox = checkout.outbox
    receipt_no = receipt_no.strip()
    if not reason.strip():
        raise PosError("refund_reason_missing")
    open_refund = outbox.open_refund(receipt_no)
    replayed = open_refund is not None
    if open_refund is None:
        sale = find_sale(checkout, receipt_no)
        body = {"reason": reason.strip(), "payment_method": payment_method}
        if amount_fen is not None:
            body["amount_fen"] = amount_fen
        if supervisor_pin:
            body["supervisor_pin"] = supervisor_pin
        open_refund = outbox.refund(outbox.add_refund(new_idempotency_key(), sale, body))
    if open_refund.state != REFUND_DONE:
        try:
            send_refund(checkout.client, outbox, open_refund)
        except ServerUnreachable as exc:
            raise PosError("refund_unknown") from exc
        except ApiError as exc:
            if outbox.refund(open_refund.seq).state != REFUND_FAILED:  # 5xx, 429...: the outcome is not known
                raise PosError("refund_unknown") from exc
            raise ServerRefused(exc.code, exc.message) from exc
        open_refund = outbox.refund(open_refund.seq)
    receipt = _slip(checkout, open_refund)
    try:
        checkout.print_slip(receipt)
    except PosError as exc:
        return RefundOutcome(
            open_refund.response["refund"],
            receipt,
            PosError("printer_offline_refund", reason=exc.values.get("reason", "")),
            replayed,
        )
    outbox.refund_printed(open_refund.seq)
    return RefundOutcome(open_refund.response["refund"], receipt, None, replayed)


def _slip(checkout: Checkout, refund: OutboxRefund) -> Receipt:
    """The refund slip, made once and kept (a retry or a reprint prints the same slip)."""
    if refund.receipt is not None:
        return receipt_from_json(refund.receipt)
    paid_by = refund.body.get("payment_method", DEFAULT_PAYMENT)
    receipt = checkout.receipts.refund_slip(refund.sale, refund.response["refund"], datetime.now(UTC), paid_by)
    checkout.outbox.keep_refund_receipt(refund.seq, receipt_to_json(receipt), LAST_RECEIPT)
    return receipt
