"""Receipt layout: exact column widths with CJK double-width characters, money in fen, masking, variants."""

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from pos_client.devices.receipt import (
    Receipt,
    RefundInfo,
    layout_receipt,
    mask_name,
    mask_phone,
    render_lines,
    text_width,
)
from pos_client.money import yuan

CST = timezone(timedelta(hours=8))


def make_receipt(**changes) -> Receipt:
    receipt = Receipt(
        merchant_name="老王火锅（人民路店）",
        merchant_address="成都市武侯区人民南路四段18号",
        terminal_name="1号收银台",
        receipt_no="R202611220001",
        time=datetime(2026, 11, 22, 9, 30, 5, tzinfo=CST),
        amount_fen=12800,
        discount_fen=1280,
        redeem_points=100,
        redeem_value_fen=100,
        payable_fen=11420,
        points_earned=114,
        points_balance=1234,
        level_name="金卡会员",
        member_phone="13812345678",
        member_name="张三丰",
        ereceipt_url="https://alliance.example.cn/r/8f3a2c",
    )
    return replace(receipt, **changes)


def test_58mm_chinese_receipt_lines_are_exactly_as_laid_out():
    assert render_lines(make_receipt(), 58) == [
        "      老王火锅（人民路店）      ",
        "  成都市武侯区人民南路四段18号  ",
        "            消费小票            ",
        "--------------------------------",
        "终端：                 1号收银台",
        "小票号：           R202611220001",
        "时间：       2026-11-22 09:30:05",
        "--------------------------------",
        "消费金额                  128.00",
        "会员折扣                  -12.80",
        "积分抵扣(100分)            -1.00",
        "实付金额                  114.20",
        "--------------------------------",
        "会员：                     张*丰",
        "手机：               138****5678",
        "等级：                  金卡会员",
        "本次积分                    +114",
        "积分余额                    1234",
        "--------------------------------",
        "        扫码查看电子小票        ",
        "     谢谢惠顾，欢迎再次光临     ",
    ]


@pytest.mark.parametrize(("width_mm", "columns"), [(58, 32), (80, 48)])
def test_every_line_fills_the_paper_width_counting_cjk_as_two_columns(width_mm, columns):
    lines = render_lines(make_receipt(), width_mm)

    assert [text_width(line) for line in lines] == [columns] * len(lines)
    text = "\n".join(lines)
    for expected in ("老王火锅（人民路店）", "R202611220001", "128.00", "-12.80", "积分抵扣(100分)", "-1.00"):
        assert expected in text
    for expected in ("114.20", "+114", "1234", "138****5678", "张*丰", "金卡会员"):
        assert expected in text
    assert "13812345678" not in text and "张三丰" not in text
    # Amounts end exactly at the right edge.
    assert f"实付金额{' ' * (columns - 8 - 6)}114.20" in lines


def test_80mm_layout_centres_the_merchant_name_in_48_columns():
    layout = layout_receipt(make_receipt(), 80)

    assert layout.columns == 48
    assert layout.header == [" " * 14 + "老王火锅（人民路店）" + " " * 14]
    assert layout.qr_url == "https://alliance.example.cn/r/8f3a2c"
    assert layout.footer[0].strip() == "扫码查看电子小票"


def test_long_names_wrap_and_long_pairs_break_onto_two_lines_keeping_the_width():
    receipt = make_receipt(
        merchant_name="成都市武侯区老王家传统手工火锅连锁总店",
        terminal_name="前台收银台第二号机器（靠门口）",
    )
    lines = render_lines(receipt, 58)

    assert {text_width(line) for line in lines} == {32}
    assert lines[0] == "成都市武侯区老王家传统手工火锅连"
    assert lines[1] == " " * 13 + "锁总店" + " " * 13
    assert "终端：                          " in lines
    assert "  前台收银台第二号机器（靠门口）" in lines


def test_offline_sale_is_marked_pending_upload_and_its_balance_unknown():
    lines = render_lines(make_receipt(offline=True, points_balance=None, redeem_points=0, redeem_value_fen=0), 58)

    assert "        离线交易 待上传         " in lines
    assert "积分余额              上传后更新" in lines
    assert not any("积分抵扣" in line for line in lines)
    assert not any("离线" in line for line in render_lines(make_receipt(), 58))


def test_refund_receipt_shows_the_refund_and_the_points_moved_back():
    receipt = make_receipt(refund=RefundInfo(refund_fen=5000, points_reversed=50, points_restored=40))
    lines = render_lines(receipt, 58)

    assert "            退款凭证            " in lines
    assert "原小票号：         R202611220001" in lines
    assert "退款金额                   50.00" in lines
    assert "扣回积分                     -50" in lines
    assert "退回积分                     +40" in lines
    assert not any("本次积分" in line for line in lines)


def test_english_receipt_uses_english_labels():
    lines = render_lines(make_receipt(offline=True), 80, lang="en")

    assert {text_width(line) for line in lines} == {48}
    assert "Total paid                                114.20" in lines
    assert "Points used (100)                          -1.00" in lines
    assert "Member:                                    张*丰" in lines
    assert any(line.strip() == "OFFLINE SALE - PENDING UPLOAD" for line in lines)


def test_receipt_without_member_or_qr_has_no_member_section():
    lines = render_lines(
        make_receipt(member_phone="", member_name="", ereceipt_url="", redeem_points=0, redeem_value_fen=0), 58
    )

    assert not any(word in line for line in lines for word in ("会员：", "积分余额", "扫码"))
    assert lines[-1] == "     谢谢惠顾，欢迎再次光临     "


@pytest.mark.parametrize(
    ("fen", "text"),
    [(0, "0.00"), (5, "0.05"), (99, "0.99"), (12800, "128.00"), (-1280, "-12.80"), (100000001, "1000000.01")],
)
def test_yuan(fen, text):
    assert yuan(fen) == text


def test_widths_and_masks():
    assert text_width("会员A1") == 6
    assert text_width("（·）") == 6
    assert text_width("e\u0301") == 1
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("138****5678") == "138****5678"
    assert [mask_name(n) for n in ("", "王", "张三", "张三丰", "欧阳娜娜")] == ["", "王", "张*", "张*丰", "欧**娜"]


@pytest.mark.parametrize(("width_mm", "lang"), [(70, "zh"), (58, "fr")])
def test_unknown_width_or_language_is_refused(width_mm, lang):
    with pytest.raises(ValueError):
        render_lines(make_receipt(), width_mm, lang)
