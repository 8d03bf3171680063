"""Refund a sale by its receipt number, whole or in part, and print the refund receipt (online only)."""

from __future__ import annotations

from datetime import UTC, datetime

from pos_client.checkout import Checkout
from pos_client.devices.receipt import Receipt, RefundInfo
from pos_client.messages import PosError, ServerRefused
from pos_client.server_client import ApiError, ServerUnreachable, new_idempotency_key


def refund_by_receipt(checkout: Checkout, receipt_no: str, amount_fen: int | None = None) -> tuple[dict, Receipt]:
    """Refund ``amount_fen`` (None: all that is left) of the sale with this receipt number; print the receipt.

    The request is stored with its key before it is sent, so a retry after a lost answer refunds once.
    Returns the server's refund and the receipt; a printer failure raises PosError after the refund is done.
    """
    client, outbox = checkout.client, checkout.outbox
    try:
        sale = client.find_sale(receipt_no.strip())
        if sale is None:
            raise PosError("receipt_not_found", receipt_no=receipt_no)
        key = new_idempotency_key()
        seq = outbox.add_refund(key, sale["receipt_no"], sale["id"], amount_fen)
        response = client.refund(sale["id"], amount_fen, key)
    except ServerUnreachable as exc:
        raise PosError("refund_needs_server") from exc
    except ApiError as exc:
        raise ServerRefused(exc.code, exc.message) from exc
    outbox.refund_done(seq, response)
    refund = response["refund"]
    receipt = Receipt(
        **checkout.shop_header(),
        receipt_no=sale["receipt_no"],
        time=datetime.now(UTC).astimezone(),
        amount_fen=sale["amount_fen"],
        discount_fen=sale["discount_fen"],
        redeem_points=sale["redeem_points"],
        redeem_value_fen=sale["redeem_value_fen"],
        payable_fen=sale["payable_fen"],
        points_balance=refund["points_balance"],
        level_name=sale["level"]["name"],
        refund=RefundInfo(refund["amount_fen"], refund["points_reversed"], refund["points_restored"]),
    )
    checkout._print(receipt)
    return refund, receipt
