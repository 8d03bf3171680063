"""Agents hand out, or sell, the benefit codes consigned to them (agent portal, /a/benefits).

An agent gives one code of one of its consignments to a member found by phone: the code (first expiring first,
still with the agent, unexpired) gets the member as its holder, keeping the agent that handed it on, and the
member holds it in their wallet like any other. It is a grant of channel ``agent`` (source id
``<agent>:<request id>``): the same request again answers with the first hand-out. A sale records the price the
agent collected itself from the member; no platform money moves (the agent owes the alliance only the
consignment's invoice, ``benefit_consignment``). Only the agent's own consigned codes can be handed out: another
agent's consignment is not found.
"""

from __future__ import annotations

from sqlalchemy import select, update

from server.domain.errors import Conflict, InvalidRequest, NotFound
from server.domain.identifiers import normalize_mobile
from server.domain.statuses import BenefitChannel, BenefitCodeStatus, MemberStatus
from server.extensions import db
from server.models import (
    BenefitAgentHandout,
    BenefitCode,
    BenefitConsignment,
    BenefitConsignmentCode,
    BenefitSku,
    Member,
)
from server.security.pii import phone_lookup_hash
from server.services import benefit_grants, benefit_stock
from server.services.audit import audit
from server.services.points import alliance_today
from server.services.unit_of_work import transactional

MAX_PRICE_FEN = 10_000_000


def _next_code(agent_id: str, consignment_id: str) -> BenefitCode | None:
    today = alliance_today()
    query = (
        select(BenefitCode)
        .join(BenefitConsignmentCode, BenefitConsignmentCode.code_id == BenefitCode.id)
        .where(
            BenefitConsignmentCode.consignment_id == consignment_id,
            BenefitCode.agent_id == agent_id,
            BenefitCode.member_id.is_(None),
            BenefitCode.status == BenefitCodeStatus.ISSUED,
            (BenefitCode.expires_on.is_(None)) | (BenefitCode.expires_on >= today),
        )
        .order_by(BenefitCode.expires_on.asc().nulls_last(), BenefitCode.id)
        .limit(1)
    )
    if db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=BenefitCode)
    return db.session.scalar(query)


@transactional
def hand_out(
    agent_id: str, consignment_id: str, phone: str, request_id: str, price_fen: int | None = None
) -> BenefitAgentHandout:
    """Give (``price_fen`` None) or sell one code of the agent's consignment to the member with ``phone``."""
    if not request_id or len(request_id) > 64:
        raise InvalidRequest("Give a request id (at most 64 characters).", field="request_id")
    if price_fen is not None and not 0 <= price_fen <= MAX_PRICE_FEN:
        raise InvalidRequest("The price is between 0 and 100000 yuan.", field="price_fen")
    mobile = normalize_mobile(phone)
    member = db.session.scalar(select(Member).where(Member.phone_hash == phone_lookup_hash(mobile)))
    if member is None or member.status != MemberStatus.ACTIVE:
        raise NotFound("No member has this phone number.", field="phone")
    done = db.session.scalar(
        select(BenefitAgentHandout).where(
            BenefitAgentHandout.agent_id == agent_id, BenefitAgentHandout.request_id == request_id
        )
    )
    if done is not None:
        if done.member_id != member.id or done.price_fen != price_fen:
            raise Conflict("This request id was used for another hand-out.", field="request_id")
        return done
    consignment = db.session.get(BenefitConsignment, consignment_id)
    if consignment is None or consignment.agent_id != agent_id:
        raise NotFound("No such consignment.")
    code = _next_code(agent_id, consignment.id)
    if code is None:
        raise Conflict("None of this consignment's codes is left with you.")
    benefit_stock.member_limit_check(db.session.get(BenefitSku, code.sku_id), member.id, 1)
    moved = db.session.execute(
        update(BenefitCode)
        .where(
            BenefitCode.id == code.id,
            BenefitCode.agent_id == agent_id,
            BenefitCode.member_id.is_(None),
            BenefitCode.status == BenefitCodeStatus.ISSUED,
        )
        .values(member_id=member.id)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:
        raise Conflict("This code was just handed out; please try again.")
    actor = f"agent:{agent_id}"
    grant = benefit_grants.grant_held_code(BenefitChannel.AGENT, f"{agent_id}:{request_id}", member.id, code, actor)
    handout = BenefitAgentHandout(
        agent_id=agent_id,
        request_id=request_id,
        code_id=code.id,
        member_id=member.id,
        grant_id=grant.id,
        price_fen=price_fen,
    )
    db.session.add(handout)
    db.session.flush()
    action = "benefit.agent_handout" if price_fen is None else "benefit.agent_sale"
    audit(actor, action, "benefit_grant", grant.id, consignment_id=consignment.id, price_fen=price_fen)
    return handout


def handouts(agent_id: str, limit: int = 50) -> list[dict]:
    """The agent's latest hand-outs and sales: member (masked phone), SKU, masked code, price."""
    rows = db.session.execute(
        select(BenefitAgentHandout, Member.phone_masked, BenefitSku.name, BenefitCode.last4)
        .join(Member, Member.id == BenefitAgentHandout.member_id)
        .join(BenefitCode, BenefitCode.id == BenefitAgentHandout.code_id)
        .join(BenefitSku, BenefitSku.id == BenefitCode.sku_id)
        .where(BenefitAgentHandout.agent_id == agent_id)
        .order_by(BenefitAgentHandout.created_at.desc(), BenefitAgentHandout.id)
        .limit(limit)
    ).all()
    return [
        {
            "member_masked_phone": phone,
            "sku_name": sku_name,
            "masked": benefit_stock.masked(last4),
            "price_fen": handout.price_fen,
            "created_at": handout.created_at,
        }
        for handout, phone, sku_name, last4 in rows
    ]
