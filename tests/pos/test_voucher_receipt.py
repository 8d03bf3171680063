"""A voucher on paper: the sale's voucher line, the gift voucher (满赠) with its QR code, and a refund slip saying
whether the voucher came back — laid out, built from the server's answers, and printed as real ESC/POS bytes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from alliance_shared import voucher_codes
from pos_client.checkout import Member, looks_like_voucher, meant_as_voucher
from pos_client.devices.printer import DummyPrinter
from pos_client.devices.receipt import render_lines, text_width
from pos_client.receipts import ReceiptBuilder, receipt_from_json, receipt_to_json
from tests.pos.pos_helpers import decode_qr_image, printed_text_and_qr

CST = timezone(timedelta(hours=8))
WHEN = datetime(2026, 12, 6, 4, 0, tzinfo=UTC)
SHOP = {"merchant_name": "老王火锅", "merchant_address": "人民南路18号", "terminal_name": "1号收银台"}
MEMBER = Member("张三丰", "金卡", discount_bp=9000, points_balance=1220, masked_phone="138****5678")
GIFT_CODE = voucher_codes.new_code()
SALE = {
    "id": "sal_1",
    "receipt_no": "0007-000123",
    "payment_method": "cash",
    "amount_fen": 20_000,
    "discount_fen": 2_000,
    "voucher_fen": 1_000,
    "voucher": {"id": "bc_1", "name": "满100减10", "kind": "voucher_threshold", "code_last4": "QR7X"},
    "redeem_points": 100,
    "redeem_value_fen": 100,
    "payable_fen": 16_900,
    "points_earned": 169,
    "points_balance": 1289,
    "level": {"name": "金卡"},
}
GIFT = {"name": "下次满50减5", "code": voucher_codes.display(GIFT_CODE), "expires_on": "2027-03-06"}


def builder() -> ReceiptBuilder:
    return ReceiptBuilder(SHOP, CST, "https://alliance.example.cn")


def test_the_voucher_line_sits_between_the_member_discount_and_the_points_and_the_parts_add_up():
    receipt = builder().recorded_sale(MEMBER, SALE, WHEN, "cash")
    lines = render_lines(receipt, 58)
    assert all(text_width(line) == 32 for line in lines)
    body = [
        line.split()[0] for line in lines if line.strip() and line.split()[0].startswith(("会员折扣", "券抵扣", "积分"))
    ]
    assert body[:3] == ["会员折扣", "券抵扣", "积分抵扣(100分)"]
    at = next(index for index, line in enumerate(lines) if line.startswith("券抵扣"))
    assert lines[at].startswith("券抵扣 尾号QR7X") and lines[at].endswith("-10.00")
    assert lines[at + 1].strip() == "满100减10"  # the voucher's name under it
    parts = receipt.discount_fen + receipt.voucher_fen + receipt.redeem_value_fen + receipt.payable_fen
    assert parts == receipt.amount_fen
    english = "\n".join(render_lines(receipt, 80, "en"))
    assert "Voucher ..QR7X" in english and "-10.00" in english and "满100减10" in english


def test_a_gift_voucher_prints_its_code_as_text_and_as_a_qr_code_that_decodes_to_the_code():
    receipt = builder().recorded_sale(MEMBER, SALE, WHEN, "cash", gift=GIFT)
    assert receipt_from_json(receipt_to_json(receipt)) == receipt  # the outbox keeps it for a reprint
    printer = DummyPrinter()
    printer.print_receipt(receipt)
    text, codes = printed_text_and_qr(printer.output)
    assert "券抵扣 尾号QR7X" in text and "满100减10" in text and "-10.00" in text
    assert "赠 券" in text and "下次满50减5" in text and voucher_codes.display(GIFT_CODE) in text
    assert "2027-03-06" in text
    # two QR codes: the gift voucher's code first (the next till scans it), then the e-receipt
    assert codes == [GIFT_CODE, "https://alliance.example.cn/m/sales/sal_1"]
    scanned = decode_qr_image(codes[0])
    assert scanned == GIFT_CODE and looks_like_voucher(scanned)
    assert text.index("下次满50减5") < text.index("扫码查看电子小票")


def test_a_sale_without_voucher_or_gift_prints_neither():
    plain = {k: v for k, v in SALE.items() if k not in ("voucher", "voucher_fen")}
    receipt = builder().recorded_sale(MEMBER, plain, WHEN, "cash")
    printer = DummyPrinter()
    printer.print_receipt(receipt)
    text, codes = printed_text_and_qr(printer.output)
    assert "券抵扣" not in text and "赠 券" not in text and len(codes) == 1


def test_a_refund_slip_says_whether_the_voucher_came_back():
    answer = {"amount_fen": 16_900, "points_reversed": 169, "points_restored": 100, "points_balance": 1220}
    restored = builder().refund_slip(SALE, {**answer, "voucher_restored": True}, WHEN, "cash")
    kept = builder().refund_slip(SALE, {**answer, "voucher_restored": False}, WHEN, "cash")
    assert restored.refund.voucher_restored is True and kept.refund.voucher_restored is False
    assert any(line.startswith("优惠券：") and line.endswith("已退回") for line in render_lines(restored))
    assert any(line.startswith("优惠券：") and line.endswith("未退回") for line in render_lines(kept))
    no_voucher = {k: v for k, v in SALE.items() if k != "voucher"}
    slip = builder().refund_slip(no_voucher, {**answer, "voucher_restored": False}, WHEN, "cash")
    assert slip.refund.voucher_restored is None and "优惠券" not in "".join(render_lines(slip))


def test_a_scanned_voucher_code_is_told_from_member_codes_and_card_numbers():
    code = voucher_codes.new_code()
    assert looks_like_voucher(code) and looks_like_voucher(voucher_codes.display(code).lower())
    typo = code[:-1] + ("2" if code[-1] != "2" else "3")
    assert not looks_like_voucher(typo)  # a typo fails the check character...
    assert meant_as_voucher(typo) or typo.isdigit()  # ...but is still taken as a voucher, refused as mistyped
    for digits in ("6200123456789012", "861234567123456789", "13800138000"):  # card number, member code, phone
        assert not looks_like_voucher(digits) and not meant_as_voucher(digits)
