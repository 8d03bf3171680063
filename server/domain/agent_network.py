"""The agent network's compliance rules (禁止传销条例 art. 7) and lifecycle, as pure functions.

- **Chain depth**: an agent chain (an agent, its upper agent, that one's upper ...) is at most
  ``chain_max_depth`` agents long, counting the top; the alliance sets it (default 2) and can never set it
  above :data:`HARD_MAX_CHAIN_DEPTH` (3).
- **No cycles, no binding to oneself**: the upper-agent links always form a forest.
- **No fee, no purchase, no pay for recruiting**: nothing in the data model charges an agent to join or to
  rise (an agent and a level have no such field), and a level's conditions may only name the metrics of
  :data:`LEVEL_METRICS` — real consumption, active members, activity, team activity (gating only) and
  health. A condition on the agent's own payments or purchases, or on bare recruitment (sign-ups,
  headcount), is refused by :func:`check_condition_metric`. A level's terms are a commission rate on
  consumption and a purchase discount: nothing is paid per person recruited.

Upper agents are given as a mapping ``agent id → upper agent id or None`` of the whole network.
"""

from __future__ import annotations

from collections.abc import Mapping

from server.domain.errors import (
    AgentChainCycle,
    AgentChainTooDeep,
    AgentRuleNotAllowed,
    AgentSelfUpper,
    Conflict,
    InvalidRequest,
)
from server.domain.statuses import AgentStatus

HARD_MAX_CHAIN_DEPTH = 3
DEFAULT_CHAIN_MAX_DEPTH = 2

# The metrics a level condition may use (figures computed by the evaluation).
SERVICED_GMV_FEN = "serviced_gmv_fen"  # members' consumption at merchants the agent services, net of refunds
ACTIVE_RECRUITED_MEMBERS = "active_recruited_members"  # members the agent recruited who consumed in the period
ACTIVATED_CARDS = "activated_cards"  # cards of the agent's members first used in the period
ACTIVE_DAYS = "active_days"  # days of the period with consumption at serviced merchants or by recruited members
MERCHANTS_WITH_SALES = "merchants_with_sales"  # serviced merchants with at least one sale in the period
ACTIVE_SUBORDINATES = "active_subordinates"  # direct subordinates active on at least `parameter` days
HEALTH_SCORE = "health_score"  # 0-100 (server/domain/agent_levels.py)

PERFORMANCE_METRICS = (SERVICED_GMV_FEN, ACTIVE_RECRUITED_MEMBERS, ACTIVATED_CARDS)
ACTIVITY_METRICS = (ACTIVE_DAYS, MERCHANTS_WITH_SALES)
TEAM_METRICS = (ACTIVE_SUBORDINATES,)
LEVEL_METRICS = (*PERFORMANCE_METRICS, *ACTIVITY_METRICS, *TEAM_METRICS, HEALTH_SCORE)

# Named so the refusal can say why: what an agent pays or buys, and bare headcount, never rank an agent.
PAYMENT_METRICS = frozenset(
    {
        "entry_fee_fen",
        "fee_paid_fen",
        "deposit_fen",
        "own_purchase_fen",
        "purchase_fen",
        "purchased_cards",
        "payment_fen",
        "stock_purchase_fen",
    }
)
RECRUITMENT_METRICS = frozenset(
    {"recruited_members", "signups", "headcount", "team_size", "downline_count", "recruited_agents", "subordinates"}
)

ALLOWED_STATUS_CHANGES: dict[AgentStatus, frozenset[AgentStatus]] = {
    AgentStatus.APPLIED: frozenset({AgentStatus.ACTIVE, AgentStatus.TERMINATED}),
    AgentStatus.ACTIVE: frozenset({AgentStatus.SUSPENDED, AgentStatus.TERMINATED}),
    AgentStatus.SUSPENDED: frozenset({AgentStatus.ACTIVE, AgentStatus.TERMINATED}),
    AgentStatus.TERMINATED: frozenset(),
}


def check_chain_max_depth(depth: int) -> None:
    """The alliance's chain depth setting lies between 1 and the hard ceiling of 3."""
    if not 1 <= depth <= HARD_MAX_CHAIN_DEPTH:
        raise InvalidRequest("The agent chain depth is 1 to 3 levels, counting the top.", field="chain_max_depth")


def check_condition_metric(metric: str) -> None:
    """Refuse a level condition on anything but the allowed figures (fees, purchases and headcount above all)."""
    if metric in PAYMENT_METRICS:
        raise AgentRuleNotAllowed(
            "A level may not depend on fees, deposits or purchases by the agent.", field="conditions", metric=metric
        )
    if metric in RECRUITMENT_METRICS:
        raise AgentRuleNotAllowed(
            "A level may not depend on how many people an agent recruited; count members who consumed instead.",
            field="conditions",
            metric=metric,
        )
    if metric not in LEVEL_METRICS:
        raise AgentRuleNotAllowed("Unknown level condition.", field="conditions", metric=metric)


def chain_of(agent_id: str, uppers: Mapping[str, str | None]) -> list[str]:
    """``agent_id`` and its upper agents, nearest first (stops at a repeat, so a broken map cannot loop)."""
    chain = [agent_id]
    upper = uppers.get(agent_id)
    while upper is not None and upper not in chain:
        chain.append(upper)
        upper = uppers.get(upper)
    return chain


def height_below(agent_id: str, uppers: Mapping[str, str | None]) -> int:
    """How many levels of subordinates hang under ``agent_id`` (0 without subordinates)."""
    children: dict[str, list[str]] = {}
    for child, upper in uppers.items():
        if upper is not None:
            children.setdefault(upper, []).append(child)
    height, level, seen = 0, [agent_id], {agent_id}
    while True:
        level = [child for node in level for child in children.get(node, ()) if child not in seen]
        if not level:
            return height
        seen.update(level)
        height += 1


def check_upper(agent_id: str, upper_id: str | None, uppers: Mapping[str, str | None], chain_max_depth: int) -> None:
    """Refuse binding ``agent_id`` under ``upper_id``: to itself, into a cycle, or deeper than allowed.

    The agent brings its own subordinates along, so the deepest chain through it counts.
    """
    if upper_id is None:
        return
    if upper_id == agent_id:
        raise AgentSelfUpper()
    above = chain_of(upper_id, uppers)
    if agent_id in above:
        raise AgentChainCycle()
    depth = len(above) + 1 + height_below(agent_id, uppers)
    if depth > min(chain_max_depth, HARD_MAX_CHAIN_DEPTH):
        raise AgentChainTooDeep(depth=depth, max_depth=chain_max_depth)


def check_status_change(current: str, new: str) -> None:
    """Refuse a status change the agent lifecycle does not allow (a terminated agent stays terminated)."""
    if AgentStatus(new) not in ALLOWED_STATUS_CHANGES[AgentStatus(current)]:
        raise Conflict("This agent status change is not allowed.", status=current, new_status=new)


def chain_depth(uppers: Mapping[str, str | None]) -> int:
    """The longest chain in the network (0 for none)."""
    return max((len(chain_of(agent, uppers)) for agent in uppers), default=0)


def has_cycle(uppers: Mapping[str, str | None]) -> bool:
    """True when following upper agents from some agent comes back to an agent already passed."""
    for agent in uppers:
        seen, upper = {agent}, uppers.get(agent)
        while upper is not None:
            if upper in seen:
                return True
            seen.add(upper)
            upper = uppers.get(upper)
    return False
