"""How the console writes rates: integer arithmetic, no trailing zeros, 折 in Chinese."""

from __future__ import annotations

from server.console.display import percent
from server.formatting import discount


def test_percent_of_basis_points():
    assert [percent(bp) for bp in (250, 100, 10_000, 0, 1, 1_234)] == ["2.5%", "1%", "100%", "0%", "0.01%", "12.34%"]
    assert percent(None) == "–"


def test_what_a_level_pays_in_chinese_and_english(app):
    with app.test_request_context("/"):
        assert [discount(bp) for bp in (9_500, 8_000, 9_550, 9_999)] == ["9.5折", "8折", "9.55折", "9.999折"]
        assert discount(10_000) == "无折扣"
    with app.test_request_context("/?lang=en"):
        assert [discount(bp) for bp in (9_500, 8_850, 10_000)] == ["5% off", "11.5% off", "No discount"]
