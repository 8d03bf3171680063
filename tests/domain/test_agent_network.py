"""The agent network's compliance rules (禁止传销条例 art. 7), proved for every configuration by hypothesis."""

from __future__ import annotations

import dataclasses
import inspect

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.domain import agent_levels, agent_network
from server.domain.agent_levels import Condition, LevelRule, check_rule
from server.domain.agent_network import (
    HARD_MAX_CHAIN_DEPTH,
    LEVEL_METRICS,
    PAYMENT_METRICS,
    RECRUITMENT_METRICS,
    chain_depth,
    check_chain_max_depth,
    check_condition_metric,
    check_status_change,
    check_upper,
    has_cycle,
)
from server.domain.errors import (
    AgentChainCycle,
    AgentChainTooDeep,
    AgentRuleNotAllowed,
    AgentSelfUpper,
    Conflict,
    DomainError,
    InvalidRequest,
)
from server.domain.statuses import AgentStatus

AGENTS = [f"a{i}" for i in range(8)]
attempts = st.lists(st.tuples(st.sampled_from(AGENTS), st.none() | st.sampled_from(AGENTS)), max_size=40)


def apply_attempts(max_depth: int, tries) -> tuple[dict, list]:
    """Start from agents without uppers and apply every assignment the rules accept."""
    network: dict[str, str | None] = dict.fromkeys(AGENTS)
    refused = []
    for agent, upper in tries:
        try:
            check_upper(agent, upper, network, max_depth)
        except DomainError as exc:
            refused.append((agent, upper, exc))
            continue
        network[agent] = upper
    return network, refused


@settings(max_examples=300, deadline=None)
@given(max_depth=st.integers(1, HARD_MAX_CHAIN_DEPTH), tries=attempts)
def test_any_sequence_of_assignments_keeps_the_network_a_shallow_forest(max_depth, tries):
    network, refused = apply_attempts(max_depth, tries)
    assert not has_cycle(network)
    assert all(agent != upper for agent, upper in network.items())
    assert chain_depth(network) <= max_depth <= HARD_MAX_CHAIN_DEPTH
    for agent, upper, exc in refused:
        if upper == agent:
            assert isinstance(exc, AgentSelfUpper)


@settings(max_examples=200, deadline=None)
@given(max_depth=st.integers(-5, 50), tries=attempts)
def test_no_setting_allows_a_chain_deeper_than_three(max_depth, tries):
    """Whatever number a caller passes, the hard ceiling holds (and the setting itself refuses it)."""
    network, _ = apply_attempts(max_depth, tries)
    assert chain_depth(network) <= HARD_MAX_CHAIN_DEPTH
    if not 1 <= max_depth <= HARD_MAX_CHAIN_DEPTH:
        with pytest.raises(InvalidRequest):
            check_chain_max_depth(max_depth)
    else:
        check_chain_max_depth(max_depth)


def test_default_depth_is_two_counting_the_top():
    assert agent_network.DEFAULT_CHAIN_MAX_DEPTH == 2
    network = {"city": None, "county": "city", "village": None}
    check_upper("village", "county", {"city": None, "county": None, "village": None}, 2)  # two levels: fine
    with pytest.raises(AgentChainTooDeep):
        check_upper("village", "county", network, 2)
    check_upper("village", "county", network, 3)


def test_an_agent_brings_its_subordinates_along():
    network = {"top": None, "mid": None, "low": "mid"}
    with pytest.raises(AgentChainTooDeep):
        check_upper("mid", "top", network, 2)
    check_upper("mid", "top", network, 3)


def test_self_and_cycles_are_refused():
    network = {"a": None, "b": "a"}
    with pytest.raises(AgentSelfUpper):
        check_upper("a", "a", network, 3)
    with pytest.raises(AgentChainCycle):
        check_upper("a", "b", network, 3)


@given(metric=st.sampled_from(sorted(PAYMENT_METRICS | RECRUITMENT_METRICS)), minimum=st.integers(0, 10**9))
def test_no_level_may_depend_on_fees_purchases_or_headcount(metric, minimum):
    with pytest.raises(AgentRuleNotAllowed):
        check_rule(LevelRule(1, (Condition(metric, minimum),)))


@given(metric=st.text(min_size=1, max_size=20).filter(lambda m: m not in LEVEL_METRICS))
def test_only_the_listed_figures_may_rank_an_agent(metric):
    with pytest.raises(AgentRuleNotAllowed):
        check_condition_metric(metric)


@given(
    conditions=st.lists(
        st.builds(Condition, st.sampled_from(LEVEL_METRICS), st.integers(0, 100), st.none() | st.integers(0, 31)),
        max_size=6,
    ),
    combine=st.sampled_from(agent_levels.COMBINATIONS),
)
def test_every_allowed_condition_is_accepted(conditions, combine):
    check_rule(LevelRule(1, tuple(conditions), combine))


def test_nothing_in_the_level_terms_charges_a_fee_or_pays_for_recruiting():
    """The data model has no field for an entry fee, a purchase requirement or a per-recruit reward."""
    from server.models.agent import Agent, AgentLevel

    forbidden = ("fee", "deposit", "purchase_required", "min_purchase", "per_recruit", "recruit_bonus", "signup")
    for model in (Agent, AgentLevel):
        for column in model.__table__.columns:
            assert not any(word in column.name for word in forbidden), (model.__name__, column.name)
    fields = {f.name for f in dataclasses.fields(LevelRule)}
    assert fields == {"rank", "conditions", "combine", "min_health_score"}


def test_team_figures_gate_but_never_pay():
    """The evaluation's output is a level; the terms (commission, discount) depend on nothing but the level."""
    result = inspect.signature(agent_levels.evaluate_level).return_annotation
    assert result == "LevelDecision"
    decision_fields = {f.name for f in dataclasses.fields(agent_levels.LevelDecision)}
    assert not {name for name in decision_fields if "fen" in name or "commission" in name or "bonus" in name}


@pytest.mark.parametrize(
    "current,new,allowed",
    [
        ("applied", "active", True),
        ("active", "suspended", True),
        ("suspended", "active", True),
        ("active", "terminated", True),
        ("terminated", "active", False),
        ("applied", "suspended", False),
        ("suspended", "applied", False),
    ],
)
def test_agent_status_lifecycle(current, new, allowed):
    if allowed:
        check_status_change(current, new)
    else:
        with pytest.raises(Conflict):
            check_status_change(current, new)
    assert set(AgentStatus) == {"applied", "active", "suspended", "terminated"}
