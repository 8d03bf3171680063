"""Commissions through the services: the day closing earns them once (SQL equal to the domain rule), the return
window releases them, refunds and flags take them back, the statement's commission line is its entries."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from server.domain import commissions as rules
from server.domain import money_ledger as money
from server.domain.errors import InvalidRequest
from server.domain.statuses import BrushingFlagStatus, CommissionStatus
from server.extensions import db
from server.models import AuditLog, BrushingFlag, BrushingFlagSale, BrushingRule, Commission, Settlement
from server.services import agents, brushing, catalog, checkout, commissions, finance, money_ledger, settlement
from server.services.reconciliation import reconcile
from server.services.settlement import statement_lines
from server.services.staff import terminal_for_token
from tests.builders import ACTOR, make_member, make_world, next_phone
from tests.clock import frozen_clock

DAY = date(2026, 3, 2)
MORNING = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 Beijing on DAY


def closing_time(day: date) -> datetime:
    """Ten minutes after the business day ended (04:00 Beijing the next day)."""
    return datetime(day.year, day.month, day.day, 20, 10, tzinfo=UTC)


def new_agent(name, upper=None, **fields):
    agent = agents.create_agent(ACTOR, kind="person", name=name, phone=next_phone(), upper_agent_id=upper, **fields)
    agents.update_agent(ACTOR, agent.id, status="active", status_reason="contract signed")
    return agent


def sell(shop, card, amount: int):
    terminal = terminal_for_token(shop.token)
    found = checkout.identify(terminal, code=card.card_no)
    return checkout.record_sale(terminal, identification_token=found.token, amount_fen=amount).sale


def close(clock, day):
    clock.now = closing_time(day)
    return settlement.close_day(ACTOR, day)


@pytest.fixture
def scene(ctx):
    """Shop A serviced by agent C (under B, under A); the member recruited by agent R."""
    with frozen_clock(MORNING) as clock:
        world = make_world()
        agents.update_policy(ACTOR, chain_max_depth=3)
        top = new_agent("甲代理")
        mid = new_agent("乙代理", upper=top.id)
        svc = new_agent("丙代理", upper=mid.id)
        recruiter = new_agent("招募代理")
        catalog.update_merchant(ACTOR, world.shop_a.merchant.id, agent_id=svc.id)
        member, card = make_member()
        agents.record_recruitment(ACTOR, member.id, recruiter.id)
        db.session.commit()
        yield world, clock, card, (top, mid, svc, recruiter)


def test_the_closing_pays_each_role_once_by_the_rule_of_the_domain(scene):
    world, clock, card, (top, mid, svc, recruiter) = scene
    commissions.update_policy(
        ACTOR,
        {"management_enabled": True, "management_depth": 2, "management_rate_bp": 1_000, "envelope_bp": 2_000},
        "pilot",
        acknowledgement="已知悉团队计酬的法律风险，经法务审核",
    )
    sale = sell(world.shop_a, card, 100_000)
    sell(world.shop_b, card, 50_000)  # shop B has no agent: only the recruiter earns
    close(clock, DAY)
    rows = list(db.session.scalars(select(Commission)))
    found = {(c.beneficiary_id, c.role, c.depth): c for c in rows if c.sale_id == sale.id}
    servicing = sale.payable_fen * 500 // 10_000  # the lowest level's 5 %
    assert found[(svc.id, "servicing", 0)].amount_fen == servicing
    assert found[(mid.id, "management", 1)].amount_fen == servicing // 10
    assert found[(top.id, "management", 2)].amount_fen == servicing // 100
    assert found[(recruiter.id, "recruiter", 0)].rate_bp == 100
    assert all(c.policy_version == 2 for c in rows) and len(rows) == 5
    per_sale = db.session.scalar(select(func.sum(Commission.amount_fen)).where(Commission.sale_id == sale.id))
    assert per_sale <= sale.payable_fen * 2_000 // 10_000
    start, end = settlement.day_window(DAY)
    expected = commissions.expected_day_commissions(DAY, start, end)
    assert {(k[0], k[1], k[2], k[3]): v for k, v in expected.items()} == {
        (c.sale_id, c.beneficiary_kind, c.beneficiary_id, c.role): c.amount_fen for c in rows
    }
    assert commissions.earn_day(DAY, start, end, ACTOR) == 0  # a re-run pays nothing twice
    assert money_ledger.balances(money.AGENT, svc.id)[money.PENDING] == found[(svc.id, "servicing", 0)].amount_fen
    row = db.session.scalar(select(Settlement).where(Settlement.merchant_id == world.shop_a.merchant.id))
    assert row.commission_fen == sum(c.amount_fen for c in rows if c.merchant_id == row.merchant_id)
    lines = [line for line in statement_lines(row) if line["kind"] == "commission"]
    assert sum(line["fee_fen"] for line in lines) == row.commission_fen and len(lines) == 4
    notice = finance.settlement_detail(row.id, None)["management_notice"]
    assert "已确认知悉法律风险" in notice and "经法务审核" in notice  # shown on every statement
    assert reconcile(DAY) == []


def test_management_needs_an_acknowledgement_and_each_change_is_a_new_version(scene):
    with pytest.raises(InvalidRequest):
        commissions.update_policy(ACTOR, {"management_enabled": True}, "try")
    with pytest.raises(InvalidRequest):
        commissions.update_policy(ACTOR, {"management_enabled": True, "management_depth": 3}, "too deep", "ok")
    first = commissions.policy_row()
    second = commissions.update_policy(ACTOR, {"management_enabled": True}, "pilot", acknowledgement="知悉风险")
    assert second.version == first.version + 1 and second.management_ack_by == ACTOR
    assert db.session.get(type(first), first.version).management_enabled is False  # never edited in place
    actions = set(db.session.scalars(select(AuditLog.action)))
    assert {"commission_policy.update", "commission_policy.management_acknowledged"} <= actions


def test_the_return_window_releases_and_a_refund_before_it_reverses_in_proportion(scene):
    world, clock, card, (_, _, svc, _) = scene
    commissions.update_policy(ACTOR, {"return_window_days": 2}, "two days")
    sale = sell(world.shop_a, card, 10_001)
    close(clock, DAY)
    earned = db.session.scalar(select(Commission).where(Commission.beneficiary_id == svc.id))
    clock.now = closing_time(DAY) + timedelta(hours=1)
    checkout.refund_sale(ACTOR, sale.id, None, amount_fen=3_333)
    checkout.refund_sale(ACTOR, sale.id, None, amount_fen=3_333)
    db.session.refresh(earned)
    assert earned.reversed_fen == earned.amount_fen * 6_666 // 10_001
    close(clock, DAY + timedelta(days=1))
    assert earned.status == CommissionStatus.PENDING
    close(clock, DAY + timedelta(days=2))
    db.session.refresh(earned)
    assert earned.status == CommissionStatus.AVAILABLE
    balances = money_ledger.balances(money.AGENT, svc.id)
    assert balances[money.AVAILABLE] == earned.amount_fen - earned.reversed_fen and balances[money.PENDING] == 0
    # a refund after availability becomes debt, blocks withdrawal, and the rest reverses exactly
    clock.now += timedelta(hours=2)
    checkout.refund_sale(ACTOR, sale.id, None)
    db.session.refresh(earned)
    assert earned.reversed_fen == earned.amount_fen
    assert money_ledger.balances(money.AGENT, svc.id)[money.AVAILABLE] == 0  # netted against the debt
    for day in (DAY, DAY + timedelta(days=1), DAY + timedelta(days=2)):
        assert reconcile(day) == []


def test_debt_nets_against_later_commissions_and_blocks_withdrawal(scene):
    world, clock, card, (_, _, svc, _) = scene
    commissions.update_policy(ACTOR, {"return_window_days": 0}, "at once")
    sale = sell(world.shop_a, card, 20_000)
    close(clock, DAY)
    clock.now += timedelta(hours=1)
    assert commissions.agent_balance(svc.id).withdrawable_fen == 1_000
    # the agent has nothing available any more (say it withdrew): simulate by moving it to paid
    available = money_ledger.account(money.AGENT, svc.id, money.AVAILABLE)
    paid = money_ledger.account(money.AGENT, svc.id, money.PAID)
    money_ledger.post("test_paid", "paid-1", money.transfer(available, paid, 1_000), ACTOR)
    checkout.refund_sale(ACTOR, sale.id, None)
    assert money_ledger.has_debt(money.AGENT, svc.id) and commissions.agent_balance(svc.id).debt_fen == -1_000
    sell(world.shop_a, card, 30_000)  # earns 1 500 tomorrow
    close(clock, DAY + timedelta(days=1))
    balance = commissions.agent_balance(svc.id)
    assert (balance.debt_fen, balance.available_fen, balance.withdrawable_fen) == (0, 500, 500)
    assert reconcile(DAY + timedelta(days=1)) == []


def _flag(sale, status=BrushingFlagStatus.OPEN):
    rule = db.session.scalar(select(BrushingRule).limit(1)) or brushing.ensure_default_rules()[0]
    flag = BrushingFlag(
        rule_id=rule.id,
        dedupe_key=f"test:{sale.id}",
        subject_type="member",
        subject_id=sale.member_id,
        merchant_id=sale.merchant_id,
        window="2026-03-02",
        window_start=sale.created_at,
        status=status,
    )
    db.session.add(flag)
    db.session.flush()
    db.session.add(BrushingFlagSale(flag_id=flag.id, sale_id=sale.id))
    db.session.commit()
    return flag


def test_a_flag_holds_the_commission_and_a_confirmed_flag_takes_it_back(scene):
    world, clock, card, (_, _, svc, recruiter) = scene
    commissions.update_policy(ACTOR, {"return_window_days": 0}, "at once")
    held, other = sell(world.shop_a, card, 10_000), sell(world.shop_a, card, 10_000)
    flag = _flag(held)
    close(clock, DAY)
    statuses = {
        c.sale_id: c.status for c in db.session.scalars(select(Commission).where(Commission.role == "servicing"))
    }
    assert statuses == {held.id: CommissionStatus.PENDING, other.id: CommissionStatus.AVAILABLE}
    clock.now += timedelta(hours=1)
    brushing.review_flag(ACTOR, flag.id, "confirmed", "刷单属实")
    assert {c.status for c in db.session.scalars(select(Commission).where(Commission.sale_id == held.id))} == {
        CommissionStatus.REVERSED
    }
    assert money_ledger.balances(money.AGENT, svc.id)[money.PENDING] == 0
    close(clock, DAY + timedelta(days=1))
    row = db.session.scalar(
        select(Settlement).where(
            Settlement.merchant_id == world.shop_a.merchant.id, Settlement.business_day == DAY + timedelta(days=1)
        )
    )
    assert row.commission_fen == -(500 + 100)  # the flag's reversal lands on the day it was confirmed
    assert reconcile(DAY) == [] and reconcile(DAY + timedelta(days=1)) == []


def test_within_the_fee_the_net_position_is_the_same_and_the_fee_line_is_the_alliances_share(scene):
    world, clock, card, _ = scene
    merchant = world.shop_a.merchant
    merchant.service_fee_bp = 1_000
    db.session.commit()
    commissions.update_policy(ACTOR, {"funding": rules.FUNDING_WITHIN_FEE}, "carved out of the fee")
    sell(world.shop_a, card, 10_000)
    close(clock, DAY)
    row = db.session.scalar(select(Settlement).where(Settlement.merchant_id == merchant.id))
    assert row.commission_fen == 600 and row.service_fee_fen == 1_000 - 600 and row.commission_within_fee
    assert row.net_fen == row.accepted_value_fen - row.granted_value_fen - 1_000
    # the alliance's share of the fee is its income (the bonus pool's share accrues from it)
    assert money_ledger.balance(money.ALLIANCE, money.ALLIANCE_OWNER_ID, money.FEE_INCOME) == 400
    assert reconcile(DAY) == []


def test_the_regional_fee_is_paid_from_the_platforms_income_not_the_merchant(scene):
    world, clock, card, _ = scene
    from server.services import regions

    regions.load_regions()
    merchant = world.shop_a.merchant
    merchant.region_code = "110101"
    db.session.commit()
    agents.update_level(ACTOR, agents.ensure_default_levels()[0].id, territory_exclusive=True)
    regional = new_agent("区域代理", territories=[{"region_code": "110101", "exclusive": True}])
    commissions.update_policy(ACTOR, {"regional_fee_bp": 50}, "regional fee")
    sell(world.shop_a, card, 10_000)
    close(clock, DAY)
    fee = db.session.scalar(select(Commission).where(Commission.role == "regional"))
    assert (fee.beneficiary_id, fee.amount_fen, fee.funded_by) == (regional.id, 50, "platform")
    assert money_ledger.balance(money.ALLIANCE, money.ALLIANCE_OWNER_ID, money.FEE_INCOME) == -50
    row = db.session.scalar(select(Settlement).where(Settlement.merchant_id == merchant.id))
    assert row.commission_fen == 500 + 100  # servicing + recruiter; the regional fee is not the merchant's
    assert reconcile(DAY) == []
