"""Agents as use cases: regions, applications, status, upper agents with history, territories, merchants,
the evaluation (figures by SQL, idempotent) and early-warning alerts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from server.domain.errors import (
    AgentChainCycle,
    AgentChainTooDeep,
    AgentRuleNotAllowed,
    AgentSelfUpper,
    Conflict,
    InvalidRequest,
    TerritoryTaken,
)
from server.domain.statuses import AgentStatus
from server.extensions import db
from server.models import Agent, AgentAlert, AgentEvaluation, AgentUpperChange, AuditLog, Region
from server.security.pii import decrypt_phone
from server.services import agents, catalog, checkout, members, regions
from server.services.agent_evaluation import evaluate_agents, evaluations_of
from tests.builders import ACTOR, make_member, make_world, next_phone
from tests.clock import frozen_clock

AFTER = datetime(2026, 12, 2, tzinfo=UTC)  # "now" for evaluating October and November 2026


@pytest.fixture
def world(ctx):
    regions.load_regions()
    return make_world()


def new_agent(name="代理", upper=None, active=True, **fields):
    agent = agents.create_agent(ACTOR, kind="person", name=name, phone=next_phone(), upper_agent_id=upper, **fields)
    if active:
        agents.update_agent(ACTOR, agent.id, status="active", status_reason="contract signed")
    return agent


def sell(shop, card, amount_fen, when):
    with frozen_clock(when):
        found = checkout.identify(shop.terminal, code=card.card_no)
        return checkout.record_sale(shop.terminal, identification_token=found.token, amount_fen=amount_fen)


# --- regions ------------------------------------------------------------------------------------------


def test_regions_load_from_the_package_and_again_changes_nothing(ctx):
    first = regions.load_regions()
    assert first["added"] > 3000
    assert regions.load_regions() == {"added": 0, "changed": 0, "merchants_matched": 0}
    provinces = regions.list_regions(None)
    assert len(provinces) >= 31 and {"440000", "110000"} <= {r.code for r in provinces}
    assert "440305" in {r.code for r in regions.list_regions("440300")}  # 深圳市 → 南山区
    assert "110101" in {r.code for r in regions.list_regions("110000")}  # 北京市 → 东城区 (no city level)
    assert db.session.get(Region, "440305").level == "county"


def test_merchants_get_the_code_their_region_names_when_it_names_one(ctx):
    make_world()
    one = catalog.create_merchant(ACTOR, name="深圳店", trade="food", region="深圳市")
    two = catalog.create_merchant(ACTOR, name="南山店", trade="food", region="南山区")  # 深圳 and 鹤岗 both have one
    result = regions.load_regions()
    assert result["merchants_matched"] == 1
    assert (db.session.get(type(one), one.id).region_code, db.session.get(type(two), two.id).region_code) == (
        "440300",
        None,
    )


def test_a_merchant_region_code_must_exist(world):
    with pytest.raises(InvalidRequest):
        catalog.update_merchant(ACTOR, world.shop_a.merchant.id, region_code="999999")
    assert catalog.update_merchant(ACTOR, world.shop_a.merchant.id, region_code="440305").region_code == "440305"


# --- agents -------------------------------------------------------------------------------------------


def test_an_application_costs_nothing_and_starts_at_the_lowest_level(world):
    phone = next_phone()
    agent = agents.create_agent(ACTOR, kind="company", name="南山代理有限公司", phone=phone)
    levels = agents.levels_by_rank()
    assert [(lv.name, lv.commission_rate_bp) for lv in levels] == [
        ("新手", 500),
        ("青铜", 800),
        ("白银", 1200),
        ("黄金", 1500),
        ("铂金", 1800),
    ]
    assert agent.status == AgentStatus.APPLIED and agent.level_id == levels[0].id
    assert agent.phone_masked == f"{phone[:3]}****{phone[-4:]}" and phone.encode() not in agent.phone_ciphertext
    assert decrypt_phone(agent.phone_ciphertext) == phone
    with pytest.raises(Conflict):
        agents.create_agent(ACTOR, kind="person", name="重复", phone=phone)


def test_status_changes_need_a_reason_follow_the_lifecycle_and_are_audited(world):
    agent = new_agent(active=False)
    with pytest.raises(InvalidRequest):
        agents.update_agent(ACTOR, agent.id, status="active")
    agents.update_agent(ACTOR, agent.id, status="active", status_reason="签约")
    agents.update_agent(ACTOR, agent.id, status="terminated", status_reason="合同到期")
    with pytest.raises(Conflict):
        agents.update_agent(ACTOR, agent.id, status="active", status_reason="再次签约")
    logged = db.session.scalars(
        select(AuditLog).where(AuditLog.object_id == agent.id, AuditLog.action == "agent.update").order_by(AuditLog.id)
    )
    assert [(row.details["status"], row.details["status_reason"]) for row in logged] == [
        ("active", "签约"),
        ("terminated", "合同到期"),
    ]


def test_upper_agents_within_the_chain_rules_with_history(world):
    city = new_agent("市代理")
    county = new_agent("县代理", upper=city.id)
    village = new_agent("乡代理")
    with pytest.raises(AgentChainTooDeep):  # default: two levels counting the top
        agents.update_agent(ACTOR, village.id, upper_agent_id=county.id)
    with pytest.raises(AgentSelfUpper):
        agents.update_agent(ACTOR, city.id, upper_agent_id=city.id)
    with pytest.raises(AgentChainCycle):
        agents.update_agent(ACTOR, city.id, upper_agent_id=county.id)
    with pytest.raises(InvalidRequest):
        agents.update_policy(ACTOR, chain_max_depth=4)
    agents.update_policy(ACTOR, chain_max_depth=3)
    agents.update_agent(ACTOR, village.id, upper_agent_id=county.id, upper_reason="划归县代理")
    with pytest.raises(Conflict):  # a 3-deep chain exists: the setting cannot go back to 2
        agents.update_policy(ACTOR, chain_max_depth=2)
    agents.update_agent(ACTOR, village.id, upper_agent_id=None, upper_reason="独立")
    history = agents.upper_history(village.id)
    assert [(h.previous_upper_id, h.upper_agent_id, h.reason) for h in history] == [
        (None, county.id, "划归县代理"),
        (county.id, None, "独立"),
    ]
    assert db.session.scalar(select(func.count()).select_from(AgentUpperChange)) == 3


def test_levels_refuse_fees_purchases_and_headcount(world):
    with pytest.raises(AgentRuleNotAllowed):
        agents.create_level(
            ACTOR, code="vip", rank=9, name="VIP", conditions=[{"metric": "own_purchase_fen", "minimum": 1}]
        )
    novice = agents.ensure_default_levels()[0]
    db.session.commit()
    with pytest.raises(AgentRuleNotAllowed):
        agents.update_level(ACTOR, novice.id, conditions=[{"metric": "recruited_members", "minimum": 3}])
    assert agents.get_level(novice.id).conditions == []


def test_territories_and_exclusivity(world):
    first, second = new_agent("甲"), new_agent("乙")
    with pytest.raises(InvalidRequest):  # 新手 grants no exclusive territory
        agents.update_agent(ACTOR, first.id, territories=[{"region_code": "440305", "exclusive": True}])
    first.level_id = agents.levels_by_rank()[3].id  # 黄金
    db.session.commit()
    agents.update_agent(ACTOR, first.id, territories=[{"region_code": "440305", "exclusive": True}])
    with pytest.raises(TerritoryTaken):
        agents.update_agent(ACTOR, second.id, territories=[{"region_code": "440305"}])
    agents.update_agent(ACTOR, second.id, territories=[{"region_code": "440300"}, {"region_code": "440304"}])
    assert [t.region_code for t in agents.get_agent(second.id).territories] == ["440300", "440304"]
    with pytest.raises(InvalidRequest):
        agents.update_agent(ACTOR, second.id, territories=[{"region_code": "999999"}])


def test_the_servicing_agent_of_a_merchant_keeps_its_history(world):
    one, two = new_agent("甲"), new_agent("乙")
    merchant = world.shop_a.merchant
    catalog.update_merchant(ACTOR, merchant.id, agent_id=one.id)
    catalog.update_merchant(ACTOR, merchant.id, agent_id=two.id)
    assert [(h.previous_agent_id, h.agent_id) for h in agents.merchant_agent_history(merchant.id)] == [
        (None, one.id),
        (one.id, two.id),
    ]
    with pytest.raises(InvalidRequest):
        catalog.update_merchant(ACTOR, merchant.id, agent_id="agt_nobody")


# --- evaluation ---------------------------------------------------------------------------------------


def test_evaluation_figures_levels_and_idempotence(world):
    agent = new_agent("城市代理")
    catalog.update_merchant(ACTOR, world.shop_a.merchant.id, agent_id=agent.id)
    recruited = []
    for _ in range(10):
        member, card = make_member()
        member.recruited_by_agent_id = agent.id
        recruited.append(card)
    db.session.commit()
    for day, card in enumerate(recruited, start=1):
        sell(world.shop_a, card, 60_000, datetime(2026, 11, day, 4, tzinfo=UTC))  # serviced and recruited
    sell(world.shop_b, recruited[0], 1_000, datetime(2026, 11, 20, 4, tzinfo=UTC))  # recruited only
    sell(world.shop_a, recruited[0], 9_999, datetime(2026, 10, 31, 15, tzinfo=UTC))  # 1 November in Shanghai

    summary = evaluate_agents(ACTOR, "2026-11", now=AFTER)
    assert (summary["evaluated"], summary["upgraded"]) == (1, 1)
    record = evaluations_of(agent.id)[0]
    figures = record.figures
    assert figures["merchants_with_sales"] == 1
    assert figures["active_recruited_members"] == 10
    assert figures["active_days"] == 11  # 1-10 and 20 November
    assert figures["activated_cards"] == 9  # recruited[0] was first used in October
    assert figures["serviced_gmv_fen"] > 0 and record.health_score == 100
    assert agents.get_agent(agent.id).level_id == agents.levels_by_rank()[1].id  # 青铜: ≥ 10 active members
    assert record.outcome == "upgraded"

    again = evaluate_agents(ACTOR, "2026-11", now=AFTER)
    assert (again["evaluated"], again["already_evaluated"]) == (0, 1)
    assert db.session.scalar(select(func.count()).select_from(AgentEvaluation)) == 1


def test_evaluation_refuses_a_month_not_ended_or_badly_written(world):
    with pytest.raises(Conflict):
        evaluate_agents(ACTOR, "2026-12", now=AFTER)
    with pytest.raises(InvalidRequest):
        evaluate_agents(ACTOR, "2026-13", now=AFTER)


def test_early_warning_when_serviced_consumption_falls(world):
    agent = new_agent("下滑代理", upper=new_agent("上级").id)
    catalog.update_merchant(ACTOR, world.shop_a.merchant.id, agent_id=agent.id)
    _, card = make_member()
    sell(world.shop_a, card, 100_000, datetime(2026, 11, 5, 4, tzinfo=UTC))  # before the last two weeks
    sell(world.shop_a, card, 10_000, datetime(2026, 11, 25, 4, tzinfo=UTC))  # in them: a 90 % fall
    evaluate_agents(ACTOR, "2026-11", now=AFTER)
    alerts = db.session.scalars(select(AgentAlert).where(AgentAlert.agent_id == agent.id)).all()
    assert [(a.kind, a.upper_agent_id is not None) for a in alerts] == [("figure_drop", True)]
    assert alerts[0].value_before > alerts[0].value_after


def test_agents_not_active_are_not_evaluated(world):
    new_agent("申请中", active=False)
    assert evaluate_agents(ACTOR, "2026-11", now=AFTER)["evaluated"] == 0
    assert db.session.scalar(select(func.count()).select_from(Agent)) == 1
    assert members  # the module is used by the builders


def test_months_in_a_row_protection_then_grace_then_downgrade(world):
    """Upgraded in August (10 active recruited members), then nothing: protected in September and October
    (fewer than three months after the upgrade), down in November (protection over, grace used up)."""
    agent = new_agent("季度代理")
    cards = []
    for _ in range(10):
        member, card = make_member()
        member.recruited_by_agent_id = agent.id
        cards.append(card)
    db.session.commit()
    for day, card in enumerate(cards, start=1):
        sell(world.shop_a, card, 1_000, datetime(2026, 8, day, 4, tzinfo=UTC))
    later = datetime(2027, 1, 5, tzinfo=UTC)
    outcomes = []
    for period in ("2026-08", "2026-09", "2026-10", "2026-11", "2026-12"):
        evaluate_agents(ACTOR, period, now=later)
        record = evaluations_of(agent.id)[0]
        outcomes.append((record.period, record.outcome, record.reasons[0]))
    assert outcomes == [
        ("2026-08", "upgraded", "upgraded"),
        ("2026-09", "kept", "protected_after_upgrade"),
        ("2026-10", "kept", "protected_after_upgrade"),
        ("2026-11", "downgraded", "downgraded"),
        ("2026-12", "kept", "conditions_met"),  # 新手 asks nothing
    ]


def test_refunds_lower_the_health_score_and_raise_an_alert(world):
    """Refunds of 20 % of consumption or more take the refund part (25 of 100): under 80 is not the default
    alert line of 60, so the alliance's line is raised to 80 for this agent's warning."""
    agents.update_policy(ACTOR, alert_health_below=80)
    agent = new_agent("退款多的代理")
    catalog.update_merchant(ACTOR, world.shop_a.merchant.id, agent_id=agent.id)
    _, card = make_member()
    for day in (3, 10, 17, 24):
        sale = sell(world.shop_a, card, 10_000, datetime(2026, 11, day, 4, tzinfo=UTC)).sale
        if day in (3, 10):
            with frozen_clock(datetime(2026, 11, day, 5, tzinfo=UTC)):
                checkout.refund_sale(ACTOR, sale.id, None, sale.payable_fen, "退货")
    evaluate_agents(ACTOR, "2026-11", now=AFTER)
    record = evaluations_of(agent.id)[0]
    assert record.figures["refunded_fen"] > 0 and record.health_score == 75
    alerts = db.session.scalars(select(AgentAlert).where(AgentAlert.agent_id == agent.id)).all()
    assert [(a.kind, a.value_after) for a in alerts] == [("health_low", 75)]
