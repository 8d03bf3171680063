"""Double-entry postings for points movements; every transaction's postings sum to zero.

Sign convention: a member account holds its points (positive). A merchant's ``issued`` account goes
negative by the points it granted (it funds them); its ``accepted`` account goes positive by the
points it took as payment (the alliance owes it their value). Alliance accounts balance the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

MEMBER_POINTS = "member_points"
MERCHANT_ISSUED = "merchant_points_issued"
MERCHANT_ACCEPTED = "merchant_points_accepted"
ALLIANCE_ADJUSTMENTS = "alliance_adjustments"
ALLIANCE_EXPIRY = "alliance_expiry"
ALLIANCE_FORFEITED = "alliance_forfeited"  # points given up when a member closes the account
ALLIANCE_INVITES = "alliance_invites"  # funds the inviters' rewards (裂变分享), goes negative by what it granted

ACCOUNTS_ALLOWED_NEGATIVE = {
    MERCHANT_ISSUED,
    MERCHANT_ACCEPTED,
    ALLIANCE_ADJUSTMENTS,
    ALLIANCE_EXPIRY,
    ALLIANCE_INVITES,
}


class UnbalancedTransaction(ValueError):
    """Postings that do not sum to zero; a programming error, never user input."""


@dataclass(frozen=True)
class Posting:
    """A signed number of points on one account."""

    account_id: int
    amount: int


def balanced(postings: list[Posting]) -> list[Posting]:
    """Drop zero postings and check the rest sum to zero."""
    kept = [posting for posting in postings if posting.amount != 0]
    if sum(posting.amount for posting in kept) != 0:
        raise UnbalancedTransaction(f"postings sum to {sum(p.amount for p in kept)}: {kept}")
    return kept


def sale_postings(member: int, issued: int, accepted: int, earned: int, redeemed: int) -> list[Posting]:
    """A sale: the member spends ``redeemed`` at the merchant and earns ``earned`` funded by it."""
    return balanced(
        [
            Posting(member, -redeemed),
            Posting(accepted, redeemed),
            Posting(member, earned),
            Posting(issued, -earned),
        ]
    )


def refund_postings(member: int, issued: int, accepted: int, reversed_points: int, restored: int) -> list[Posting]:
    """A refund: earned points go back to the merchant, redeemed points back to the member."""
    return balanced(
        [
            Posting(member, -reversed_points),
            Posting(issued, reversed_points),
            Posting(member, restored),
            Posting(accepted, -restored),
        ]
    )


def adjustment_postings(member: int, adjustments: int, points: int) -> list[Posting]:
    """An operator's correction of a member's points, against the alliance adjustments account."""
    return balanced([Posting(member, points), Posting(adjustments, -points)])


def invite_reward_postings(inviter: int, invites: int, points: int) -> list[Posting]:
    """The inviter's reward for a friend's sale (negative ``points``: taken back by a refund)."""
    return balanced([Posting(inviter, points), Posting(invites, -points)])
