"""The commission rule: paid only on real consumption, within the envelope, reversed exactly by refunds."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from server.domain import commissions as rules

bp = st.integers(min_value=0, max_value=10_000)
policies = st.builds(
    rules.Policy,
    version=st.just(1),
    base=st.sampled_from(rules.BASES),
    funding=st.sampled_from(rules.FUNDINGS),
    envelope_bp=bp,
    recruiter_rate_bp=bp,
    member_recruiter_rate_bp=bp,
    management_enabled=st.booleans(),
    management_rate_bp=bp,
    management_depth=st.integers(min_value=1, max_value=2),
    regional_fee_bp=bp,
    return_window_days=st.integers(min_value=0, max_value=30),
)
agent = st.one_of(st.none(), st.sampled_from(["agt_a", "agt_b", "agt_c", "agt_d"]))
facts = st.builds(
    rules.SaleFacts,
    sale_id=st.just("sal_1"),
    merchant_id=st.just("mer_1"),
    paid_fen=st.integers(min_value=0, max_value=10**9),
    service_fee_fen=st.integers(min_value=0, max_value=10**8),
    servicing_agent_id=agent,
    servicing_level_rate_bp=bp,
    recruiting_agent_id=agent,
    recruiting_member_id=st.one_of(st.none(), st.just("mem_x")),
    upper_agent_ids=st.lists(st.sampled_from(["agt_u1", "agt_u2", "agt_u3"]), max_size=3, unique=True).map(tuple),
    regional_agent_id=agent,
)


@given(policies, facts)
def test_the_envelope_always_holds_and_every_entry_is_recorded_in_full(policy, sale):
    entries = rules.sale_commissions(policy, sale)
    base = rules.sale_base(policy, sale)
    assert sum(entry.amount_fen for entry in entries) <= base * policy.envelope_bp // 10_000
    keys = [(entry.beneficiary_kind, entry.beneficiary_id, entry.role) for entry in entries]
    assert len(keys) == len(set(keys))  # one entry per beneficiary and role
    for entry in entries:
        assert entry.amount_fen > 0 and 0 <= entry.rate_bp <= 10_000
        assert 0 <= entry.depth < rules.HARD_MAX_DEPTH
        if entry.role == rules.MANAGEMENT:
            assert policy.management_enabled and entry.depth <= policy.management_depth
        else:
            assert entry.depth == 0 and entry.amount_fen <= entry.base_fen * entry.rate_bp // 10_000


@given(policies, facts)
def test_nothing_is_paid_without_money_paid_whatever_the_configuration(policy, sale):
    """A sign-up, an activation or a head is no sale: only a paid amount earns, so a sale of 0 fen pays nothing."""
    unpaid = rules.SaleFacts(**{**sale.__dict__, "paid_fen": 0})
    assert rules.sale_commissions(policy, unpaid) == []


@given(policies, facts)
def test_management_is_off_by_default_and_never_beyond_three_levels(policy, sale):
    default = rules.Policy()
    assert not default.management_enabled
    assert all(entry.role != rules.MANAGEMENT for entry in rules.sale_commissions(default, sale))
    deepest = max((entry.depth for entry in rules.sale_commissions(policy, sale)), default=0)
    assert deepest <= rules.HARD_MAX_DEPTH - 1


@given(
    st.integers(min_value=0, max_value=10**7),
    st.integers(min_value=1, max_value=10**7),
    st.lists(st.integers(min_value=1, max_value=10**6), max_size=8),
)
def test_refunds_reverse_in_proportion_and_exactly_in_total(amount, paid, parts):
    refunded, before = 0, 0
    for part in parts:
        refunded = min(paid, refunded + part)
        now = rules.reversed_total(amount, refunded, paid)
        assert before <= now <= amount
        before = now
    assert rules.reversed_total(amount, paid, paid) == amount
