"""Card numbers (Luhn), member-code prefixes, scanned-code routing and mobile numbers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.domain.errors import CodeInvalid, InvalidRequest
from server.domain.identifiers import (
    check_member_code_prefix,
    classify_scanned_code,
    is_valid_card_number,
    luhn_check_digit,
    make_card_number,
    mask_mobile,
    normalize_mobile,
)


def luhn_valid(number: str) -> bool:
    """Reference Luhn validation (independent of the code under test): doubled every second digit from the right."""
    total = 0
    for index, char in enumerate(reversed(number)):
        value = int(char) * (2 if index % 2 else 1)
        total += value // 10 + value % 10
    return total % 10 == 0


# --- Luhn and card numbers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("digits", "check"),
    [
        ("7992739871", "3"),  # the textbook example: 79927398713
        ("411111111111111", "1"),  # Visa test card 4111 1111 1111 1111
        ("453914880343646", "7"),
        ("123456781234567", "0"),
        ("886000000000001", "0"),
        ("0", "0"),
        ("", "0"),
    ],
)
def test_luhn_check_digit_known_values(digits, check):
    assert luhn_check_digit(digits) == check


@given(st.text(alphabet="0123456789", min_size=1, max_size=30))
def test_luhn_check_digit_matches_reference(digits):
    check = luhn_check_digit(digits)
    assert luhn_valid(digits + check)
    assert [d for d in "0123456789" if luhn_valid(digits + d)] == [check]


def test_make_card_number_layout():
    assert make_card_number("8860", 1) == "8860000000000010"
    assert make_card_number("8860", 12_345_678_901) == "8860123456789017"
    assert make_card_number("", 0) == "0000000000000000"


@pytest.mark.parametrize(("prefix", "serial"), [("8860", 10**11), ("8860", -1), ("886012345678901", 1)])
def test_make_card_number_refuses_serials_that_do_not_fit(prefix, serial):
    with pytest.raises(ValueError):
        make_card_number(prefix, serial)


@given(
    prefix=st.text(alphabet="0123456789", min_size=0, max_size=8),
    serial=st.integers(min_value=0, max_value=10**7 - 1),
)
def test_card_number_round_trip(prefix, serial):
    number = make_card_number(prefix, serial)
    assert len(number) == 16 and number.startswith(prefix)
    assert int(number[len(prefix) : -1]) == serial
    assert is_valid_card_number(number)
    assert luhn_valid(number)


@given(
    serial=st.integers(min_value=0, max_value=10**11 - 1),
    position=st.integers(min_value=0, max_value=15),
    delta=st.integers(min_value=1, max_value=9),
)
def test_any_single_digit_error_is_detected(serial, position, delta):
    number = make_card_number("8860", serial)
    wrong = number[:position] + str((int(number[position]) + delta) % 10) + number[position + 1 :]
    assert not is_valid_card_number(wrong)


@pytest.mark.parametrize(
    "text",
    [
        "8860000000000011",
        "886000000000001",
        "88600000000000100",
        "886000000000001a",
        "",
        "8860 0000 0000 0010",
        "886000000000001０",
        "88600²0000000010",
    ],
)
def test_invalid_card_numbers(text):
    assert not is_valid_card_number(text)


def test_valid_card_numbers():
    assert is_valid_card_number("8860000000000010")
    assert is_valid_card_number("4111111111111111")


# --- member-code prefixes --------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["88", "16", "24", "31", "99", "20"])
def test_allowed_member_code_prefixes(prefix):
    assert check_member_code_prefix(prefix) == prefix


@pytest.mark.parametrize(
    "prefix",
    [*(str(n) for n in range(10, 16)), *(str(n) for n in range(25, 31)), "01", "00", "8", "888", "", "a8", "８８"],
)
def test_reserved_or_malformed_member_code_prefixes(prefix):
    with pytest.raises(ValueError):
        check_member_code_prefix(prefix)


# --- routing what a scanner returned ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("881234567890123456", ("member_code", "881234567890123456")),
        (" 8812 3456 7890 1234 56\n", ("member_code", "881234567890123456")),
        ("8860000000000010", ("card_number", "8860000000000010")),
        ("8860-0000-0000-0010", ("card_number", "8860000000000010")),
        ("8860 0000 0000 0010", ("card_number", "8860000000000010")),
        ("4111111111111111", ("card_number", "4111111111111111")),
    ],
)
def test_classify_scanned_code(text, expected):
    assert classify_scanned_code(text, "88") == expected


@pytest.mark.parametrize(
    "text",
    [
        "134567890123456789",  # WeChat Pay payment code (prefix 13)
        "284567890123456789",  # Alipay payment code (prefix 28)
        "771234567890123456",  # another alliance's member code
        "88123456789012345",  # 17 digits
        "8812345678901234567",  # 19 digits
        "8860000000000011",  # card number with a wrong check digit
        "88123456789012345x",
        "",
        "  ",
        "８８１２３４５６７８９０１２３４５６",  # full-width digits
        "88600²0000000010",  # a superscript two is "a digit" to str.isdigit
    ],
)
def test_unroutable_codes_are_code_invalid(text):
    with pytest.raises(CodeInvalid):
        classify_scanned_code(text, "88")


def test_routing_depends_on_the_alliance_prefix():
    code = "771234567890123456"
    assert classify_scanned_code(code, "77") == ("member_code", code)
    with pytest.raises(CodeInvalid):
        classify_scanned_code(code, "88")


@given(st.text(max_size=40))
def test_classify_never_fails_other_than_code_invalid(text):
    try:
        kind, digits = classify_scanned_code(text, "88")
    except CodeInvalid:
        return
    assert kind in {"member_code", "card_number"}
    assert digits.isascii() and digits.isdigit()
    assert len(digits) == (18 if kind == "member_code" else 16)


# --- mobile numbers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "13800138000",
        "+86 138-0013-8000",
        "+8613800138000",
        "0086 138 0013 8000",
        "(138) 0013-8000",
        " 138 0013 8000 ",
        "008613800138000",
    ],
)
def test_normalize_mobile_forms(text):
    assert normalize_mobile(text) == "13800138000"


@pytest.mark.parametrize(
    "text",
    [
        "12800138000",  # no mainland mobile starts with 12
        "1380013800",  # 10 digits
        "138001380001",  # 12 digits
        "23800138000",
        "+1 13800138000",
        "+85213800138000",  # Hong Kong prefix
        "138.0013.8000",
        "phone",
        "",
        "13８00138000",  # a full-width digit
        "1380013800²",
    ],
)
def test_normalize_mobile_rejects(text):
    with pytest.raises(InvalidRequest) as caught:
        normalize_mobile(text)
    assert caught.value.details == {"field": "phone"}


@given(st.text(max_size=24))
def test_normalize_mobile_returns_eleven_ascii_digits_or_refuses(text):
    try:
        mobile = normalize_mobile(text)
    except InvalidRequest:
        return
    assert len(mobile) == 11 and mobile.isascii() and mobile.isdigit() and mobile[0] == "1"


def test_mask_mobile():
    assert mask_mobile("13800138000") == "138****8000"
    assert mask_mobile("18612345678") == "186****5678"
