"""Refund splitting: earned points go back and redeemed points come back in proportion, exactly."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.domain.errors import InvalidRequest, RefundExceedsSale
from server.domain.refunds import RefundSplit, SaleRefundState, split_refund

SALE = SaleRefundState(
    payable_fen=10_000, points_earned=100, redeem_points=300, refunded_fen=0, points_reversed=0, points_restored=0
)


def apply(sale: SaleRefundState, split: RefundSplit) -> SaleRefundState:
    """The sale after the refund (what the service stores)."""
    return replace(
        sale,
        refunded_fen=sale.refunded_fen + split.amount_fen,
        points_reversed=sale.points_reversed + split.points_reversed,
        points_restored=sale.points_restored + split.points_restored,
    )


def test_whole_refund_returns_everything():
    assert split_refund(SALE, None) == RefundSplit(
        amount_fen=10_000, points_reversed=100, points_restored=300, completes=True
    )


def test_partial_refund_is_proportional_and_rounds_down():
    assert split_refund(SALE, 2_500) == RefundSplit(2_500, 25, 75)
    assert split_refund(SALE, 333) == RefundSplit(333, 3, 9)  # 3.33 and 9.99 round down
    assert split_refund(SALE, 1) == RefundSplit(1, 0, 0)


def test_rest_after_partials_returns_exactly_what_is_left():
    sale = SALE
    for amount in (333, 333, 333):
        sale = apply(sale, split_refund(sale, amount))
    assert (sale.refunded_fen, sale.points_reversed, sale.points_restored) == (999, 9, 29)
    rest = split_refund(sale, None)
    assert rest == RefundSplit(amount_fen=9_001, points_reversed=91, points_restored=271, completes=True)
    sale = apply(sale, rest)
    assert (sale.refunded_fen, sale.points_reversed, sale.points_restored) == (10_000, 100, 300)


def test_cumulative_rounding_never_loses_a_point():
    # Refunding 1 fen at a time: each step alone rounds to 0, the cumulative share still moves.
    sale = SaleRefundState(
        payable_fen=7, points_earned=3, redeem_points=5, refunded_fen=0, points_reversed=0, points_restored=0
    )
    steps = []
    for _ in range(7):
        split = split_refund(sale, 1)
        steps.append((split.points_reversed, split.points_restored))
        sale = apply(sale, split)
    assert steps == [(0, 0), (0, 1), (1, 1), (0, 0), (1, 1), (0, 1), (1, 1)]
    assert (sale.points_reversed, sale.points_restored) == (3, 5)


def test_refund_over_the_rest_raises():
    with pytest.raises(RefundExceedsSale) as caught:
        split_refund(SALE, 10_001)
    assert caught.value.details == {"remaining_fen": 10_000, "requested_fen": 10_001}
    partly = apply(SALE, split_refund(SALE, 6_000))
    with pytest.raises(RefundExceedsSale):
        split_refund(partly, 4_001)
    assert split_refund(partly, 4_000).amount_fen == 4_000


def test_refund_of_a_fully_refunded_sale_raises():
    done = apply(SALE, split_refund(SALE, None))
    with pytest.raises(RefundExceedsSale) as caught:
        split_refund(done, None)
    assert caught.value.details == {"remaining_fen": 0}
    with pytest.raises(RefundExceedsSale):
        split_refund(done, 1)


@pytest.mark.parametrize("amount", [0, -1, -10_000])
def test_non_positive_amount_is_invalid(amount):
    with pytest.raises(InvalidRequest) as caught:
        split_refund(SALE, amount)
    assert caught.value.details == {"field": "amount_fen"}


def test_sale_paid_entirely_with_points():
    # Nothing was paid in money: refunding "the rest" gives back every point once.
    sale = SaleRefundState(
        payable_fen=0, points_earned=0, redeem_points=4_500, refunded_fen=0, points_reversed=0, points_restored=0
    )
    split = split_refund(sale, None)
    assert split == RefundSplit(amount_fen=0, points_reversed=0, points_restored=4_500, completes=True)
    with pytest.raises(RefundExceedsSale):
        split_refund(apply(sale, split), None)
    with pytest.raises(RefundExceedsSale):
        split_refund(sale, 1)


def test_free_sale_without_points_cannot_be_refunded():
    sale = SaleRefundState(
        payable_fen=0, points_earned=0, redeem_points=0, refunded_fen=0, points_reversed=0, points_restored=0
    )
    with pytest.raises(RefundExceedsSale):
        split_refund(sale, None)


@st.composite
def sale_and_refunds(draw):
    payable = draw(st.integers(min_value=1, max_value=10**7))
    state = SaleRefundState(
        payable_fen=payable,
        points_earned=draw(st.integers(min_value=0, max_value=10**6)),
        redeem_points=draw(st.integers(min_value=0, max_value=10**6)),
        refunded_fen=0,
        points_reversed=0,
        points_restored=0,
    )
    amounts = draw(st.lists(st.integers(min_value=1, max_value=payable), max_size=12))
    return state, amounts


@given(sale_and_refunds())
def test_partial_refunds_sum_exactly_to_the_totals(case):
    sale, amounts = case
    original = sale
    for amount in amounts:
        remaining = sale.payable_fen - sale.refunded_fen
        if amount > remaining:
            with pytest.raises(RefundExceedsSale):
                split_refund(sale, amount)
            continue
        split = split_refund(sale, amount)
        assert split.amount_fen == amount
        assert split.points_reversed >= 0 and split.points_restored >= 0
        sale = apply(sale, split)
        # cumulative shares are the exact proportion, rounded down
        assert sale.points_reversed == original.points_earned * sale.refunded_fen // original.payable_fen
        assert sale.points_restored == original.redeem_points * sale.refunded_fen // original.payable_fen
    if sale.refunded_fen < sale.payable_fen:
        sale = apply(sale, split_refund(sale, None))
    assert sale.refunded_fen == original.payable_fen
    assert sale.points_reversed == original.points_earned
    assert sale.points_restored == original.redeem_points
    with pytest.raises(RefundExceedsSale):
        split_refund(sale, None)


def test_a_voucher_splits_with_the_money_cumulatively_and_only_the_last_refund_completes_the_sale():
    sale = replace(SALE, voucher_fen=1_000)  # paid 10_000, with a 1_000 voucher
    shares = []
    for amount in (3_333, 3_333, None):
        split = split_refund(sale, amount)
        shares.append((split.voucher_fen, split.completes))
        sale = replace(apply(sale, split), voucher_refunded_fen=sale.voucher_refunded_fen + split.voucher_fen)
    assert shares == [(333, False), (333, False), (334, True)]
    # a sale paid entirely by its voucher: the refund of nothing still returns the voucher's value
    whole = split_refund(SaleRefundState(0, 0, 0, 0, 0, 0, voucher_fen=500), None)
    assert (whole.amount_fen, whole.voucher_fen, whole.completes) == (0, 500, True)
