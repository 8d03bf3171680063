"""Double-entry postings: every transaction sums to zero, zero postings are dropped."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.domain.ledger import (
    ACCOUNTS_ALLOWED_NEGATIVE,
    MEMBER_POINTS,
    Posting,
    UnbalancedTransaction,
    adjustment_postings,
    balanced,
    refund_postings,
    sale_postings,
)

MEMBER, ISSUED, ACCEPTED, ADJUSTMENTS = 1, 2, 3, 4
points = st.integers(min_value=0, max_value=10**9)


def net(postings: list[Posting]) -> dict[int, int]:
    """Net movement per account."""
    totals: Counter = Counter()
    for posting in postings:
        totals[posting.account_id] += posting.amount
    return dict(totals)


def test_balanced_keeps_non_zero_postings_in_order():
    postings = [Posting(1, 5), Posting(2, 0), Posting(3, -7), Posting(1, 2)]
    assert balanced(postings) == [Posting(1, 5), Posting(3, -7), Posting(1, 2)]
    assert balanced([]) == []
    assert balanced([Posting(1, 0)]) == []


@pytest.mark.parametrize(
    "postings", [[Posting(1, 1)], [Posting(1, 5), Posting(2, -4)], [Posting(1, -1), Posting(1, 0)]]
)
def test_unbalanced_postings_raise(postings):
    with pytest.raises(UnbalancedTransaction):
        balanced(postings)


def test_unbalanced_is_a_programming_error_not_a_domain_error():
    from server.domain.errors import DomainError

    assert issubclass(UnbalancedTransaction, ValueError)
    assert not issubclass(UnbalancedTransaction, DomainError)


def test_sale_postings():
    postings = sale_postings(MEMBER, ISSUED, ACCEPTED, earned=87, redeemed=300)
    assert postings == [Posting(MEMBER, -300), Posting(ACCEPTED, 300), Posting(MEMBER, 87), Posting(ISSUED, -87)]
    assert net(postings) == {MEMBER: -213, ACCEPTED: 300, ISSUED: -87}


def test_sale_without_points_posts_nothing():
    assert sale_postings(MEMBER, ISSUED, ACCEPTED, earned=0, redeemed=0) == []
    assert sale_postings(MEMBER, ISSUED, ACCEPTED, earned=10, redeemed=0) == [Posting(MEMBER, 10), Posting(ISSUED, -10)]


def test_refund_postings_mirror_the_sale():
    postings = refund_postings(MEMBER, ISSUED, ACCEPTED, reversed_points=87, restored=300)
    assert net(postings) == {MEMBER: 213, ISSUED: 87, ACCEPTED: -300}
    sale = sale_postings(MEMBER, ISSUED, ACCEPTED, earned=87, redeemed=300)
    combined = net(sale + postings)
    assert all(amount == 0 for amount in combined.values())


def test_adjustment_postings():
    assert adjustment_postings(MEMBER, ADJUSTMENTS, 50) == [Posting(MEMBER, 50), Posting(ADJUSTMENTS, -50)]
    assert adjustment_postings(MEMBER, ADJUSTMENTS, -20) == [Posting(MEMBER, -20), Posting(ADJUSTMENTS, 20)]
    assert adjustment_postings(MEMBER, ADJUSTMENTS, 0) == []


def test_member_accounts_may_not_go_negative():
    assert MEMBER_POINTS not in ACCOUNTS_ALLOWED_NEGATIVE


@given(earned=points, redeemed=points, reversed_points=points, restored=points, adjust=st.integers(-(10**9), 10**9))
def test_every_posting_set_sums_to_zero(earned, redeemed, reversed_points, restored, adjust):
    for postings in (
        sale_postings(MEMBER, ISSUED, ACCEPTED, earned, redeemed),
        refund_postings(MEMBER, ISSUED, ACCEPTED, reversed_points, restored),
        adjustment_postings(MEMBER, ADJUSTMENTS, adjust),
    ):
        assert sum(posting.amount for posting in postings) == 0
        assert all(posting.amount != 0 for posting in postings)
    assert net(sale_postings(MEMBER, ISSUED, ACCEPTED, earned, redeemed)).get(MEMBER, 0) == earned - redeemed
