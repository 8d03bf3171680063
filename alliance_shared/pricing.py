"""Quote a sale: level discount, points redemption within the merchant's cap, points earned.

The one pricing rule: the server prices every quote and sale with it, and the POS prices a sale without
redemption (offline, or to save a round trip) with the same code, so the printed receipt matches the sale.
"""

from __future__ import annotations

from dataclasses import dataclass

from alliance_shared.errors import InsufficientPoints, InvalidRequest, RedeemLimitExceeded
from alliance_shared.money import granted_at_rate, price_at_rate


@dataclass(frozen=True)
class SaleTerms:
    """What applies to one member at one merchant."""

    discount_bp: int
    earn_rate_bp: int
    max_redeem_bp: int
    point_value_fen: int


@dataclass(frozen=True)
class SaleQuote:
    """The parts of a sale; ``amount = discount + redeem_value + payable`` always holds."""

    amount_fen: int
    discount_fen: int
    redeem_points: int
    redeem_value_fen: int
    payable_fen: int
    points_to_earn: int
    max_redeem_points: int


def max_redeemable_points(discounted_fen: int, balance: int, terms: SaleTerms) -> int:
    """The most points the member may spend on a bill of ``discounted_fen``."""
    cap_fen = granted_at_rate(discounted_fen, terms.max_redeem_bp)
    return max(0, min(balance, cap_fen // terms.point_value_fen))


def quote_sale(amount_fen: int, redeem_points: int, balance: int, terms: SaleTerms) -> SaleQuote:
    """Price a sale; raise InsufficientPoints / RedeemLimitExceeded for an impossible redemption."""
    if redeem_points < 0:
        raise InvalidRequest("Points to redeem cannot be negative.", field="redeem_points")
    discounted = price_at_rate(amount_fen, terms.discount_bp)
    max_points = max_redeemable_points(discounted, balance, terms)
    if redeem_points > balance:
        raise InsufficientPoints(balance=balance, requested=redeem_points)
    if redeem_points > max_points:
        raise RedeemLimitExceeded(max_redeem_points=max_points, requested=redeem_points)
    redeem_value = redeem_points * terms.point_value_fen
    payable = discounted - redeem_value
    earned = granted_at_rate(payable, terms.earn_rate_bp) // terms.point_value_fen
    return SaleQuote(
        amount_fen=amount_fen,
        discount_fen=amount_fen - discounted,
        redeem_points=redeem_points,
        redeem_value_fen=redeem_value,
        payable_fen=payable,
        points_to_earn=earned,
        max_redeem_points=max_points,
    )
