"""Agents with money to withdraw, for the withdrawal and bonus pool tests."""

from __future__ import annotations

import itertools

from server.domain import money_ledger as money
from server.services import agents
from server.services import money_ledger as ledger
from server.services.alliance import ensure_alliance
from server.services.unit_of_work import transaction

ACTOR = "test:finance"
_phones = itertools.count(13_900_000_000)
_keys = itertools.count(1)

BANK = {"channel": "bank_file", "payee_name": "张三", "account_number": "6222020200112233445", "bank": "中国工商银行"}


def make_agent(kind: str = "person", name: str = "测试代理", fund_fen: int = 0, upper_agent_id: str | None = None):
    with transaction():
        ensure_alliance()
        agent = agents.create_agent(
            ACTOR, kind=kind, name=name, phone=str(next(_phones)), upper_agent_id=upper_agent_id
        )
    if fund_fen:
        fund(agent.id, fund_fen)
    return agent


def fund(agent_id: str, fen: int, key: str | None = None) -> None:
    """Commission that became available (as the day closing and release would post it)."""
    with transaction():
        ledger.post(
            money.COMMISSION_RELEASED,
            key or f"test-fund:{next(_keys)}",
            money.transfer(
                ledger.account(money.MERCHANT, "mer_test", money.MERCHANT_COMMISSION_PAYABLE),
                ledger.account(money.AGENT, agent_id, money.AVAILABLE),
                fen,
            ),
            ACTOR,
        )


def owe(agent_id: str, fen: int) -> None:
    """A refund after the commission was available: the agent's debt."""
    with transaction():
        ledger.post(
            money.COMMISSION_CLAWBACK,
            f"test-debt:{next(_keys)}",
            money.transfer(
                ledger.account(money.AGENT, agent_id, money.DEBT),
                ledger.account(money.MERCHANT, "mer_test", money.MERCHANT_COMMISSION_PAYABLE),
                fen,
            ),
            ACTOR,
        )


def evaluate(agent_id: str, period: str, serviced_gmv_fen: int, health_score: int) -> None:
    """An agent's evaluation record of a period (what `agents evaluate` writes), with these figures."""
    from server.domain.agent_network import SERVICED_GMV_FEN
    from server.extensions import db
    from server.models import Agent, AgentEvaluation

    with transaction():
        level = db.session.get(Agent, agent_id).level_id
        db.session.add(
            AgentEvaluation(
                agent_id=agent_id,
                period=period,
                figures={SERVICED_GMV_FEN: serviced_gmv_fen, "health_score": health_score},
                health_score=health_score,
                level_before_id=level,
                level_after_id=level,
                outcome="kept",
                reasons=[],
            )
        )


def fee_income(day, fen: int, merchant_id: str) -> None:
    """The service fee of ``day`` as the day closing posts it into the platform's fee income."""
    from server.services.commissions import post_service_fees

    with transaction():
        post_service_fees(day, {merchant_id: fen}, ACTOR)
