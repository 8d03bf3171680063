"""Supplier reconciliation (pure rules): the month, what is due, purchase and code differences."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from server.domain.errors import InvalidRequest
from server.domain.supplier_reconciliation import (
    CodeFacts,
    PurchaseFacts,
    SupplierMonth,
    add_months,
    code_differences,
    month_bounds,
    parse_month,
    purchase_differences,
)


def at(day, hour=12):
    return datetime(2026, 12, day, hour, tzinfo=UTC)


def test_month_text_and_bounds():
    assert parse_month("2026-12") == (2026, 12)
    assert month_bounds(2026, 12) == (date(2026, 12, 1), date(2027, 1, 1))
    assert month_bounds(2026, 2) == (date(2026, 2, 1), date(2026, 3, 1))
    for bad in ("2026-13", "2026-1", "26-12", "", None, "1999-01"):
        with pytest.raises(InvalidRequest):
            parse_month(bad)


def test_due_is_received_cost_minus_credits_and_months_add():
    month = SupplierMonth(received=10, received_cost_fen=10_000, failed=2, credit_fen=2_000)
    assert month.due_fen == 8_000
    total = add_months([month, SupplierMonth(received=1, received_cost_fen=500, bought=3)])
    assert (total.received, total.bought, total.due_fen) == (11, 3, 8_500)


def test_purchase_received_short_and_invoice_off():
    ok = PurchaseFacts("bpo_1", quantity=100, unit_cost_fen=250, invoice_total_fen=25_000, received=100)
    assert purchase_differences(ok) == []
    short = PurchaseFacts("bpo_2", 100, 250, "INV-9", 24_000, received=98)
    texts = [str(d) for d in purchase_differences(short)]
    assert texts == [
        "purchase bpo_2: 100 codes bought, 98 received",
        "purchase bpo_2: invoice INV-9 totals 24000 fen, unit cost × quantity is 25000 fen",
    ]
    # still receiving: short is no difference yet, but more than bought is
    assert purchase_differences(PurchaseFacts("bpo_3", 100, 1, received=40, complete=False)) == []
    over = purchase_differences(PurchaseFacts("bpo_4", 10, 1, received=11, complete=False))
    assert [d.template for d in over] == [
        "purchase %(purchase)s: %(received)s codes received, more than the %(quantity)s bought"
    ]


def test_codes_in_impossible_states():
    good = CodeFacts("c1", "redeemed", "****1234", at(1), at(2), at(3), date(2026, 12, 31))
    assert code_differences(good) == []
    assert code_differences(CodeFacts("c2", "issued", "****2222", at(1), at(2)), claimed=True) == []
    cases = {
        CodeFacts("c3", "redeemed", "****3333", at(1), None, at(3)): ["code ****3333 is redeemed but was never issued"],
        CodeFacts("c4", "available", "****4444", at(1), at(2)): ["code ****4444 is available but has an issue time"],
        CodeFacts("c5", "redeemed", "****5555", at(1), at(2)): ["code ****5555 is redeemed but has no redemption time"],
        CodeFacts("c6", "redeemed", "****6666", at(1), at(5), at(3)): [
            "code ****6666 was redeemed before it was issued"
        ],
        CodeFacts("c7", "issued", "****7777", at(5), at(2)): ["code ****7777 was issued before it was received"],
        CodeFacts("c8", "redeemed", "****8888", at(1), at(2), at(20), date(2026, 12, 10)): [
            "code ****8888 was redeemed after it expired"
        ],
        CodeFacts("c9", "void", "****9999", at(1), at(2), at(3)): ["code ****9999 is void but has a redemption time"],
    }
    for code, expected in cases.items():
        assert [str(d) for d in code_differences(code)] == expected
    claimed = code_differences(CodeFacts("c10", "available", "****0000", at(1)), claimed=True)
    assert [str(d) for d in claimed] == ["code ****0000 is claimed to have failed at redemption but is still available"]
