"""Anti-brushing through real sales: rules as rows, the detect-brushing job (idempotent), the review,
held sales, and the health score lowered by confirmed flags, complaints and violations."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from server.domain.errors import Conflict, InvalidRequest
from server.extensions import db
from server.models import AuditLog, BrushingFlag, BrushingFlagSale, BrushingRule, JobRun
from server.services import agents, brushing, catalog, checkout, complaints
from server.services.agent_evaluation import evaluate_agents, evaluations_of
from server.services.jobs import run_job
from tests.builders import ACTOR, make_member, make_world, next_phone
from tests.clock import frozen_clock

DAY = datetime(2026, 11, 5, 4, tzinfo=UTC)  # 12:00 in Shanghai
SCAN_NOW = datetime(2026, 11, 6, 4, tzinfo=UTC)
AFTER = datetime(2026, 12, 2, tzinfo=UTC)


@pytest.fixture
def world(ctx):
    return make_world()


def new_agent(name="代理"):
    agent = agents.create_agent(ACTOR, kind="person", name=name, phone=next_phone())
    agents.update_agent(ACTOR, agent.id, status="active", status_reason="contract signed")
    return agent


def sell(shop, card, amount_fen, when):
    with frozen_clock(when):
        found = checkout.identify(shop.terminal, code=card.card_no)
        return checkout.record_sale(shop.terminal, identification_token=found.token, amount_fen=amount_fen).sale


def detect(now=SCAN_NOW):
    with frozen_clock(now):
        return brushing.detect_brushing(ACTOR, now.date())


def rule(code) -> BrushingRule:
    brushing.list_rules()
    return db.session.scalar(select(BrushingRule).where(BrushingRule.code == code))


def flags(code=None):
    query = select(BrushingFlag).order_by(BrushingFlag.window_start, BrushingFlag.id)
    if code:
        query = query.join(BrushingRule, BrushingRule.id == BrushingFlag.rule_id).where(BrushingRule.code == code)
    return db.session.scalars(query).all()


def burst(world, card, count=4, start=DAY):
    return [sell(world.shop_a, card, 1_234 + i, start + timedelta(minutes=2 * i)) for i in range(count)]


def test_default_rules_are_seeded_and_editable_with_audit(world):
    rules = brushing.list_rules()
    assert {r.code for r in rules} == {
        "same_card_burst",
        "round_amounts",
        "refund_after_level_up",
        "agent_concentration",
        "terminal_velocity",
    }
    burst_rule = rule("same_card_burst")
    brushing.update_rule(ACTOR, burst_rule.id, parameters={"max_sales": 5}, enabled=False)
    assert burst_rule.parameters == {"max_sales": 5, "minutes": 10} and not burst_rule.enabled
    with pytest.raises(InvalidRequest) as refused:
        brushing.update_rule(ACTOR, burst_rule.id, parameters={"minutes": 0})
    assert refused.value.details.get("field") == "parameters.minutes" or refused.value.field == "parameters.minutes"
    assert db.session.scalar(
        select(func.count()).select_from(AuditLog).where(AuditLog.action == "brushing_rule.update")
    )


def test_same_card_burst_is_flagged_once_however_often_the_scan_runs(world):
    agent = new_agent()
    catalog.update_merchant(ACTOR, world.shop_a.merchant.id, agent_id=agent.id)
    _, card = make_member()
    sales = burst(world, card)
    first = detect()
    assert first["flagged"] == 1
    (flag,) = flags("same_card_burst")
    assert (flag.subject_type, flag.subject_id, flag.agent_id, flag.status) == ("card", card.id, agent.id, "open")
    assert brushing.held_sale_ids([s.id for s in sales]) == {s.id for s in sales}
    again = detect()
    assert again["flagged"] == 0 and again["already_flagged"] == 1
    assert len(flags()) == 1
    assert db.session.scalar(select(func.count()).select_from(BrushingFlagSale)) == 4
    # a fifth sale in the same burst joins the open flag instead of making another
    fifth = sell(world.shop_a, card, 999, DAY + timedelta(minutes=9))
    detect()
    assert len(flags()) == 1 and fifth.id in brushing.held_sale_ids()


def test_the_job_runs_the_scan_and_is_logged(world):
    _, card = make_member()
    burst(world, card)
    with frozen_clock(SCAN_NOW):
        outcome = run_job("detect-brushing", date(2026, 11, 6))
        again = run_job("detect-brushing", date(2026, 11, 6))
    assert outcome.status == "done" and outcome.summary["flagged"] == 1
    assert again.summary["flagged"] == 0 and len(flags()) == 1
    assert db.session.scalars(select(JobRun.job)).all() == ["detect-brushing", "detect-brushing"]


def test_a_disabled_rule_finds_nothing(world):
    brushing.update_rule(ACTOR, rule("same_card_burst").id, enabled=False)
    _, card = make_member()
    burst(world, card)
    detect()
    assert flags() == []


def test_ordinary_sales_raise_no_flag(world):
    for _ in range(3):
        _, card = make_member()
        for day in range(3):
            sell(world.shop_a, card, 5_678, DAY + timedelta(days=day - 3))
    assert detect()["flagged"] == 0


def test_review_clears_or_confirms_once_with_a_reason_audited(world):
    _, card = make_member()
    sales = burst(world, card)
    _, other_card = make_member()
    burst(world, other_card, start=DAY + timedelta(hours=2))
    detect()
    first, second = flags()
    with pytest.raises(InvalidRequest):
        brushing.review_flag(ACTOR, first.id, "cleared", "  ")
    with pytest.raises(InvalidRequest):
        brushing.review_flag(ACTOR, first.id, "open", "why")
    brushing.review_flag(ACTOR, first.id, "cleared", "熟客连续买单，已核实")
    brushing.review_flag(ACTOR, second.id, "confirmed", "同卡刷单")
    with pytest.raises(Conflict):
        brushing.review_flag(ACTOR, first.id, "confirmed", "again")
    held = brushing.held_sale_ids()
    assert not held & {s.id for s in sales}  # cleared: released
    assert len(held) == 4  # confirmed: still held
    actions = db.session.scalars(select(AuditLog.action).where(AuditLog.object_type == "brushing_flag")).all()
    assert sorted(actions) == ["brushing_flag.cleared", "brushing_flag.confirmed"]
    # a reviewed flag keeps its sales as reviewed when the scan runs again
    detect()
    assert len(flags()) == 2 and first.status == "cleared"


def test_refund_of_a_sale_that_lifted_the_level_is_flagged_for_the_recruiting_agent(world):
    agent = new_agent()
    member, card = make_member()
    member.recruited_by_agent_id = agent.id
    db.session.commit()
    lifting = sell(world.shop_a, card, 150_000, DAY)
    db.session.refresh(member)
    assert member.level_id == world.levels["silver"].id
    with frozen_clock(DAY + timedelta(hours=3)):
        checkout.refund_sale(ACTOR, lifting.id, None, lifting.payable_fen, "退货")
    _, plain_card = make_member()
    plain = sell(world.shop_b, plain_card, 5_000, DAY)
    with frozen_clock(DAY + timedelta(hours=3)):
        checkout.refund_sale(ACTOR, plain.id, None, plain.payable_fen, "退货")
    detect()
    (flag,) = flags("refund_after_level_up")
    assert (flag.subject_type, flag.subject_id, flag.agent_id) == ("member", member.id, agent.id)
    assert brushing.flag_sale_ids([flag.id])[flag.id] == [lifting.id]


def test_sales_concentrated_at_the_recruiting_agents_merchants_are_flagged(world):
    brushing.update_rule(ACTOR, rule("agent_concentration").id, parameters={"min_sales": 4, "share_bp": 8_000})
    agent = new_agent()
    catalog.update_merchant(ACTOR, world.shop_a.merchant.id, agent_id=agent.id)
    cards = []
    for _ in range(4):
        member, card = make_member()
        member.recruited_by_agent_id = agent.id
        cards.append(card)
    db.session.commit()
    for index, card in enumerate(cards):
        sell(world.shop_a, card, 2_000, DAY + timedelta(hours=index))
    detect()
    (flag,) = flags("agent_concentration")
    assert (flag.subject_type, flag.subject_id, flag.window) == ("agent", agent.id, "2026-11")
    # spread over another agent's merchant as much: no flag for a second agent
    other = new_agent("另一代理")
    catalog.update_merchant(ACTOR, world.shop_b.merchant.id, agent_id=other.id)
    for card in cards:
        sell(world.shop_b, card, 2_000, DAY + timedelta(hours=6))
    detect()
    assert [f.subject_id for f in flags("agent_concentration")] == [agent.id]


def test_a_confirmed_flag_lowers_the_agents_health_score(world):
    agent = new_agent()
    catalog.update_merchant(ACTOR, world.shop_a.merchant.id, agent_id=agent.id)
    _, card = make_member()
    burst(world, card)
    detect()
    (flag,) = flags()
    brushing.review_flag(ACTOR, flag.id, "confirmed", "同卡刷单")
    evaluate_agents(ACTOR, "2026-11", now=AFTER)
    record = evaluations_of(agent.id)[0]
    assert record.figures["brushing_flags"] == 1 and record.health_score == 90


def test_an_open_or_cleared_flag_leaves_the_health_score(world):
    agent = new_agent()
    catalog.update_merchant(ACTOR, world.shop_a.merchant.id, agent_id=agent.id)
    _, card = make_member()
    burst(world, card)
    detect()
    evaluate_agents(ACTOR, "2026-11", now=AFTER)
    assert evaluations_of(agent.id)[0].health_score == 100


def test_complaints_their_answers_and_violations_feed_the_health_score(world):
    agent = new_agent()
    catalog.update_merchant(ACTOR, world.shop_a.merchant.id, agent_id=agent.id)
    _, card = make_member()
    for day in range(100):  # 100 sales in November: one complaint is 10 per mille, the complaint part's zero
        sell(world.shop_b if day % 2 else world.shop_a, card, 1_000, DAY + timedelta(hours=day * 3))
    with frozen_clock(DAY):
        answered = complaints.open_complaint(ACTOR, "服务态度差", merchant_id=world.shop_a.merchant.id)
        late = complaints.open_complaint(ACTOR, "乱收费", agent_id=agent.id)
    with frozen_clock(DAY + timedelta(hours=5)):
        complaints.update_complaint(ACTOR, answered.id, "responded", "已致歉并退款")
    with frozen_clock(DAY + timedelta(days=5)):
        complaints.update_complaint(ACTOR, late.id, "closed", "已处理")
        complaints.record_violation(ACTOR, agent.id, "未按规定公示价格")
    evaluate_agents(ACTOR, "2026-11", now=AFTER)
    record = evaluations_of(agent.id)[0]
    figures = record.figures
    assert (figures["complaints"], figures["complaints_answered_in_time"], figures["violations"]) == (2, 1, 1)
    # sales 50 at the agent's merchant: 2 complaints = 40 per mille -> complaints 0; refunds 25;
    # one violation: 20 of 30; one of two answered in time: 7 of 15
    assert record.health_score == 0 + 25 + 20 + 7


def test_complaints_need_someone_and_answers_follow_the_lifecycle(world):
    with pytest.raises(InvalidRequest):
        complaints.open_complaint(ACTOR, "无对象")
    complaint = complaints.open_complaint(ACTOR, "卫生差", merchant_id=world.shop_a.merchant.id)
    with pytest.raises(InvalidRequest):
        complaints.update_complaint(ACTOR, complaint.id, "responded", "")
    complaints.update_complaint(ACTOR, complaint.id, "responded", "已整改")
    with pytest.raises(Conflict):
        complaints.update_complaint(ACTOR, complaint.id, "responded", "再答")
    complaints.update_complaint(ACTOR, complaint.id, "closed")
    with pytest.raises(Conflict):
        complaints.update_complaint(ACTOR, complaint.id, "closed")
    assert complaint.responded_at and complaint.closed_at and complaint.status == "closed"
