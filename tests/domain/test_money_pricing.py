"""Money rounding and sale quotes: integer fen, basis points, parts that always add up."""

from __future__ import annotations

from fractions import Fraction
from math import floor

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from alliance_shared.money import MAX_AMOUNT_FEN, check_fen, format_yuan, granted_at_rate, price_at_rate
from alliance_shared.pricing import SaleTerms, max_redeemable_points, quote_sale
from server.domain.errors import InsufficientPoints, RedeemLimitExceeded

amounts = st.integers(min_value=0, max_value=MAX_AMOUNT_FEN)
rates = st.integers(min_value=0, max_value=10_000)


# --- money -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "rate", "expected"),
    [
        (10_000, 9_000, 9_000),  # 九折 of 100 元
        (105, 5_000, 53),  # 52.5 -> 53: half goes up
        (15, 9_000, 14),  # 13.5 -> 14
        (14, 9_000, 13),  # 12.6 -> 13
        (11, 9_000, 10),  # 9.9 -> 10
        (1, 5_000, 1),  # 0.5 -> 1
        (1, 4_999, 0),  # 0.4999 -> 0
        (3, 8_333, 2),  # 2.4999 -> 2
        (0, 9_000, 0),
        (12_345, 10_000, 12_345),
        (12_345, 0, 0),
    ],
)
def test_price_at_rate_rounds_half_up(amount, rate, expected):
    assert price_at_rate(amount, rate) == expected


@pytest.mark.parametrize(
    ("amount", "rate", "expected"),
    [
        (199, 100, 1),  # 1.99 -> 1: a rate never grants more than it says
        (100, 100, 1),
        (99, 100, 0),
        (1, 5_000, 0),  # 0.5 -> 0, where price_at_rate gives 1
        (105, 5_000, 52),
        (9_000, 5_000, 4_500),
        (0, 10_000, 0),
    ],
)
def test_granted_at_rate_rounds_down(amount, rate, expected):
    assert granted_at_rate(amount, rate) == expected


@given(amounts, rates)
def test_rounding_matches_exact_fractions(amount, rate):
    exact = Fraction(amount * rate, 10_000)
    assert price_at_rate(amount, rate) == floor(exact + Fraction(1, 2))
    assert granted_at_rate(amount, rate) == floor(exact)
    assert 0 <= price_at_rate(amount, rate) - granted_at_rate(amount, rate) <= 1
    assert granted_at_rate(amount, rate) <= amount


@pytest.mark.parametrize("bad", [1.0, 100.5, True, False, -1, -10_000, "100", None, Fraction(1, 1)])
def test_check_fen_rejects_everything_but_non_negative_ints(bad):
    with pytest.raises(ValueError, match="amount_fen"):
        check_fen(bad)


@pytest.mark.parametrize("bad", [1.0, True, -1])
def test_rounding_functions_refuse_non_fen(bad):
    with pytest.raises(ValueError):
        price_at_rate(bad, 9_000)
    with pytest.raises(ValueError):
        granted_at_rate(bad, 9_000)


def test_check_fen_accepts_and_names_the_field():
    assert check_fen(0) == 0
    assert check_fen(MAX_AMOUNT_FEN) == MAX_AMOUNT_FEN
    with pytest.raises(ValueError, match="redeem_value_fen"):
        check_fen(-5, "redeem_value_fen")


@pytest.mark.parametrize(
    ("fen", "text"), [(12_800, "128.00"), (5, "0.05"), (0, "0.00"), (-1_234, "-12.34"), (100_000_001, "1000000.01")]
)
def test_format_yuan(fen, text):
    assert format_yuan(fen) == text


# --- pricing ---------------------------------------------------------------------------------------

TERMS = SaleTerms(discount_bp=9_000, earn_rate_bp=100, max_redeem_bp=5_000, point_value_fen=1)


def test_quote_nine_tenths_discount_redeem_and_earn():
    quote = quote_sale(10_000, 300, balance=500, terms=TERMS)
    assert quote.amount_fen == 10_000
    assert quote.discount_fen == 1_000  # 九折
    assert quote.redeem_points == 300
    assert quote.redeem_value_fen == 300
    assert quote.payable_fen == 8_700
    assert quote.points_to_earn == 87  # 1% of what is paid in money
    assert quote.max_redeem_points == 500  # balance is below the 4500 fen cap
    assert quote.amount_fen == quote.discount_fen + quote.redeem_value_fen + quote.payable_fen


def test_quote_without_points_earns_on_the_discounted_price():
    quote = quote_sale(12_345, 0, balance=0, terms=TERMS)
    assert (quote.discount_fen, quote.payable_fen, quote.points_to_earn, quote.max_redeem_points) == (
        1_234,
        11_111,
        111,
        0,
    )


def test_max_redeem_is_capped_by_merchant_share():
    quote = quote_sale(10_000, 0, balance=1_000_000, terms=TERMS)
    assert quote.max_redeem_points == 4_500  # 50% of the discounted 9000 fen
    full = quote_sale(10_000, 4_500, balance=1_000_000, terms=TERMS)
    assert full.payable_fen == 4_500
    assert full.redeem_value_fen == 4_500
    with pytest.raises(RedeemLimitExceeded) as caught:
        quote_sale(10_000, 4_501, balance=1_000_000, terms=TERMS)
    assert caught.value.details == {"max_redeem_points": 4_500, "requested": 4_501}


def test_max_redeem_is_capped_by_balance():
    assert max_redeemable_points(9_000, 120, TERMS) == 120
    assert max_redeemable_points(9_000, 0, TERMS) == 0
    with pytest.raises(InsufficientPoints) as caught:
        quote_sale(10_000, 121, balance=120, terms=TERMS)
    assert caught.value.details == {"balance": 120, "requested": 121}


def test_insufficient_points_wins_over_redeem_limit():
    # 5000 points exceed both the balance (100) and the cap (4500): the member hears about the balance.
    with pytest.raises(InsufficientPoints):
        quote_sale(10_000, 5_000, balance=100, terms=TERMS)


def test_merchant_that_accepts_no_points():
    terms = SaleTerms(discount_bp=10_000, earn_rate_bp=200, max_redeem_bp=0, point_value_fen=1)
    assert quote_sale(10_000, 0, balance=900, terms=terms).max_redeem_points == 0
    with pytest.raises(RedeemLimitExceeded):
        quote_sale(10_000, 1, balance=900, terms=terms)


def test_point_worth_several_fen():
    terms = SaleTerms(discount_bp=9_500, earn_rate_bp=1_000, max_redeem_bp=3_000, point_value_fen=5)
    # discounted 9500; cap 2850 fen -> 570 points of 5 fen
    quote = quote_sale(10_000, 100, balance=10_000, terms=terms)
    assert quote.discount_fen == 500
    assert quote.max_redeem_points == 570
    assert quote.redeem_value_fen == 500
    assert quote.payable_fen == 9_000
    assert quote.points_to_earn == 180  # 10% of 9000 fen = 900 fen = 180 points
    with pytest.raises(RedeemLimitExceeded):
        quote_sale(10_000, 571, balance=10_000, terms=terms)
    # the cap rounds down to whole points: 2851 fen of cap still allows 570 points
    assert max_redeemable_points(9_504, 10_000, terms) == 570


def test_earned_points_round_down_to_whole_points():
    terms = SaleTerms(discount_bp=10_000, earn_rate_bp=100, max_redeem_bp=5_000, point_value_fen=3)
    # 1% of 1000 fen = 10 fen = 3 whole points of 3 fen
    assert quote_sale(1_000, 0, balance=0, terms=terms).points_to_earn == 3


terms_strategy = st.builds(
    SaleTerms,
    discount_bp=st.integers(min_value=1, max_value=10_000),
    earn_rate_bp=rates,
    max_redeem_bp=rates,
    point_value_fen=st.integers(min_value=1, max_value=100),
)


@given(
    amount=st.integers(min_value=1, max_value=MAX_AMOUNT_FEN),
    balance=st.integers(min_value=0, max_value=10**9),
    terms=terms_strategy,
    share=st.fractions(min_value=0, max_value=1),
)
def test_quote_parts_always_add_up(amount, balance, terms, share):
    max_points = quote_sale(amount, 0, balance, terms).max_redeem_points
    redeem = floor(max_points * share)
    quote = quote_sale(amount, redeem, balance, terms)
    assert quote.amount_fen == quote.discount_fen + quote.redeem_value_fen + quote.payable_fen
    assert min(quote.discount_fen, quote.redeem_value_fen, quote.payable_fen, quote.points_to_earn) >= 0
    assert quote.max_redeem_points == max_points <= balance
    assert quote.discount_fen == amount - price_at_rate(amount, terms.discount_bp)
    # points never pay more than the merchant's share of the discounted bill
    assert quote.redeem_value_fen <= granted_at_rate(amount - quote.discount_fen, terms.max_redeem_bp)
    # the member never earns more than the rate grants on what they paid in money
    assert quote.points_to_earn * terms.point_value_fen <= quote.payable_fen * terms.earn_rate_bp // 10_000


@given(
    amount=st.integers(min_value=1, max_value=10**7),
    balance=st.integers(min_value=0, max_value=10**6),
    terms=terms_strategy,
    redeem=st.integers(min_value=0, max_value=10**7),
)
def test_impossible_redemptions_are_refused_with_the_right_error(amount, balance, terms, redeem):
    max_points = quote_sale(amount, 0, balance, terms).max_redeem_points
    assume(redeem > max_points)
    expected = InsufficientPoints if redeem > balance else RedeemLimitExceeded
    with pytest.raises(expected):
        quote_sale(amount, redeem, balance, terms)


# --- vouchers: after the level discount, before points ---------------------------------------------


def test_each_voucher_kind_takes_its_value_off_the_discounted_bill_never_more_than_it():
    from alliance_shared.pricing import VoucherTerms, voucher_value
    from server.domain.errors import VoucherMinSpend

    assert voucher_value(9_000, VoucherTerms("voucher_cash", face_value_fen=1_000)) == 1_000
    assert voucher_value(600, VoucherTerms("voucher_cash", face_value_fen=1_000)) == 600  # never above the bill
    assert voucher_value(9_999, VoucherTerms("voucher_percent", discount_bp=1_000, max_off_fen=5_000)) == 999
    assert voucher_value(90_000, VoucherTerms("voucher_percent", discount_bp=1_000, max_off_fen=5_000)) == 5_000
    assert voucher_value(3_000, VoucherTerms("voucher_item", face_value_fen=1_800)) == 1_800
    with pytest.raises(VoucherMinSpend) as below:
        voucher_value(9_999, VoucherTerms("voucher_threshold", face_value_fen=1_000, min_spend_fen=10_000))
    assert below.value.details == {"min_spend_fen": 10_000, "amount_fen": 9_999}


@given(
    amount=amounts,
    discount=st.integers(min_value=5_000, max_value=10_000),
    face=st.integers(min_value=0, max_value=100_000),
    balance=st.integers(min_value=0, max_value=10**6),
)
def test_with_a_voucher_the_parts_still_add_up_and_points_are_capped_on_what_it_left(amount, discount, face, balance):
    from alliance_shared.pricing import VoucherTerms

    terms = SaleTerms(discount_bp=discount, earn_rate_bp=100, max_redeem_bp=5_000, point_value_fen=1)
    voucher = VoucherTerms("voucher_cash", face_value_fen=face)
    most = quote_sale(amount, 0, balance, terms, voucher).max_redeem_points
    quote = quote_sale(amount, most, balance, terms, voucher)
    assert quote.amount_fen == quote.discount_fen + quote.voucher_fen + quote.redeem_value_fen + quote.payable_fen
    assert quote.voucher_fen == min(face, amount - quote.discount_fen)
    assert quote.redeem_value_fen <= granted_at_rate(amount - quote.discount_fen - quote.voucher_fen, 5_000)
    assert quote.payable_fen >= 0
