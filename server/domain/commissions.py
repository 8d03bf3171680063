"""Commissions (分润) on one real purchase: who earns what, from the attribution snapshotted on the sale.

Commission is paid only on consumption: every amount is a rate of one sale's base, so no sign-up,
activation or head ever earns anything (a sale of 0 fen pays 0). The roles on one sale:

- ``servicing`` (depth 0): the agent servicing the merchant where the member bought, at its level's
  rate (``AgentLevel.commission_rate_bp``) or the merchant's override in the policy;
- ``recruiter`` (depth 0): the agent who recruited the member, at the policy's recruiter rate; or, for
  a member invited by another member, that promoter member (推广会员) at the member recruiter rate;
- ``management`` (depth 1, 2): the servicing agent's upper agents, each a share of the commission one
  level below (团队计酬: off by default, on only with an acknowledgement; the chain, servicing agent
  included, never goes beyond ``HARD_MAX_DEPTH`` = 3 levels);
- ``regional`` (depth 0): the compliant alternative, a regional management fee on the GMV of merchants
  in the agent's territory, paid from the platform's own fee income (not by the merchant).

The envelope caps the total on one sale at ``envelope_bp`` of the base: roles take their amount in
the order above, each clipped to what is left (``clipped_i = max(0, min(raw_i, cap − Σ raw_j<i))``).
Every amount rounds down to the fen. The day closing computes the same rule in SQL for a whole day at
once (server/services/commissions.py); a test proves the two equal.

Refunds reverse in proportion, cumulatively exact: after refunds of ``refunded`` out of ``paid``,
``reversed_total = amount`` when fully refunded, else ``amount × refunded // paid``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from server.domain.errors import InvalidRequest

BP = 10_000
HARD_MAX_DEPTH = 3  # levels of the chain paid on one sale, the servicing agent (the top of the sale) included

SERVICING = "servicing"
RECRUITER = "recruiter"
MANAGEMENT = "management"
REGIONAL = "regional"
ROLES = (SERVICING, RECRUITER, MANAGEMENT, REGIONAL)

BASE_PAID = "paid"  # the sale's paid amount (实付)
BASE_SERVICE_FEE = "service_fee"  # the merchant's service fee on the sale
BASES = (BASE_PAID, BASE_SERVICE_FEE)

FUNDING_ON_TOP = "on_top"  # the merchant pays commission besides its service fee
FUNDING_WITHIN_FEE = "within_fee"  # commission is carved out of the service fee the merchant pays
FUNDINGS = (FUNDING_ON_TOP, FUNDING_WITHIN_FEE)

AGENT = "agent"
MEMBER = "member"


@dataclass(frozen=True)
class Policy:
    """One version of the commission policy (stored as data; a change is a new version)."""

    version: int = 0
    base: str = BASE_PAID
    funding: str = FUNDING_ON_TOP
    envelope_bp: int = 3_000
    recruiter_rate_bp: int = 100
    member_recruiter_rate_bp: int = 0
    management_enabled: bool = False
    management_rate_bp: int = 500
    management_depth: int = 1
    regional_fee_bp: int = 0
    return_window_days: int = 7
    merchant_rates: dict[str, int] = field(default_factory=dict)  # servicing rate overrides, by merchant
    merchant_windows: dict[str, int] = field(default_factory=dict)  # return window overrides, by merchant

    def rate_for(self, merchant_id: str, level_rate_bp: int) -> int:
        """The servicing agent's rate at ``merchant_id``."""
        return self.merchant_rates.get(merchant_id, level_rate_bp)

    def window_for(self, merchant_id: str) -> int:
        """The merchant's return window in days."""
        return self.merchant_windows.get(merchant_id, self.return_window_days)


def check_policy(policy: Policy) -> None:
    """Refuse a policy that is not within the rules (bp ranges, depth, management acknowledgement)."""
    for name in ("envelope_bp", "recruiter_rate_bp", "member_recruiter_rate_bp", "management_rate_bp"):
        if not 0 <= getattr(policy, name) <= BP:
            raise InvalidRequest("A rate is 0 to 10000 basis points.", field=name)
    if not 0 <= policy.regional_fee_bp <= BP:
        raise InvalidRequest("A rate is 0 to 10000 basis points.", field="regional_fee_bp")
    if policy.base not in BASES:
        raise InvalidRequest("Unknown commission base.", field="base")
    if policy.funding not in FUNDINGS:
        raise InvalidRequest("Unknown commission funding.", field="funding")
    if not 1 <= policy.management_depth <= HARD_MAX_DEPTH - 1:
        raise InvalidRequest(
            "Management commission reaches at most 2 upper levels (3 levels including the top).",
            field="management_depth",
        )
    if not 0 <= policy.return_window_days <= 365:
        raise InvalidRequest("A return window is 0 to 365 days.", field="return_window_days")
    for merchant_id, rate in policy.merchant_rates.items():
        if not 0 <= rate <= BP:
            raise InvalidRequest("A rate is 0 to 10000 basis points.", field="merchant_rates", merchant_id=merchant_id)
    for merchant_id, days in policy.merchant_windows.items():
        if not 0 <= days <= 365:
            raise InvalidRequest("A return window is 0 to 365 days.", field="merchant_windows", merchant_id=merchant_id)


@dataclass(frozen=True)
class SaleFacts:
    """What the commissions of one sale depend on (its attribution snapshot and the day's terms)."""

    sale_id: str
    merchant_id: str
    paid_fen: int
    service_fee_fen: int = 0
    servicing_agent_id: str | None = None
    servicing_level_rate_bp: int = 0
    recruiting_agent_id: str | None = None
    recruiting_member_id: str | None = None
    upper_agent_ids: tuple[str, ...] = ()  # the servicing agent's upper agent, its upper, …
    regional_agent_id: str | None = None


@dataclass(frozen=True)
class Commission:
    """One commission entry: beneficiary, role, depth, base, rate and amount (fen, after the envelope)."""

    beneficiary_kind: str
    beneficiary_id: str
    role: str
    depth: int
    base_fen: int
    rate_bp: int
    amount_fen: int


def at_rate(base_fen: int, rate_bp: int) -> int:
    """``base × rate`` rounded down to the fen (a commission never rounds up)."""
    return max(base_fen, 0) * rate_bp // BP


def service_fee(paid_fen: int, fee_bp: int, per_sale_fen: int) -> int:
    """The merchant's service fee on one sale: ``fee_bp`` of the paid amount rounded half up, plus the per-sale fee."""
    return (paid_fen * fee_bp + BP // 2) // BP + per_sale_fen


def sale_base(policy: Policy, facts: SaleFacts) -> int:
    """The base the rates apply to."""
    return facts.paid_fen if policy.base == BASE_PAID else facts.service_fee_fen


def sale_commissions(policy: Policy, facts: SaleFacts) -> list[Commission]:
    """Every commission of one sale, in role order, clipped to the envelope; zero amounts left out."""
    if facts.paid_fen <= 0:
        return []  # no money paid, no commission (not even on a per-sale fee)
    base = max(sale_base(policy, facts), 0)
    raw: list[Commission] = []
    if facts.servicing_agent_id:
        rate = policy.rate_for(facts.merchant_id, facts.servicing_level_rate_bp)
        raw.append(Commission(AGENT, facts.servicing_agent_id, SERVICING, 0, base, rate, at_rate(base, rate)))
    if facts.recruiting_agent_id:
        rate = policy.recruiter_rate_bp
        raw.append(Commission(AGENT, facts.recruiting_agent_id, RECRUITER, 0, base, rate, at_rate(base, rate)))
    elif facts.recruiting_member_id:
        rate = policy.member_recruiter_rate_bp
        raw.append(Commission(MEMBER, facts.recruiting_member_id, RECRUITER, 0, base, rate, at_rate(base, rate)))
    if policy.management_enabled and facts.servicing_agent_id:
        below = raw[0].amount_fen
        for depth, upper in enumerate(facts.upper_agent_ids[: policy.management_depth], start=1):
            if depth >= HARD_MAX_DEPTH:
                break
            amount = at_rate(below, policy.management_rate_bp)
            raw.append(Commission(AGENT, upper, MANAGEMENT, depth, below, policy.management_rate_bp, amount))
            below = amount
    if facts.regional_agent_id and policy.regional_fee_bp:
        rate = policy.regional_fee_bp
        raw.append(Commission(AGENT, facts.regional_agent_id, REGIONAL, 0, base, rate, at_rate(base, rate)))
    return [entry for entry in envelope(raw, at_rate(base, policy.envelope_bp)) if entry.amount_fen > 0]


def envelope(raw: list[Commission], cap_fen: int) -> list[Commission]:
    """Clip each amount, in order, to what the cap leaves after the raw amounts before it."""
    clipped, before = [], 0
    for entry in raw:
        amount = max(0, min(entry.amount_fen, cap_fen - before))
        before += entry.amount_fen
        clipped.append(Commission(**{**entry.__dict__, "amount_fen": amount}))
    return clipped


def reversed_total(amount_fen: int, refunded_fen: int, paid_fen: int) -> int:
    """What refunds of ``refunded_fen`` out of ``paid_fen`` take back of a commission, cumulatively."""
    if refunded_fen <= 0:
        return 0
    if paid_fen <= 0 or refunded_fen >= paid_fen:
        return amount_fen
    return amount_fen * refunded_fen // paid_fen
