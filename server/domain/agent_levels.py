"""Agent levels as data: conditions, the health score and the periodic evaluation (pure rules).

A level qualifies an agent when its conditions hold on the period's figures — all of them (``all``) or at
least one (``any``) — and the agent's health score reaches the level's minimum. Levels change only at an
evaluation (:func:`evaluate_level`):

- **Upgrade** one level at a time, to the next level the figures qualify for, but only when the health
  score is at least the alliance's floor (业绩 + 合规 双轨: volume alone never lifts an agent).
- **Fast track**: after ``fast_track_periods`` consecutive periods in which the figures qualified for a
  level above the next one (they exceeded the next level's conditions), the agent goes straight to the
  highest level it qualifies for.
- **Downgrade** one level, only when the current level's conditions failed in more than ``grace_periods``
  consecutive evaluations and the protection period (``protection_periods`` evaluations after an upgrade)
  is over.

Team figures (active subordinates) can gate a level; nothing here pays for them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from server.domain.agent_network import ACTIVE_SUBORDINATES, HEALTH_SCORE, check_condition_metric
from server.domain.errors import InvalidRequest
from server.domain.statuses import AgentEvaluationOutcome

ALL_OF = "all"
ANY_OF = "any"
COMBINATIONS = (ALL_OF, ANY_OF)
DEFAULT_SUBORDINATE_ACTIVE_DAYS = 12  # about 3 days a week over a month


@dataclass(frozen=True)
class Condition:
    """``metric`` of the period reaches ``minimum``; for active subordinates, ``parameter`` is the days each needs."""

    metric: str
    minimum: int
    parameter: int | None = None


@dataclass(frozen=True)
class LevelRule:
    """One agent level's rank and what it takes to hold it."""

    rank: int
    conditions: tuple[Condition, ...] = ()
    combine: str = ALL_OF
    min_health_score: int | None = None


@dataclass(frozen=True)
class EvaluationPolicy:
    """The alliance's evaluation settings (counts are evaluation periods)."""

    grace_periods: int = 1
    protection_periods: int = 3
    fast_track_periods: int = 2
    health_floor: int = 60


@dataclass(frozen=True)
class LevelState:
    """Where an agent stands before an evaluation."""

    rank: int
    periods_since_upgrade: int | None = None  # None: never upgraded (no protection)
    periods_below: int = 0  # consecutive earlier evaluations that failed the current level
    periods_exceeding: int = 0  # consecutive earlier evaluations that qualified above the next level


@dataclass(frozen=True)
class LevelDecision:
    """What an evaluation decided, and why."""

    rank_before: int
    rank_after: int
    outcome: AgentEvaluationOutcome
    reasons: tuple[str, ...]
    periods_below: int
    periods_exceeding: int
    qualified_rank: int


def check_rule(rule: LevelRule) -> None:
    """Refuse a level rule the compliance rules forbid, or that cannot be evaluated."""
    if rule.combine not in COMBINATIONS:
        raise InvalidRequest("Conditions combine as 'all' or 'any'.", field="combine")
    for condition in rule.conditions:
        check_condition_metric(condition.metric)
        if condition.minimum < 0:
            raise InvalidRequest("A condition's minimum cannot be negative.", field="conditions")
        if condition.metric == HEALTH_SCORE and condition.minimum > 100:
            raise InvalidRequest("A health score is 0 to 100.", field="conditions")
    if rule.min_health_score is not None and not 0 <= rule.min_health_score <= 100:
        raise InvalidRequest("A health score is 0 to 100.", field="min_health_score")


def figure_for(condition: Condition, figures: Mapping[str, int], subordinate_days: Sequence[int] = ()) -> int:
    """The figure a condition compares: active subordinates are counted with the condition's own day minimum."""
    if condition.metric == ACTIVE_SUBORDINATES:
        days = condition.parameter if condition.parameter is not None else DEFAULT_SUBORDINATE_ACTIVE_DAYS
        return sum(1 for active in subordinate_days if active >= days)
    return int(figures.get(condition.metric, 0))


def qualifies(rule: LevelRule, figures: Mapping[str, int], subordinate_days: Sequence[int] = ()) -> tuple[bool, list]:
    """Whether ``figures`` meet the rule, with one reason per condition (metric, figure, minimum, met)."""
    reasons = []
    results = []
    for condition in rule.conditions:
        value = figure_for(condition, figures, subordinate_days)
        met = value >= condition.minimum
        results.append(met)
        reasons.append({"metric": condition.metric, "figure": value, "minimum": condition.minimum, "met": met})
    if not rule.conditions:
        ok = True
    elif rule.combine == ANY_OF:
        ok = any(results)
    else:
        ok = all(results)
    if rule.min_health_score is not None:
        health = int(figures.get(HEALTH_SCORE, 0))
        health_met = health >= rule.min_health_score
        reasons.append({"metric": HEALTH_SCORE, "figure": health, "minimum": rule.min_health_score, "met": health_met})
        ok = ok and health_met
    return ok, reasons


def qualified_rank(rules: Sequence[LevelRule], figures: Mapping[str, int], subordinate_days: Sequence[int] = ()) -> int:
    """The highest rank whose rule the figures meet (the lowest rank when none do)."""
    ordered = sorted(rules, key=lambda rule: rule.rank)
    best = ordered[0].rank
    for rule in ordered:
        if qualifies(rule, figures, subordinate_days)[0]:
            best = rule.rank
    return best


def evaluate_level(
    rules: Sequence[LevelRule],
    figures: Mapping[str, int],
    state: LevelState,
    policy: EvaluationPolicy,
    subordinate_days: Sequence[int] = (),
) -> LevelDecision:
    """The level after one evaluation period (see the module's docstring for the rules)."""
    ranks = sorted(rule.rank for rule in rules)
    current = state.rank if state.rank in ranks else ranks[0]
    by_rank = {rule.rank: rule for rule in rules}
    target = qualified_rank(rules, figures, subordinate_days)
    holds_current = qualifies(by_rank[current], figures, subordinate_days)[0]
    above = [rank for rank in ranks if rank > current]
    next_rank = above[0] if above else None
    exceeding = next_rank is not None and target > next_rank
    periods_exceeding = state.periods_exceeding + 1 if exceeding else 0
    periods_below = 0 if holds_current else state.periods_below + 1
    health = int(figures.get(HEALTH_SCORE, 0))
    reasons: list[str] = []
    after, outcome = current, AgentEvaluationOutcome.KEPT

    if target > current:
        if health < policy.health_floor:
            reasons.append("upgrade_blocked_by_health")
        elif exceeding and periods_exceeding >= policy.fast_track_periods:
            after, outcome = target, AgentEvaluationOutcome.UPGRADED
            reasons.append("fast_track")
            periods_exceeding = 0
        else:
            after, outcome = next_rank, AgentEvaluationOutcome.UPGRADED
            reasons.append("upgraded")
    elif not holds_current:
        protected = state.periods_since_upgrade is not None and state.periods_since_upgrade < policy.protection_periods
        below = [rank for rank in ranks if rank < current]
        if not below:
            reasons.append("lowest_level")
        elif protected:
            reasons.append("protected_after_upgrade")
        elif periods_below <= policy.grace_periods:
            reasons.append("grace_period")
        else:
            after, outcome = below[-1], AgentEvaluationOutcome.DOWNGRADED
            reasons.append("downgraded")
            periods_below = 0
    else:
        reasons.append("conditions_met")
    return LevelDecision(current, after, outcome, tuple(reasons), periods_below, periods_exceeding, target)


# --- health score --------------------------------------------------------------------------------------

# Weights (points of 100) of the health score's parts; documented in docs/agents.md.
HEALTH_WEIGHTS = {"complaints": 30, "refunds": 25, "violations": 30, "response": 15}
COMPLAINTS_ZERO_AT_PER_MILLE = 10  # 10 complaints per 1,000 sales (1 %) or more: nothing of this part
REFUNDS_ZERO_AT_BP = 2_000  # refunds of 20 % of consumption or more: nothing of this part
POINTS_LOST_PER_VIOLATION = 10  # each violation or confirmed brushing flag takes 10 of its part's 30
COMPLAINT_RESPONSE_HOURS = 48  # a complaint answered within this many hours of opening counts as answered in time


@dataclass(frozen=True)
class HealthInputs:
    """What the health score is made of, for one agent and period."""

    sales: int = 0
    complaints: int = 0
    consumption_fen: int = 0
    refunded_fen: int = 0
    violations: int = 0
    brushing_flags: int = 0
    complaints_answered_in_time: int = 0


def _linear_part(weight: int, value: int, zero_at: int) -> int:
    """``weight`` at 0, falling linearly to 0 at ``zero_at`` (integer, rounded down)."""
    if value <= 0:
        return weight
    if value >= zero_at:
        return 0
    return weight * (zero_at - value) // zero_at


def health_parts(inputs: HealthInputs) -> dict[str, int]:
    """Each part of the health score in points (they add up to the score)."""
    complaints_per_mille = (
        inputs.complaints * 1000 // inputs.sales if inputs.sales else (0 if not inputs.complaints else 1000)
    )
    refund_bp = inputs.refunded_fen * 10_000 // inputs.consumption_fen if inputs.consumption_fen else 0
    violations = inputs.violations + inputs.brushing_flags
    answered = min(inputs.complaints_answered_in_time, inputs.complaints)
    return {
        "complaints": _linear_part(HEALTH_WEIGHTS["complaints"], complaints_per_mille, COMPLAINTS_ZERO_AT_PER_MILLE),
        "refunds": _linear_part(HEALTH_WEIGHTS["refunds"], refund_bp, REFUNDS_ZERO_AT_BP),
        "violations": max(0, HEALTH_WEIGHTS["violations"] - POINTS_LOST_PER_VIOLATION * violations),
        "response": HEALTH_WEIGHTS["response"] * answered // inputs.complaints
        if inputs.complaints
        else HEALTH_WEIGHTS["response"],
    }


def health_score(inputs: HealthInputs) -> int:
    """The health score 0-100: complaint rate, refund rate, violations and brushing flags, response to complaints."""
    return sum(health_parts(inputs).values())


def drop_alert(before: int, after: int, drop_bp: int) -> bool:
    """True when a figure fell by at least ``drop_bp`` of what it was (nothing to fall from: no alert)."""
    return before > 0 and (before - after) * 10_000 >= before * drop_bp


# --- preview of a rule change --------------------------------------------------------------------------


@dataclass(frozen=True)
class PreviewMove:
    """An agent whose qualified rank would differ if the proposed rules applied to the same figures."""

    agent_id: str
    rank_now: int  # the rank the current rules qualify the figures for
    rank_proposed: int  # the rank the proposed rules would


def preview_moves(
    current: Sequence[LevelRule],
    proposed: Sequence[LevelRule],
    figures_by_agent: Mapping[str, Mapping[str, int]],
    subordinate_days: Mapping[str, Sequence[int]] | None = None,
) -> list[PreviewMove]:
    """Who would move if ``proposed`` replaced ``current``, judged on the same figures (nothing is written).

    Grace, protection and fast track are left out: the preview compares what each rule set qualifies the
    latest figures for, so an operator sees which agents a change of conditions reaches.
    """
    days = subordinate_days or {}
    moves = []
    for agent_id in sorted(figures_by_agent):
        figures = figures_by_agent[agent_id]
        team = days.get(agent_id, ())
        now = qualified_rank(current, figures, team)
        then = qualified_rank(proposed, figures, team)
        if now != then:
            moves.append(PreviewMove(agent_id, now, then))
    return moves
