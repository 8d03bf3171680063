"""How members come to an agent or an inviting member: recruit links, invite links, consigned cards.

- An agent's own poster QR / link opens ``/m/join?agent=<token>``; a member who registers through it is
  recorded as the agent's recruit (``members.recruited_by_agent_id``).
- Every member has an invite link ``/m/join?i=<token>`` (裂变分享, shown with its QR code on the member
  page); a friend who registers through it records the inviter (``members.invited_by_member_id``).
- Cards of a batch may be consigned to an agent (the whole batch or a range of its numbers); a member who
  binds such a card is recorded as the agent's recruit if no recruiter is recorded yet.

Tokens are signed (itsdangerous, the app's secret, one salt each), so links need no table and cannot be
forged. Nothing here pays anyone: a recruit counts for an agent's level only once they consume, and an
inviter's reward is a share of the friend's consumption (``server/services/sales/attribution.py``).
"""

from __future__ import annotations

import io

import segno
from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import and_, func, select

from server.domain.errors import Conflict, InvalidRequest
from server.domain.statuses import AgentStatus, MemberStatus
from server.extensions import db
from server.models import Agent, Card, CardBatch, CardConsignment, Member, Sale
from server.services.agents import get_agent
from server.services.audit import audit
from server.services.cards import get_batch
from server.services.unit_of_work import transactional

_INVITE_SALT = "member-invite"
_AGENT_SALT = "agent-recruit"


def _serializer(salt: str) -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=salt)


def _unsign(salt: str, token: str | None) -> str | None:
    if not token:
        return None
    try:
        value = _serializer(salt).loads(token)
    except BadSignature:
        return None
    return value if isinstance(value, str) else None


def invite_token(member_id: str) -> str:
    """The token of a member's invite link."""
    return _serializer(_INVITE_SALT).dumps(member_id)


def agent_token(agent_id: str) -> str:
    """The token of an agent's recruit link (its poster QR code)."""
    return _serializer(_AGENT_SALT).dumps(agent_id)


def inviter_of(token: str | None) -> str | None:
    """The active member behind an invite token (None for a bad token or a member no longer active)."""
    member_id = _unsign(_INVITE_SALT, token)
    if member_id is None:
        return None
    status = db.session.scalar(select(Member.status).where(Member.id == member_id))
    return member_id if status == MemberStatus.ACTIVE else None


def recruiting_agent_of(token: str | None) -> str | None:
    """The active agent behind a recruit token (None for a bad token or an agent not active)."""
    agent_id = _unsign(_AGENT_SALT, token)
    if agent_id is None:
        return None
    status = db.session.scalar(select(Agent.status).where(Agent.id == agent_id))
    return agent_id if status == AgentStatus.ACTIVE else None


def join_link(base_url: str, *, invite: str | None = None, agent: str | None = None) -> str:
    """The registration URL of an invite (``invite``: its token) or an agent's recruit link."""
    query = f"i={invite}" if invite else f"agent={agent}"
    return f"{base_url.rstrip('/')}/m/join?{query}"


def qr_png(url: str, scale: int = 6) -> bytes:
    """The QR code of ``url`` as PNG (segno, error correction M)."""
    out = io.BytesIO()
    segno.make(url, error="m", micro=False).save(out, kind="png", scale=scale, border=4)
    return out.getvalue()


def invited_friends(member_id: str) -> dict[str, int]:
    """How many friends joined through the member's link, and the points their consumption earned."""
    joined = db.session.scalar(select(func.count()).where(Member.invited_by_member_id == member_id))
    earned = db.session.scalar(
        select(func.coalesce(func.sum(Sale.invite_reward_points), 0)).where(Sale.recruiting_member_id == member_id)
    )
    return {"friends": int(joined or 0), "reward_points": int(earned or 0)}


# --- card consignment ---------------------------------------------------------------------------------


@transactional
def consign_cards(
    actor: str, batch_id: str, agent_id: str, first_card_no: str | None = None, last_card_no: str | None = None
) -> CardConsignment:
    """Hand a batch, or the range ``first_card_no``–``last_card_no`` of it, to an agent (ranges never overlap)."""
    batch = get_batch(batch_id)
    agent = get_agent(agent_id)
    if agent.status not in (AgentStatus.APPLIED, AgentStatus.ACTIVE):
        raise Conflict("Cards can only be consigned to an applied or active agent.", agent_id=agent_id)
    first = (first_card_no or batch.first_card_no).replace(" ", "")
    last = (last_card_no or batch.last_card_no).replace(" ", "")
    for name, number in (("first_card_no", first), ("last_card_no", last)):
        if len(number) != len(batch.first_card_no) or not batch.first_card_no <= number <= batch.last_card_no:
            raise InvalidRequest("The card number is not in this batch.", field=name)
    if first > last:
        raise InvalidRequest("The first card number is after the last.", field="first_card_no")
    overlap = db.session.scalar(
        select(CardConsignment.id).where(
            CardConsignment.batch_id == batch.id,
            CardConsignment.first_card_no <= last,
            CardConsignment.last_card_no >= first,
        )
    )
    if overlap is not None:
        raise Conflict("Some of these cards are already consigned.", consignment_id=overlap)
    count = db.session.scalar(
        select(func.count()).where(Card.batch_id == batch.id, Card.card_no >= first, Card.card_no <= last)
    )
    if not count:
        raise InvalidRequest("The range holds no card of this batch.", field="first_card_no")
    consignment = CardConsignment(
        batch_id=batch.id, agent_id=agent.id, first_card_no=first, last_card_no=last, count=count, created_by=actor
    )
    db.session.add(consignment)
    db.session.flush()
    audit(actor, "card_batch.consign", "card_batch", batch.id, agent_id=agent.id, first=first, last=last, count=count)
    return consignment


def consignments_of(batch_id: str) -> list[dict]:
    """A batch's consignments with what became of them: cards bound (activated), sales and consumption."""
    get_batch(batch_id)
    return _with_outcomes(CardConsignment.batch_id == batch_id)


def consignments_to(agent_id: str) -> list[dict]:
    """The cards consigned to an agent (every batch and range) with what became of them (the agent portal)."""
    return _with_outcomes(CardConsignment.agent_id == agent_id)


def _with_outcomes(where) -> list[dict]:
    rows = db.session.execute(
        select(CardConsignment, Agent.name, CardBatch.name)
        .join(Agent, Agent.id == CardConsignment.agent_id)
        .join(CardBatch, CardBatch.id == CardConsignment.batch_id)
        .where(where)
        .order_by(CardConsignment.batch_id, CardConsignment.first_card_no)
    ).all()
    result = []
    for consignment, agent_name, batch_name in rows:
        in_range = and_(
            Card.batch_id == consignment.batch_id,
            Card.card_no >= consignment.first_card_no,
            Card.card_no <= consignment.last_card_no,
        )
        activated = db.session.scalar(select(func.count()).where(in_range, Card.member_id.is_not(None)))
        sales, consumption = db.session.execute(
            select(func.count(Sale.id), func.coalesce(func.sum(_CONSUMPTION), 0))
            .join(Card, Card.id == Sale.card_id)
            .where(in_range)
        ).one()
        result.append(
            {
                "id": consignment.id,
                "batch_id": consignment.batch_id,
                "batch_name": batch_name,
                "agent_id": consignment.agent_id,
                "agent_name": agent_name,
                "first_card_no": consignment.first_card_no,
                "last_card_no": consignment.last_card_no,
                "count": consignment.count,
                "activated": int(activated or 0),
                "sales": int(sales),
                "consumption_fen": int(consumption),
                "created_by": consignment.created_by,
                "created_at": consignment.created_at,
            }
        )
    return result


_CONSUMPTION = Sale.payable_fen + Sale.redeem_value_fen - Sale.refunded_fen


def consignable_agents() -> list[Agent]:
    """Agents cards may be consigned to (applied or active), by name."""
    query = select(Agent).where(Agent.status.in_((AgentStatus.APPLIED, AgentStatus.ACTIVE))).order_by(Agent.name)
    return list(db.session.scalars(query))


def consigned_agent(card: Card) -> str | None:
    """The agent the card was consigned to, if any."""
    if card.batch_id is None:
        return None
    return db.session.scalar(
        select(CardConsignment.agent_id).where(
            CardConsignment.batch_id == card.batch_id,
            CardConsignment.first_card_no <= card.card_no,
            CardConsignment.last_card_no >= card.card_no,
        )
    )


def recruit_by_card(actor: str, member: Member, card: Card) -> None:
    """A member binding a consigned card becomes the agent's recruit, unless a recruiter is recorded."""
    if member.recruited_by_agent_id is not None:
        return
    agent_id = consigned_agent(card)
    if agent_id is None:
        return
    member.recruited_by_agent_id = agent_id
    audit(actor, "member.recruited_by_agent", "member", member.id, agent_id=agent_id, card_id=card.id)
