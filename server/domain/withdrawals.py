"""Withdrawals (提现) of an agent's available commission (pure rules, integer fen).

A withdrawal of ``amount_fen`` (gross: what leaves the agent's available balance) is refused unless:

- the agent has no debt (a refund after commission became available left a negative entry; it must be
  cleared by later commissions first);
- ``amount_fen`` is at least the policy's minimum and at most what is available;
- the agent's withdrawals requested on the same local day (not rejected) plus this one stay within the
  daily maximum;
- the fee and the tax leave a positive net amount.

The fee is ``fee_fixed_fen + fee_bp × amount`` (the rate part half up), the tax is
``server/domain/tax.py``; the agent receives ``net = amount − fee − tax``. The split is exact.

Lifecycle: requested → approved → paid | failed, or requested → rejected. Money at each step
(accounts of the money ledger): requesting moves ``amount`` from the agent's available account to
payouts in transit (so two requests can never spend the same money); rejecting or a failed payout moves
it back; a paid payout moves it out of transit into the agent's paid account (net), the tax withheld
account (tax) and the platform's fee income (fee).
"""

from __future__ import annotations

from dataclasses import dataclass

from alliance_shared.money import MAX_AMOUNT_FEN, price_at_rate
from server.domain.errors import WithdrawalRefused
from server.domain.statuses import WithdrawalStatus
from server.domain.tax import tax_withheld


@dataclass(frozen=True)
class WithdrawalPolicy:
    """The alliance's withdrawal settings (``agent_policy`` row)."""

    minimum_fen: int = 10_000  # 100 元
    daily_maximum_fen: int = 5_000_000  # 5 万元
    fee_fixed_fen: int = 0
    fee_bp: int = 0
    tax_rate_bp: int = 2_000  # 20 % for individual agents (劳务报酬 withholding, before deductions)


# The bounds of each payout policy setting (server/services/withdrawals.py: update_payout_policy; the API
# documents them): money in fen, rates in basis points. Tax is capped at 45 % (the top individual income tax
# bracket); the minimum must not exceed the daily maximum (a rule across fields).
POLICY_BOUNDS: dict[str, tuple[int, int]] = {
    "withdrawal_minimum_fen": (1, 100_000_000),  # 1 分 .. 100 万元
    "withdrawal_daily_maximum_fen": (1, 1_000_000_000),  # .. 1000 万元
    "withdrawal_fee_fixed_fen": (0, 1_000_000),  # .. 1 万元
    "withdrawal_fee_bp": (0, 10_000),
    "tax_rate_bp": (0, 4_500),
    "bonus_pool_share_bp": (0, 10_000),
    "bonus_reserve_share_bp": (0, 10_000),
    "bonus_min_health_score": (0, 100),
}


def out_of_bounds(settings: dict) -> str | None:
    """The first setting of ``settings`` that is not a whole number within its bounds (None: all fit)."""
    for name, value in settings.items():
        if name not in POLICY_BOUNDS:
            continue
        low, high = POLICY_BOUNDS[name]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            return name
    return None


@dataclass(frozen=True)
class WithdrawalSplit:
    amount_fen: int
    fee_fen: int
    tax_fen: int

    @property
    def net_fen(self) -> int:
        return self.amount_fen - self.fee_fen - self.tax_fen


def withdrawal_fee(amount_fen: int, policy: WithdrawalPolicy) -> int:
    return policy.fee_fixed_fen + price_at_rate(amount_fen, policy.fee_bp)


def split_withdrawal(amount_fen: int, agent_kind: str, policy: WithdrawalPolicy) -> WithdrawalSplit:
    """Fee and tax of a withdrawal of ``amount_fen``."""
    return WithdrawalSplit(
        amount_fen, withdrawal_fee(amount_fen, policy), tax_withheld(amount_fen, agent_kind, policy.tax_rate_bp)
    )


def check_withdrawal(
    amount_fen: int,
    *,
    agent_kind: str,
    available_fen: int,
    debt_fen: int,
    requested_today_fen: int,
    policy: WithdrawalPolicy,
) -> WithdrawalSplit:
    """The split of an allowed withdrawal; raise WithdrawalRefused (with the reason) otherwise."""
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or not 0 < amount_fen <= MAX_AMOUNT_FEN:
        raise WithdrawalRefused("The amount is not valid.", reason="amount")
    if debt_fen > 0:
        raise WithdrawalRefused("Withdrawals are blocked while you have a commission debt.", reason="debt")
    if amount_fen < policy.minimum_fen:
        raise WithdrawalRefused("The amount is below the minimum withdrawal.", reason="minimum")
    if amount_fen > available_fen:
        raise WithdrawalRefused("The amount exceeds your available balance.", reason="available")
    if requested_today_fen + amount_fen > policy.daily_maximum_fen:
        raise WithdrawalRefused("The amount exceeds today's withdrawal maximum.", reason="daily_maximum")
    split = split_withdrawal(amount_fen, agent_kind, policy)
    if split.net_fen <= 0:
        raise WithdrawalRefused("The fee and tax would take the whole amount.", reason="net")
    return split


# Which status each action leads from; anything else is a Conflict in the service.
TRANSITIONS: dict[str, tuple[WithdrawalStatus, ...]] = {
    "approve": (WithdrawalStatus.REQUESTED,),
    "reject": (WithdrawalStatus.REQUESTED,),
    "pay": (WithdrawalStatus.APPROVED,),
    "fail": (WithdrawalStatus.APPROVED,),
}

OUTCOME: dict[str, WithdrawalStatus] = {
    "approve": WithdrawalStatus.APPROVED,
    "reject": WithdrawalStatus.REJECTED,
    "pay": WithdrawalStatus.PAID,
    "fail": WithdrawalStatus.FAILED,
}


def may(action: str, status: str) -> bool:
    return status in TRANSITIONS[action]
