"""Split a refund into the points it reverses (earned) and restores (redeemed), and its share of the sale's
voucher value, proportionally.

Every share is cumulative, rounded down, from the money refunded so far over the money paid (payable):
after the last refund exactly the whole has moved, whatever the parts. The voucher's refunded share reduces
what its funder owes the merchant; the voucher itself goes back to the member only with the refund that
completes the sale (``RefundSplit.completes``), and only if the SKU allows it and the code is still valid.
"""

from __future__ import annotations

from dataclasses import dataclass

from server.domain.errors import InvalidRequest, RefundExceedsSale


@dataclass(frozen=True)
class SaleRefundState:
    """What a sale granted and how much of it was already refunded."""

    payable_fen: int
    points_earned: int
    redeem_points: int
    refunded_fen: int
    points_reversed: int
    points_restored: int
    voucher_fen: int = 0  # the value of the voucher the sale redeemed
    voucher_refunded_fen: int = 0  # its share refunded so far


@dataclass(frozen=True)
class RefundSplit:
    """One refund: money returned, its points and its share of the voucher; whether it completes the sale."""

    amount_fen: int
    points_reversed: int
    points_restored: int
    voucher_fen: int = 0
    completes: bool = False


def _share(total: int, part_fen: int, whole_fen: int) -> int:
    # Cumulative share, rounded down: after the last refund exactly ``total`` has moved.
    return total if part_fen >= whole_fen else total * part_fen // whole_fen


def split_refund(sale: SaleRefundState, amount_fen: int | None) -> RefundSplit:
    """The refund of ``amount_fen`` (None: the whole rest) with its proportional points."""
    remaining = sale.payable_fen - sale.refunded_fen
    fully_refunded = (
        sale.refunded_fen >= sale.payable_fen
        and sale.points_restored >= sale.redeem_points
        and sale.voucher_refunded_fen >= sale.voucher_fen
    )
    if amount_fen is None:
        if fully_refunded:
            raise RefundExceedsSale("The sale is already fully refunded.", remaining_fen=0)
        amount_fen = remaining
    elif amount_fen <= 0:
        raise InvalidRequest("A refund amount must be at least 1 fen.", field="amount_fen")
    elif amount_fen > remaining:
        raise RefundExceedsSale(remaining_fen=remaining, requested_fen=amount_fen)
    refunded_after = sale.refunded_fen + amount_fen
    if sale.payable_fen == 0:
        reversed_after, restored_after, voucher_after = sale.points_earned, sale.redeem_points, sale.voucher_fen
    else:
        reversed_after = _share(sale.points_earned, refunded_after, sale.payable_fen)
        restored_after = _share(sale.redeem_points, refunded_after, sale.payable_fen)
        voucher_after = _share(sale.voucher_fen, refunded_after, sale.payable_fen)
    return RefundSplit(
        amount_fen=amount_fen,
        points_reversed=reversed_after - sale.points_reversed,
        points_restored=restored_after - sale.points_restored,
        voucher_fen=voucher_after - sale.voucher_refunded_fen,
        completes=refunded_after >= sale.payable_fen,
    )
