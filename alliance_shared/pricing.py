"""Quote a sale: level discount, an alliance voucher, points redemption within the merchant's cap, points earned.

The one pricing rule: the server prices every quote and sale with it, and the POS prices a sale without
redemption (offline, or to save a round trip) with the same code, so the printed receipt matches the sale.

The order of application (docs/terminal-api.md, docs/benefits.md):

1. the level discount on the amount;
2. the voucher (``VoucherTerms``), on what the discount left: its minimum spend is checked against that
   amount, and its value never exceeds it;
3. points, within the merchant's redemption cap on what the voucher left;
4. payable is the rest; points are earned on payable.

``amount = discount + voucher + redeem_value + payable`` always holds. Vouchers are never redeemed offline.
"""

from __future__ import annotations

from dataclasses import dataclass

from alliance_shared.errors import InsufficientPoints, InvalidRequest, RedeemLimitExceeded, VoucherMinSpend
from alliance_shared.money import granted_at_rate, price_at_rate


@dataclass(frozen=True)
class SaleTerms:
    """What applies to one member at one merchant."""

    discount_bp: int
    earn_rate_bp: int
    max_redeem_bp: int
    point_value_fen: int


VOUCHER_CASH = "voucher_cash"  # 代金券: face value off
VOUCHER_THRESHOLD = "voucher_threshold"  # 满减券: spend min_spend, face value off
VOUCHER_PERCENT = "voucher_percent"  # 折扣券: discount_bp off, at most max_off
VOUCHER_ITEM = "voucher_item"  # 兑换券: the named item, worth at most its face value


@dataclass(frozen=True)
class VoucherTerms:
    """What one alliance voucher takes off a bill (the kinds above; fields a kind does not use are 0)."""

    kind: str
    face_value_fen: int = 0
    min_spend_fen: int = 0
    discount_bp: int = 0
    max_off_fen: int = 0


def voucher_value(after_discount_fen: int, voucher: VoucherTerms) -> int:
    """The voucher's value on a bill of ``after_discount_fen`` (the level discount taken off already).

    Raises ``VoucherMinSpend`` below its minimum spend; the value never exceeds the bill.
    """
    if after_discount_fen < voucher.min_spend_fen:
        raise VoucherMinSpend(min_spend_fen=voucher.min_spend_fen, amount_fen=after_discount_fen)
    if voucher.kind == VOUCHER_PERCENT:
        off = granted_at_rate(after_discount_fen, voucher.discount_bp)
        if voucher.max_off_fen:
            off = min(off, voucher.max_off_fen)
    else:  # cash, threshold and item: the face value
        off = voucher.face_value_fen
    return max(0, min(off, after_discount_fen))


@dataclass(frozen=True)
class SaleQuote:
    """The parts of a sale; ``amount = discount + voucher + redeem_value + payable`` always holds."""

    amount_fen: int
    discount_fen: int
    redeem_points: int
    redeem_value_fen: int
    payable_fen: int
    points_to_earn: int
    max_redeem_points: int
    voucher_fen: int = 0


def max_redeemable_points(discounted_fen: int, balance: int, terms: SaleTerms) -> int:
    """The most points the member may spend on a bill of ``discounted_fen``."""
    cap_fen = granted_at_rate(discounted_fen, terms.max_redeem_bp)
    return max(0, min(balance, cap_fen // terms.point_value_fen))


def quote_sale(
    amount_fen: int, redeem_points: int, balance: int, terms: SaleTerms, voucher: VoucherTerms | None = None
) -> SaleQuote:
    """Price a sale in the order of application above.

    Raises InsufficientPoints / RedeemLimitExceeded for an impossible redemption, VoucherMinSpend for a
    voucher whose minimum spend the discounted bill does not reach.
    """
    if redeem_points < 0:
        raise InvalidRequest("Points to redeem cannot be negative.", field="redeem_points")
    discounted = price_at_rate(amount_fen, terms.discount_bp)
    voucher_fen = voucher_value(discounted, voucher) if voucher is not None else 0
    after_voucher = discounted - voucher_fen
    max_points = max_redeemable_points(after_voucher, balance, terms)
    if redeem_points > balance:
        raise InsufficientPoints(balance=balance, requested=redeem_points)
    if redeem_points > max_points:
        raise RedeemLimitExceeded(max_redeem_points=max_points, requested=redeem_points)
    redeem_value = redeem_points * terms.point_value_fen
    payable = after_voucher - redeem_value
    earned = granted_at_rate(payable, terms.earn_rate_bp) // terms.point_value_fen
    return SaleQuote(
        amount_fen=amount_fen,
        discount_fen=amount_fen - discounted,
        redeem_points=redeem_points,
        redeem_value_fen=redeem_value,
        payable_fen=payable,
        points_to_earn=earned,
        max_redeem_points=max_points,
        voucher_fen=voucher_fen,
    )
