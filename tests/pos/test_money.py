"""Amounts as the cashier types them: only an unambiguous amount in yuan becomes fen."""

import pytest

from pos_client.money import AmountError, parse_amount


@pytest.mark.parametrize(
    ("typed", "fen"),
    [
        ("128", 12_800),
        ("128.5", 12_850),
        ("128.50", 12_850),
        ("128.", 12_800),  # the pad's dot before any cents
        ("0.01", 1),
        (" ¥19.99 ", 1_999),
        ("￥ 7", 700),
        ("１２８．５０", 12_850),  # full-width digits and dot from a Chinese input method
        ("1000000.00", 100_000_000),
    ],
)
def test_unambiguous_amounts_are_exact_fen(typed, fen):
    assert parse_amount(typed) == fen


@pytest.mark.parametrize(
    ("typed", "zh", "en"),
    [
        ("12,5", "金额不能含逗号", "may not contain a comma"),
        ("1,280", "金额不能含逗号", "comma"),
        ("12，5", "金额不能含逗号", "comma"),
        ("1.2.5", "只能有一个小数点", "one decimal point"),
        ("12.345", "最多两位小数", "two decimals"),
        ("-5", "正负号", "sign"),
        ("+5", "正负号", "sign"),
        ("1 280", "中间不能有空格", "spaces"),
        ("12。5", "金额格式不对", "Not an amount"),
        (".5", "金额格式不对", "Not an amount"),
        ("1e3", "金额格式不对", "Not an amount"),
        ("abc", "金额格式不对", "Not an amount"),
        ("٣", "金额格式不对", "Not an amount"),  # an Arabic-Indic digit is not a yuan amount
        ("", "请输入金额", "Enter an amount"),
        ("0", "金额必须大于 0", "more than 0"),
        ("0.00", "金额必须大于 0", "more than 0"),
        ("1000000.01", "金额过大", "too large"),
    ],
)
def test_anything_ambiguous_is_refused_saying_why(typed, zh, en):
    with pytest.raises(AmountError) as refused:
        parse_amount(typed)
    assert zh in str(refused.value) and en in refused.value.text("en")
