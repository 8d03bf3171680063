"""The one receipt builder (sale as quoted, sale as recorded, refund slip), the outbox's receipt form, and the
POS pricing a sale with the server's own rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alliance_shared.money import MAX_AMOUNT_FEN
from alliance_shared.pricing import SaleTerms, quote_sale
from pos_client.checkout import Member, Quote
from pos_client.devices.receipt import RefundInfo
from pos_client.money import TILL_MAX_AMOUNT_FEN, AmountError, parse_amount
from pos_client.receipts import OFFLINE_RECEIPT_NO, ReceiptBuilder, receipt_from_json, receipt_to_json

CST = timezone(timedelta(hours=8))
SHOP = {"merchant_name": "老王火锅", "merchant_address": "人民南路18号", "terminal_name": "1号收银台"}
WHEN = datetime(2026, 11, 22, 1, 30, tzinfo=UTC)
SALE = {
    "id": "sal_1",
    "receipt_no": "0007-000123",
    "payment_method": "wechat",
    "amount_fen": 12800,
    "discount_fen": 1280,
    "redeem_points": 100,
    "redeem_value_fen": 100,
    "payable_fen": 11420,
    "points_earned": 114,
    "points_balance": 1234,
    "level": {"name": "金卡"},
}
MEMBER = Member("张*丰", "金卡", discount_bp=9000, points_balance=1220, masked_phone="138****5678")


def builder() -> ReceiptBuilder:
    return ReceiptBuilder(SHOP, CST, "https://alliance.example.cn")


def test_a_recorded_sale_has_the_servers_figures_in_the_alliances_time():
    receipt = builder().recorded_sale(MEMBER, SALE, WHEN, "cash")
    assert receipt.merchant_name == "老王火锅" and receipt.terminal_name == "1号收银台"
    assert receipt.time == datetime(2026, 11, 22, 9, 30, tzinfo=CST) and receipt.time.utcoffset() == timedelta(hours=8)
    assert (receipt.amount_fen, receipt.payable_fen, receipt.points_balance) == (12800, 11420, 1234)
    assert receipt.payment_method == "wechat" and receipt.member_phone == "138****5678"
    assert receipt.ereceipt_url == "https://alliance.example.cn/m/sales/sal_1" and not receipt.offline


def test_a_quoted_sale_has_no_balance_and_an_offline_one_without_a_number_says_so():
    quote = Quote(12800, 1280, 0, 0, 11520, 115, 0)
    numbered = builder().quoted_sale(MEMBER, quote, WHEN, offline=True, number="0007-000124", paid_by="cash")
    assert numbered.receipt_no == "0007-000124" and numbered.points_balance is None and numbered.offline
    assert numbered.ereceipt_url == "https://alliance.example.cn/m/receipts/0007-000124"
    unnumbered = builder().quoted_sale(MEMBER, quote, WHEN, offline=True, number=None, paid_by="cash")
    assert unnumbered.receipt_no == OFFLINE_RECEIPT_NO and unnumbered.ereceipt_url == ""


def test_a_refund_slip_shows_the_sale_and_what_the_refund_gave_back():
    answer = {"amount_fen": 5000, "points_reversed": 50, "points_restored": 40, "points_balance": 1224}
    slip = builder().refund_slip(SALE, answer, WHEN, "cash")
    assert slip.refund == RefundInfo(5000, 50, 40, "") and slip.points_balance == 1224
    assert slip.receipt_no == "0007-000123" and slip.payment_method == "cash"


def test_the_outbox_form_gives_back_the_same_receipt():
    answer = {"amount_fen": 5000, "points_reversed": 50, "points_restored": 40, "points_balance": 1224}
    sale, slip = builder().recorded_sale(MEMBER, SALE, WHEN, "cash"), builder().refund_slip(SALE, answer, WHEN, "x")
    for receipt in (sale, slip):
        assert receipt_from_json(receipt_to_json(receipt)) == receipt


def test_the_till_ceiling_for_a_typed_amount_is_below_the_pricing_ceiling():
    assert TILL_MAX_AMOUNT_FEN < MAX_AMOUNT_FEN
    assert parse_amount("1000000.00") == TILL_MAX_AMOUNT_FEN
    with pytest.raises(AmountError) as refused:
        parse_amount("1000000.01")
    assert refused.value.key == "amount_too_large"


@given(
    amount=st.integers(min_value=1, max_value=TILL_MAX_AMOUNT_FEN),
    discount_bp=st.integers(min_value=5000, max_value=10_000),
    earn_rate_bp=st.integers(min_value=0, max_value=10_000),
    point_value_fen=st.integers(min_value=1, max_value=100),
)
def test_the_pos_prices_a_sale_without_redemption_with_the_servers_rule(
    amount, discount_bp, earn_rate_bp, point_value_fen
):
    from pos_client.checkout import Checkout

    core = Checkout.__new__(Checkout)  # only the pricing: no server, outbox or devices
    core._info = {"alliance": {"point_value_fen": point_value_fen}}
    local = core._local_quote(amount, discount_bp, earn_rate_bp)
    server = quote_sale(amount, 0, 0, SaleTerms(discount_bp, earn_rate_bp, 0, point_value_fen))
    assert (local.discount_fen, local.payable_fen, local.points_to_earn) == (
        server.discount_fen,
        server.payable_fen,
        server.points_to_earn,
    )
    assert local.amount_fen == local.discount_fen + local.payable_fen and local.redeem_points == 0
