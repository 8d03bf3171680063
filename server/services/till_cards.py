"""Handing out a card at the till: a cashier binds a new card (printed or encoded) to a proven member.

The binding itself is ``members.bind_card``, the same use case as the console's and the member's; the
till adds only who the member is (a live identification at this terminal, with the member's proof) and
that the terminal did it (audited as ``terminal:<id>``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from server.domain.errors import CardBindingNeedsProof, CardUnknown
from server.extensions import db
from server.models import Card, Terminal
from server.services import members
from server.services.identified import MemberAtMerchant, member_at_merchant, open_identification
from server.services.unit_of_work import transactional


@dataclass(frozen=True)
class TillBinding:
    """A card just bound at a terminal, and its member as the terminal's merchant sees them."""

    card: Card
    who: MemberAtMerchant
    bound_at: datetime


@transactional
def bind_at_till(terminal: Terminal, card_no: str, identification_token: str) -> TillBinding:
    """Bind the card ``card_no`` to the member of a live, proven identification at this terminal.

    The identification is not used up: the same member may go on to buy. Refusals: an identification
    without the member's proof (``binding_proof_required``), a number that is not one of the alliance's
    cards (``card_unknown``), and those of ``members.bind_card`` (not issued, already bound, blocked).
    """
    found = open_identification(terminal, identification_token, consume=False)
    if found.proof is None:  # a phone number or a typed card number is only something someone knows
        raise CardBindingNeedsProof()
    member_at_merchant(found.member_id, terminal.merchant_id)  # an active member, or member_not_found
    if db.session.scalar(select(Card.id).where(Card.card_no == card_no)) is None:
        raise CardUnknown(card_no=card_no)
    card = members.bind_card(f"terminal:{terminal.id}", found.member_id, card_no)
    # read again: a card of a levelled batch may have lifted the member's level
    return TillBinding(card, member_at_merchant(found.member_id, terminal.merchant_id), card.status_changed_at)
