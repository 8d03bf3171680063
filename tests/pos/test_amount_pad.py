"""The amount pad: what the cashier's keys make of the amount."""

import pytest

from pos_client.gui.amount_pad import BACK, CLEAR, amount_after_key
from pos_client.money import parse_amount


def typed(keys: str) -> str:
    text = ""
    for key in keys:
        text = amount_after_key(text, key)
    return text


@pytest.mark.parametrize(
    "keys, amount",
    [
        ("128.00", "128.00"),
        ("128.005", "128.00"),
        ("12..5", "12.5"),
        (".5", "0.5"),
        ("005", "5"),
        ("12345678", "123456"),
        ("123456.891", "123456.89"),
        ("1a2", "12"),
    ],
)
def test_keys_make_an_amount_parse_amount_accepts(keys, amount):
    assert typed(keys) == amount
    assert parse_amount(amount) > 0


def test_back_and_clear():
    assert amount_after_key("12.5", BACK) == "12."
    assert amount_after_key("", BACK) == ""
    assert amount_after_key("12.5", CLEAR) == ""
