"""Consignment of benefit stock to an agent: N codes of a SKU at the agent's level price (拿货价), invoiced.

:func:`consign_benefits` takes the first-expiring available codes (``FOR UPDATE SKIP LOCKED`` on PostgreSQL,
so concurrent allocations never take the same code), moves each from available to issued with the agent as
holder in one guarded update whose affected rows must match, and records the consignment with its invoice:
the agent owes ``quantity × unit price``. :func:`mark_paid` settles the invoice: from the agent's available
commission in the money ledger (refused while the agent has debt or too little), or by recording a payment
made outside (a bank transfer reference).

What became of the codes: those the agent handed on to a member, those redeemed and where (the merchant),
void and expired — :func:`consignment_outcomes` for the console, :func:`agent_benefit_stock` for the agent
portal (codes masked: the last four only).
"""

from __future__ import annotations

from sqlalchemy import case, func, select

from server.domain import money_ledger as money
from server.domain.errors import Conflict, InvalidRequest, NotFound
from server.domain.statuses import AgentStatus, BenefitCodeStatus, BenefitConsignmentStatus, BenefitSkuStatus
from server.extensions import db
from server.models import (
    Agent,
    AgentLevel,
    BenefitCode,
    BenefitConsignment,
    BenefitConsignmentCode,
    BenefitSku,
    BenefitSkuAgentPrice,
    Merchant,
)
from server.models.base import utcnow
from server.services import benefit_stock, locks, money_ledger
from server.services.agents import get_agent
from server.services.audit import audit
from server.services.unit_of_work import transactional

MAX_CONSIGNMENT = benefit_stock.MAX_ALLOCATION
OUTCOMES = ("codes", "handed_on", "redeemed", "void", "expired", "with_agent")
CONSIGNABLE_AGENT_STATUSES = (AgentStatus.ACTIVE,)


def agent_price(sku_id: str, agent_level_id: str) -> int | None:
    """The SKU's price for an agent of the level (拿货价), or None when the catalogue sets none."""
    return db.session.scalar(
        select(BenefitSkuAgentPrice.price_fen).where(
            BenefitSkuAgentPrice.sku_id == sku_id, BenefitSkuAgentPrice.agent_level_id == agent_level_id
        )
    )


def _next_invoice_no(today_text: str) -> str:
    locks.lock("benefit-consignment:invoice-no")  # two consignments at once never draw the same number
    count = db.session.scalar(select(func.count(BenefitConsignment.id))) or 0
    return f"BC{today_text}{count + 1:05d}"


@transactional
def consign_benefits(actor: str, agent_id: str, sku_id: str, quantity: int) -> BenefitConsignment:
    """Hand ``quantity`` codes of the SKU to an active agent at its level's price, first-expiring first; the
    consignment is invoiced (the agent owes the amount). Refused, changing nothing, when the stock is short."""
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 0 < quantity <= MAX_CONSIGNMENT:
        raise InvalidRequest("The quantity must be a whole number from 1 to 1,000.", field="quantity")
    agent = get_agent(agent_id)
    if agent.status not in CONSIGNABLE_AGENT_STATUSES:
        raise Conflict("Benefits can only be consigned to an active agent.", agent_id=agent_id)
    sku = db.session.get(BenefitSku, sku_id)
    if sku is None:
        raise NotFound("No such benefit product.", sku_id=sku_id)
    if sku.status != BenefitSkuStatus.ACTIVE:
        raise Conflict("This benefit product is retired.", sku_id=sku_id)
    price = agent_price(sku.id, agent.level_id)
    if price is None:
        raise Conflict("The catalogue sets no price for this agent's level.", sku_id=sku_id, level_id=agent.level_id)
    now = utcnow()
    code_ids = benefit_stock.allocate(sku.id, agent_id=agent.id, count=quantity, now=now)  # FEFO, guarded
    consignment = BenefitConsignment(
        agent_id=agent.id,
        sku_id=sku.id,
        agent_level_id=agent.level_id,
        quantity=quantity,
        unit_price_fen=price,
        amount_fen=price * quantity,
        invoice_no=_next_invoice_no(now.strftime("%Y%m%d")),
        status=BenefitConsignmentStatus.INVOICED,
        created_by=actor,
    )
    db.session.add(consignment)
    db.session.flush()
    db.session.add_all(BenefitConsignmentCode(code_id=code_id, consignment_id=consignment.id) for code_id in code_ids)
    db.session.flush()
    audit(
        actor,
        "benefit.consign",
        "agent",
        agent.id,
        consignment_id=consignment.id,
        sku_id=sku.id,
        quantity=quantity,
        amount_fen=consignment.amount_fen,
    )
    return consignment


@transactional
def mark_paid(
    actor: str, consignment_id: str, reference: str = "", *, from_commission: bool = False
) -> BenefitConsignment:
    """Settle the consignment's invoice, audited: from the agent's available commission (``from_commission``:
    one money-ledger transaction, refused while the agent has debt or too little), or by recording a payment
    made outside the system (``reference``: a transfer)."""
    reference = (reference or "").strip()
    if not reference and not from_commission:
        raise InvalidRequest("Give the payment reference.", field="reference")
    consignment = get_consignment(consignment_id)
    if consignment.status != BenefitConsignmentStatus.INVOICED:
        raise Conflict("Only an invoiced consignment can be paid.", status=consignment.status)
    if from_commission:
        reference = f"money:{_pay_from_commission(actor, consignment)}"
    consignment.status = BenefitConsignmentStatus.PAID
    consignment.paid_at, consignment.payment_reference = utcnow(), reference[:64]
    audit(
        actor,
        "benefit.consignment_paid",
        "agent",
        consignment.agent_id,
        consignment_id=consignment.id,
        from_commission=from_commission,
    )
    return consignment


def _pay_from_commission(actor: str, consignment: BenefitConsignment) -> int:
    """Move the invoice's amount from the agent's available commission to the alliance's benefit sales."""
    money_ledger.lock_beneficiary(money.AGENT, consignment.agent_id)
    if money_ledger.withdrawable_fen(money.AGENT, consignment.agent_id) < consignment.amount_fen:
        raise Conflict(
            "The agent's available commission does not cover this invoice (or the agent has debt).",
            amount_fen=consignment.amount_fen,
        )
    available = money_ledger.account(money.AGENT, consignment.agent_id, money.AVAILABLE)
    posted = money_ledger.post(
        money.BENEFIT_CONSIGNMENT_PAID,
        f"benefit-consignment:{consignment.id}:paid",
        money.transfer(available, money_ledger.alliance_account(money.BENEFIT_SALES), consignment.amount_fen),
        actor,
        memo=consignment.invoice_no,
    )
    return posted.transaction_id


def get_consignment(consignment_id: str) -> BenefitConsignment:
    """A consignment by id."""
    consignment = db.session.get(BenefitConsignment, consignment_id)
    if consignment is None:
        raise NotFound("No such consignment.", consignment_id=consignment_id)
    return consignment


def _outcome_counts(where) -> dict[str, dict]:
    codes = BenefitCode
    rows = db.session.execute(
        select(
            BenefitConsignmentCode.consignment_id,
            func.count(codes.id),
            func.sum(case((codes.member_id.is_not(None), 1), else_=0)),
            func.sum(case((codes.status == BenefitCodeStatus.REDEEMED, 1), else_=0)),
            func.sum(case((codes.status == BenefitCodeStatus.VOID, 1), else_=0)),
            func.sum(case((codes.status == BenefitCodeStatus.EXPIRED, 1), else_=0)),
            func.sum(case(((codes.status == BenefitCodeStatus.ISSUED) & codes.member_id.is_(None), 1), else_=0)),
        )
        .join(codes, codes.id == BenefitConsignmentCode.code_id)
        .join(BenefitConsignment, BenefitConsignment.id == BenefitConsignmentCode.consignment_id)
        .where(where)
        .group_by(BenefitConsignmentCode.consignment_id)
    )
    return {
        cid: {
            "codes": int(n),
            "handed_on": int(h or 0),
            "redeemed": int(r or 0),
            "void": int(v or 0),
            "expired": int(e or 0),
            "with_agent": int(w or 0),
        }
        for cid, n, h, r, v, e, w in rows
    }


def _redeemed_at(where) -> dict[str, list[tuple[str, int]]]:
    rows = db.session.execute(
        select(BenefitConsignmentCode.consignment_id, Merchant.name, func.count(BenefitCode.id))
        .join(BenefitCode, BenefitCode.id == BenefitConsignmentCode.code_id)
        .join(BenefitConsignment, BenefitConsignment.id == BenefitConsignmentCode.consignment_id)
        .join(Merchant, Merchant.id == BenefitCode.redeemed_merchant_id)
        .where(where, BenefitCode.status == BenefitCodeStatus.REDEEMED)
        .group_by(BenefitConsignmentCode.consignment_id, Merchant.name)
        .order_by(Merchant.name)
    )
    found: dict[str, list[tuple[str, int]]] = {}
    for cid, merchant, count in rows:
        found.setdefault(cid, []).append((merchant, int(count)))
    return found


def consignment_outcomes(agent_id: str | None = None) -> list[dict]:
    """Consignments (newest first; of one agent, or all) with what became of their codes: handed on to a
    member, redeemed (and at which merchants), void, expired, still with the agent."""
    where = BenefitConsignment.agent_id == agent_id if agent_id else BenefitConsignment.id.is_not(None)
    rows = db.session.execute(
        select(BenefitConsignment, Agent.name, BenefitSku.name, AgentLevel.name)
        .join(Agent, Agent.id == BenefitConsignment.agent_id)
        .join(BenefitSku, BenefitSku.id == BenefitConsignment.sku_id)
        .join(AgentLevel, AgentLevel.id == BenefitConsignment.agent_level_id)
        .where(where)
        .order_by(BenefitConsignment.created_at.desc(), BenefitConsignment.id)
    ).all()
    counts, places = _outcome_counts(where), _redeemed_at(where)
    result = []
    for consignment, agent_name, sku_name, level_name in rows:
        outcome = counts.get(consignment.id, dict.fromkeys(OUTCOMES, 0))
        result.append(
            {
                "id": consignment.id,
                "agent_id": consignment.agent_id,
                "agent_name": agent_name,
                "sku_id": consignment.sku_id,
                "sku_name": sku_name,
                "level_name": level_name,
                "quantity": consignment.quantity,
                "unit_price_fen": consignment.unit_price_fen,
                "amount_fen": consignment.amount_fen,
                "invoice_no": consignment.invoice_no,
                "status": consignment.status,
                "created_at": consignment.created_at,
                "paid_at": consignment.paid_at,
                **outcome,
                "redeemed_at": places.get(consignment.id, []),
            }
        )
    return result


def agent_benefit_stock(agent_id: str, limit: int = 200) -> list[dict]:
    """The codes consigned to the agent (newest consignment first), masked: the last four, expiry, state,
    and where a redeemed one was redeemed; never the code or its secret."""
    rows = db.session.execute(
        select(BenefitCode, BenefitSku.name, Merchant.name, BenefitConsignment.invoice_no)
        .join(BenefitConsignmentCode, BenefitConsignmentCode.code_id == BenefitCode.id)
        .join(BenefitConsignment, BenefitConsignment.id == BenefitConsignmentCode.consignment_id)
        .join(BenefitSku, BenefitSku.id == BenefitCode.sku_id)
        .outerjoin(Merchant, Merchant.id == BenefitCode.redeemed_merchant_id)
        .where(BenefitConsignment.agent_id == agent_id)
        .order_by(BenefitConsignment.created_at.desc(), BenefitCode.expires_on, BenefitCode.id)
        .limit(limit)
    ).all()
    return [
        {
            "masked": f"****{code.last4}",
            "sku_name": sku_name,
            "invoice_no": invoice_no,
            "expires_on": code.expires_on,
            "status": code.status,
            "handed_on": code.member_id is not None,
            "redeemed_merchant": merchant_name or "",
            "redeemed_at": code.redeemed_at,
        }
        for code, sku_name, merchant_name, invoice_no in rows
    ]


def consignable_agents() -> list[Agent]:
    """Active agents, by name."""
    return list(
        db.session.scalars(select(Agent).where(Agent.status.in_(CONSIGNABLE_AGENT_STATUSES)).order_by(Agent.name))
    )
