"""Consignment of benefit codes to an agent: first-expiring codes at the agent's level price, invoiced; what
the agent handed on and where it was redeemed; refused without stock or a price, changing nothing."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from server.domain.errors import Conflict, DomainError, InvalidRequest
from server.extensions import db
from server.models import AuditLog, BenefitCode, BenefitConsignment
from server.services import agents, benefit_consignment, regions
from tests.benefit_ops_support import add_codes, make_purchase, make_sku, make_supplier, set_agent_price
from tests.builders import ACTOR, make_member, make_world, next_phone


@pytest.fixture
def setup(ctx):
    regions.load_regions()
    world = make_world()
    agent = agents.create_agent(ACTOR, kind="person", name="南山代理", phone=next_phone())
    agents.update_agent(ACTOR, agent.id, status="active", status_reason="contract signed")
    sku = make_sku("视频季卡")
    purchase = make_purchase(make_supplier(), sku, 6, 3_000, date(2026, 11, 1))
    late = add_codes(purchase, 3, date(2027, 6, 30))
    early = add_codes(purchase, 3, date(2027, 1, 31))
    return world, agent, sku, early, late


def test_consigned_codes_are_the_first_expiring_at_the_level_price_and_invoiced(setup):
    world, agent, sku, early, late = setup
    set_agent_price(sku, agent.level_id, 3_800)
    consignment = benefit_consignment.consign_benefits(ACTOR, agent.id, sku.id, 4)
    assert (consignment.quantity, consignment.unit_price_fen, consignment.amount_fen) == (4, 3_800, 15_200)
    assert consignment.status == "invoiced" and consignment.invoice_no.startswith("BC")
    db.session.expire_all()  # the guarded update went past the session's copies of the codes
    held = db.session.scalars(select(BenefitCode).where(BenefitCode.agent_id == agent.id)).all()
    assert {code.id for code in early} < {code.id for code in held} and len(held) == 4
    assert all(code.status == "issued" for code in held)
    audit = db.session.scalar(select(AuditLog).where(AuditLog.action == "benefit.consign"))
    assert audit.details["amount_fen"] == 15_200

    # the agent hands one on to a member, who redeems it at shop A
    member = make_member(with_card=False)[0]
    code = db.session.get(BenefitCode, early[0].id)
    code.member_id, code.status = member.id, "redeemed"
    code.redeemed_at, code.redeemed_merchant_id = datetime(2026, 12, 5, tzinfo=UTC), world.shop_a.merchant.id
    db.session.commit()
    (row,) = benefit_consignment.consignment_outcomes(agent.id)
    assert (row["codes"], row["handed_on"], row["redeemed"], row["with_agent"]) == (4, 1, 1, 3)
    assert row["redeemed_at"] == [("甲店", 1)] and row["agent_name"] == "南山代理"
    stock = benefit_consignment.agent_benefit_stock(agent.id)
    assert len(stock) == 4 and all(re.fullmatch(r"\*\*\*\*\d{4}", item["masked"]) for item in stock)
    redeemed = [item for item in stock if item["status"] == "redeemed"]
    assert redeemed[0]["redeemed_merchant"] == "甲店"

    paid = benefit_consignment.mark_paid(ACTOR, consignment.id, "转账 20261206")
    assert paid.status == "paid"
    with pytest.raises(Conflict):
        benefit_consignment.mark_paid(ACTOR, consignment.id, "again")


def test_refused_without_a_level_price_or_enough_stock_and_nothing_changes(setup):
    _, agent, sku, _, _ = setup
    with pytest.raises(Conflict):
        benefit_consignment.consign_benefits(ACTOR, agent.id, sku.id, 1)  # no price for the level
    set_agent_price(sku, agent.level_id, 100)
    with pytest.raises(DomainError):
        benefit_consignment.consign_benefits(ACTOR, agent.id, sku.id, 7)  # six in stock
    with pytest.raises(InvalidRequest):
        benefit_consignment.consign_benefits(ACTOR, agent.id, sku.id, 0)
    assert db.session.scalar(select(func.count(BenefitConsignment.id))) == 0
    assert db.session.scalar(select(func.count(BenefitCode.id)).where(BenefitCode.status == "available")) == 6


def test_only_active_agents_receive_benefits(setup):
    _, _, sku, _, _ = setup
    applied = agents.create_agent(ACTOR, kind="person", name="新代理", phone=next_phone())
    set_agent_price(sku, applied.level_id, 100)
    with pytest.raises(Conflict):
        benefit_consignment.consign_benefits(ACTOR, applied.id, sku.id, 1)
