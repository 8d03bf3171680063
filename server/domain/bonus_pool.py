"""The bonus pool (奖金池) and its reserve (储备金): pure rules over integer fen.

**Accrual.** For each period (a calendar month ``YYYY-MM``) a share of the platform's fee income goes
into the pool: ``accrued = fee_income × pool_share_bp`` rounded down (the platform never gives more
than the share says). Of what accrues, ``reserve_share_bp`` goes to the reserve (rounded down), which
stays in the pool for lean periods; the rest is the period's distributable amount.

**Distribution.** At period end the distributable amount is shared among agents **by their own
contribution only**: ``weight = serviced GMV of the period × health factor`` where the serviced GMV is
the consumption at the merchants the agent itself services (net of refunds) and the health factor is
the agent's health score of the period (0–100, ``server/domain/agent_levels.py``), counted as 0 below
``min_health_score``. Nothing else enters the weight: not the volume of the agent's subordinates, not
how many agents or members it recruited — the function takes only each agent's own figures, so a
recruited agent with no sales of its own changes no one's share. (Paying on a downline's volume or on
headcount is 团队计酬 / 拉人头 under 禁止传销条例 art. 7.)

Shares are allocated by the **largest remainder** method so they sum exactly to the amount: each agent
first gets ``floor(amount × weight / total_weight)``; the fen left over go one each to the agents with
the largest remainders (ties: the smaller agent id first, so the result is deterministic). With no
positive weight nothing is distributed and the amount stays in the pool.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from alliance_shared.money import BP_SCALE, granted_at_rate

MAX_HEALTH = 100


@dataclass(frozen=True)
class PoolPolicy:
    pool_share_bp: int = 1_000  # 10 % of the platform's fee income
    reserve_share_bp: int = 2_000  # 20 % of what accrues stays in the reserve
    min_health_score: int = 0  # agents below it get nothing this period


@dataclass(frozen=True)
class Accrual:
    fee_income_fen: int
    pool_fen: int  # distributable at period end
    reserve_fen: int

    @property
    def accrued_fen(self) -> int:
        return self.pool_fen + self.reserve_fen


def check_policy(policy: PoolPolicy) -> PoolPolicy:
    for name in ("pool_share_bp", "reserve_share_bp"):
        value = getattr(policy, name)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= BP_SCALE:
            raise ValueError(f"{name} must be 0..{BP_SCALE}")
    if not 0 <= policy.min_health_score <= MAX_HEALTH:
        raise ValueError("min_health_score must be 0..100")
    return policy


def accrue(fee_income_fen: int, policy: PoolPolicy) -> Accrual:
    """What a period's fee income puts into the pool and the reserve (a negative income accrues nothing)."""
    check_policy(policy)
    accrued = granted_at_rate(max(fee_income_fen, 0), policy.pool_share_bp)
    reserve = granted_at_rate(accrued, policy.reserve_share_bp)
    return Accrual(fee_income_fen, accrued - reserve, reserve)


@dataclass(frozen=True)
class Contribution:
    """One agent's own figures of the period: nothing about its team."""

    serviced_gmv_fen: int
    health_score: int


def weight(contribution: Contribution, policy: PoolPolicy) -> int:
    """Serviced GMV × health factor (0 for a negative GMV or a health under the policy's minimum)."""
    health = min(max(contribution.health_score, 0), MAX_HEALTH)
    if health < policy.min_health_score:
        return 0
    return max(contribution.serviced_gmv_fen, 0) * health


def largest_remainder(amount_fen: int, weights: Mapping[str, int]) -> dict[str, int]:
    """Share ``amount_fen`` by ``weights`` exactly (sum == amount; {} when no weight is positive)."""
    if amount_fen < 0:
        raise ValueError("amount_fen must not be negative")
    positive = {key: w for key, w in weights.items() if w > 0}
    total = sum(positive.values())
    if not positive or amount_fen == 0:
        return {}
    shares, remainders = {}, []
    for key, w in positive.items():
        share, remainder = divmod(amount_fen * w, total)
        shares[key] = share
        remainders.append((-remainder, key))
    left = amount_fen - sum(shares.values())
    for _, key in sorted(remainders)[:left]:
        shares[key] += 1
    return {key: share for key, share in shares.items() if share > 0}


def distribute(amount_fen: int, contributions: Mapping[str, Contribution], policy: PoolPolicy) -> dict[str, int]:
    """Each agent's share of the period's distributable ``amount_fen``, by its own contribution only."""
    check_policy(policy)
    return largest_remainder(amount_fen, {agent: weight(c, policy) for agent, c in contributions.items()})
