"""The till policy: which identifications prove the member, and when spending points needs proof."""

from __future__ import annotations

import pytest

from server.domain.errors import MemberProofRequired
from server.domain.till_policy import check_spend, identification_proof, spend_needs_proof


@pytest.mark.parametrize(
    ("method", "by_card_number", "proof"),
    [("card", True, "card"), ("code", False, "code"), ("code", True, None), ("phone", False, None)],
)
def test_only_a_chip_card_or_a_dynamic_member_code_proves_the_member(method, by_card_number, proof):
    assert identification_proof(method, by_card_number) == proof


def test_spending_needs_proof_only_while_the_policy_asks_and_only_to_spend():
    with pytest.raises(MemberProofRequired):
        check_spend(True, None, 1)
    check_spend(True, None, 0)  # the discount and earning need no proof
    check_spend(True, "sms", 500)
    check_spend(False, None, 500)  # the alliance turned the policy off
    assert spend_needs_proof(True, None) and not spend_needs_proof(True, "card") and not spend_needs_proof(False, None)
