"""The bonus pool (奖金池 / 储备金): accrual per month, distribution at month end, reversal until paid.

Rules: ``server/domain/bonus_pool.py``. Money (``server/services/money_ledger.py``), each posting once:

- ``bonus:<period>:accrual``: the platform's fee income → bonus pool (distributable) + reserve; the
  period's fee income is what the day closings of its business days posted into the fee income account;
- ``bonus:<period>:distribution:<round>``: bonus pool → each agent's pending account (its share);
- a reversal (only before the shares are paid) posts the correction of that distribution: the shares go
  back to the pool; the period can be distributed again (next round);
- ``bonus:<period>:paid``: each agent's share pending → available (it can be withdrawn from then on).

Contributions come from the agents' evaluation of the period (``agent_evaluations``: serviced GMV and the
health score), or, when the period was not evaluated, from the same figures computed now
(``server/services/agent_evaluation.py``). Nothing about an agent's team enters them. Every step is audited.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from server.domain import money_ledger as money
from server.domain.agent_network import HEALTH_SCORE, SERVICED_GMV_FEN
from server.domain.bonus_pool import Contribution, PoolPolicy, accrue, distribute, weight
from server.domain.errors import Conflict, NotFound
from server.domain.statuses import AgentStatus, BonusDistributionStatus
from server.extensions import db
from server.models import Agent, AgentEvaluation, BonusPoolPeriod, BonusShare, MoneyEntry, MoneyTransaction
from server.models.base import utcnow
from server.services import agent_evaluation
from server.services import money_ledger as ledger
from server.services.alliance import current_settings
from server.services.audit import audit
from server.services.unit_of_work import transactional
from server.services.withdrawals import payout_policy

BONUS_ACCRUED = "bonus_accrued"
BONUS_DISTRIBUTED = "bonus_distributed"
BONUS_PAID = "bonus_paid"


def pool_policy() -> PoolPolicy:
    row = payout_policy()
    return PoolPolicy(row.bonus_pool_share_bp, row.bonus_reserve_share_bp, row.bonus_min_health_score)


def _period(name: str):
    return agent_evaluation.period_of(name, current_settings().timezone)


def period_fee_income(name: str) -> int:
    """The platform's fee income of the period: the service fees the day closings of its business days
    posted into the fee income account (``service_fees`` transactions; within-fee commission already out)."""
    period = _period(name)
    first, last = period.start.astimezone(_zone()).date(), period.end.astimezone(_zone()).date()
    income = ledger.alliance_account(money.FEE_INCOME)
    return int(
        db.session.scalar(
            select(func.coalesce(func.sum(MoneyEntry.amount), 0))
            .join(MoneyTransaction, MoneyTransaction.id == MoneyEntry.transaction_id)
            .where(
                MoneyEntry.account_id == income,
                MoneyTransaction.kind == money.SERVICE_FEES,
                MoneyTransaction.business_day >= first,
                MoneyTransaction.business_day < last,
            )
        )
    )


def _zone():
    from zoneinfo import ZoneInfo

    return ZoneInfo(current_settings().timezone)


def _ended(name: str, now: datetime) -> None:
    if _period(name).end > now:
        raise Conflict("The period has not ended yet.", period=name)


def _accrue(actor: str, name: str) -> BonusPoolPeriod:
    row = db.session.scalar(select(BonusPoolPeriod).where(BonusPoolPeriod.period == name).with_for_update())
    if row is not None:
        return row
    policy = pool_policy()
    accrual = accrue(period_fee_income(name), policy)
    row = BonusPoolPeriod(
        period=name,
        status=BonusDistributionStatus.ACCRUED,
        fee_income_fen=accrual.fee_income_fen,
        pool_fen=accrual.pool_fen,
        reserve_fen=accrual.reserve_fen,
        pool_share_bp=policy.pool_share_bp,
        reserve_share_bp=policy.reserve_share_bp,
        accrued_by=actor,
    )
    db.session.add(row)
    db.session.flush()
    ledger.post(
        BONUS_ACCRUED,
        f"bonus:{name}:accrual",
        [
            money.Posting(ledger.alliance_account(money.FEE_INCOME), -accrual.accrued_fen),
            money.Posting(ledger.alliance_account(money.BONUS_POOL), accrual.pool_fen),
            money.Posting(ledger.alliance_account(money.BONUS_RESERVE), accrual.reserve_fen),
        ],
        actor,
        memo=name,
    )
    audit(actor, "bonus_pool.accrue", "bonus_pool", name, pool_fen=accrual.pool_fen, reserve_fen=accrual.reserve_fen)
    return row


@transactional
def accrue_period(actor: str, name: str, now: datetime | None = None) -> BonusPoolPeriod:
    """Put the ended period's share of fee income into the pool and the reserve (once)."""
    _ended(name, now or utcnow())
    return _accrue(actor, name)


def contributions(name: str) -> dict[str, Contribution]:
    """Each agent's own serviced GMV and health score of the period (evaluations, else computed now)."""
    evaluated = db.session.execute(
        select(AgentEvaluation.agent_id, AgentEvaluation.figures, AgentEvaluation.health_score).where(
            AgentEvaluation.period == name
        )
    ).all()
    if evaluated:
        return {
            agent_id: Contribution(int((figures or {}).get(SERVICED_GMV_FEN, 0)), int(health))
            for agent_id, figures, health in evaluated
        }
    active = set(db.session.scalars(select(Agent.id).where(Agent.status == AgentStatus.ACTIVE)))
    figures = agent_evaluation.period_figures(_period(name))
    return {
        agent_id: Contribution(
            int(values.get(SERVICED_GMV_FEN, 0)),
            int(values.get(HEALTH_SCORE, agent_evaluation.agent_health(values))),
        )
        for agent_id, values in figures.items()
        if agent_id in active
    }


def _distribution_key(name: str, round_: int) -> str:
    return f"bonus:{name}:distribution:{round_}"


@transactional
def distribute_period(actor: str, name: str, now: datetime | None = None) -> BonusPoolPeriod:
    """Share the ended period's distributable amount among agents by their own contribution (once per round)."""
    _ended(name, now or utcnow())
    row = _accrue(actor, name)
    if row.status != BonusDistributionStatus.ACCRUED:
        return row  # distributed already (a retry); reverse it first to distribute again
    policy = pool_policy()
    found = contributions(name)
    shares = distribute(row.pool_fen, found, policy)
    row.round += 1
    for agent_id in sorted(found):
        contribution = found[agent_id]
        db.session.add(
            BonusShare(
                period=name,
                round=row.round,
                agent_id=agent_id,
                serviced_gmv_fen=contribution.serviced_gmv_fen,
                health_score=contribution.health_score,
                weight=weight(contribution, policy),
                share_fen=shares.get(agent_id, 0),
            )
        )
    total = sum(shares.values())
    postings = [money.Posting(ledger.alliance_account(money.BONUS_POOL), -total)]
    postings += [
        money.Posting(ledger.account(money.AGENT, agent_id, money.PENDING), share)
        for agent_id, share in sorted(shares.items())
    ]
    ledger.post(BONUS_DISTRIBUTED, _distribution_key(name, row.round), postings, actor, memo=name)
    row.status = BonusDistributionStatus.DISTRIBUTED
    row.distributed_fen, row.distributed_at, row.distributed_by = total, utcnow(), actor
    audit(
        actor, "bonus_pool.distribute", "bonus_pool", name, round=row.round, distributed_fen=total, agents=len(shares)
    )
    return row


def _locked(name: str) -> BonusPoolPeriod:
    row = db.session.scalar(select(BonusPoolPeriod).where(BonusPoolPeriod.period == name).with_for_update())
    if row is None:
        raise NotFound("No bonus pool for this period.", period=name)
    return row


@transactional
def reverse_distribution(actor: str, name: str, reason: str = "") -> BonusPoolPeriod:
    """Take a distribution back before it is paid: the shares return to the pool."""
    row = _locked(name)
    if row.status != BonusDistributionStatus.DISTRIBUTED:
        raise Conflict("Only a distribution not yet paid can be reversed.", status=row.status)
    transaction_id = db.session.scalar(
        select(MoneyTransaction.id).where(MoneyTransaction.source_key == _distribution_key(name, row.round))
    )
    ledger.reverse(transaction_id, actor, memo=f"{name} {reason}"[:200])
    for share in db.session.scalars(select(BonusShare).where(BonusShare.period == name, BonusShare.round == row.round)):
        share.reversed = True
    row.status, row.distributed_fen = BonusDistributionStatus.ACCRUED, 0
    audit(actor, "bonus_pool.reverse", "bonus_pool", name, round=row.round, reason=reason)
    return row


@transactional
def pay_distribution(actor: str, name: str) -> BonusPoolPeriod:
    """Make the shares available to the agents (final: no reversal after this)."""
    row = _locked(name)
    if row.status == BonusDistributionStatus.PAID:
        return row
    if row.status != BonusDistributionStatus.DISTRIBUTED:
        raise Conflict("Distribute the pool before paying it.", status=row.status)
    postings = []
    for share in shares_of(name):
        postings += money.transfer(
            ledger.account(money.AGENT, share.agent_id, money.PENDING),
            ledger.account(money.AGENT, share.agent_id, money.AVAILABLE),
            share.share_fen,
        )
    ledger.post(BONUS_PAID, f"bonus:{name}:paid", postings, actor, memo=name)
    row.status, row.paid_at, row.paid_by = BonusDistributionStatus.PAID, utcnow(), actor
    audit(actor, "bonus_pool.pay", "bonus_pool", name, paid_fen=row.distributed_fen)
    return row


def shares_of(name: str) -> list[BonusShare]:
    """The current round's shares (positive ones), largest first."""
    row = db.session.get(BonusPoolPeriod, name)
    if row is None:
        return []
    return list(
        db.session.scalars(
            select(BonusShare)
            .where(BonusShare.period == name, BonusShare.round == row.round, BonusShare.share_fen > 0)
            .order_by(BonusShare.share_fen.desc(), BonusShare.agent_id)
        )
    )


def list_periods(limit: int = 120) -> list[BonusPoolPeriod]:
    return list(db.session.scalars(select(BonusPoolPeriod).order_by(BonusPoolPeriod.period.desc()).limit(limit)))


def pool_balances() -> dict[str, int]:
    return {
        kind: ledger.balance(money.ALLIANCE, money.ALLIANCE_OWNER_ID, kind)
        for kind in (money.BONUS_POOL, money.BONUS_RESERVE)
    }
