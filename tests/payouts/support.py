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
    """A closed settlement of ``day`` whose service fee is ``fen`` (the platform's fee income)."""
    from datetime import UTC, datetime

    from server.extensions import db
    from server.models import Settlement, SettlementDay

    with transaction():
        if db.session.get(SettlementDay, day) is None:
            moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
            db.session.add(
                SettlementDay(
                    business_day=day,
                    window_start=moment,
                    window_end=moment,
                    point_value_fen=1,
                    merchants=1,
                    net_fen=0,
                    closed_by=ACTOR,
                )
            )
            db.session.flush()
        zero = dict.fromkeys(
            [
                "sales_count",
                "member_sales_fen",
                "points_earned",
                "points_redeemed",
                "refunds_count",
                "refunds_fen",
                "points_reversed",
                "points_restored",
                "fee_bp",
                "fee_per_sale_fen",
                "points_granted",
                "points_accepted",
                "granted_value_fen",
                "accepted_value_fen",
                "commission_fen",
                "net_fen",
            ],
            0,
        )
        db.session.add(
            Settlement(merchant_id=merchant_id, business_day=day, point_value_fen=1, service_fee_fen=fen, **zero)
        )
