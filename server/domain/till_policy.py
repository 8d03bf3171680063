"""The till policy: what an identification proves, and when spending points needs that proof.

A chip card or a dynamic member code is the member's own; a phone number or a typed/printed card number
is only something someone knows: it gives the discount and earns points, and (while the alliance asks
for proof, the default) spends nothing until a one-time SMS code confirmed at the till proves the member.
"""

from __future__ import annotations

from server.domain.errors import MemberProofRequired

PROOFS = ("card", "code", "sms")  # chip card, dynamic member code, one-time SMS code confirmed at the till


def identification_proof(method: str, by_card_number: bool) -> str | None:
    """The proof an identification carries from how the member was found (``None``: none)."""
    if method == "card":
        return "card"
    if method == "code" and not by_card_number:  # a scanned dynamic member code, not a printed card number
        return "code"
    return None


def spend_needs_proof(spend_requires_proof: bool, proof: str | None) -> bool:
    """True when this identification may not spend points yet."""
    return spend_requires_proof and proof is None


def check_spend(spend_requires_proof: bool, proof: str | None, redeem_points: int) -> None:
    """Refuse spending points (``redeem_points > 0``) without the proof the policy asks for."""
    if redeem_points > 0 and spend_needs_proof(spend_requires_proof, proof):
        raise MemberProofRequired()


def check_picked_voucher(spend_requires_proof: bool, proof: str | None, voucher_id: str | None) -> None:
    """A voucher picked from the member's list (``voucher_id``) is spent like points: it needs the same proof.

    A voucher scanned or typed (``voucher_code``) is its own proof: the member holds it."""
    if voucher_id is not None and spend_needs_proof(spend_requires_proof, proof):
        raise MemberProofRequired()
