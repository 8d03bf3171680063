"""Benefit anti-fraud through the services: claim and redemption budgets per subject and period, uniform
refusals of code lookups, every failed lookup counted, one velocity alert per subject and hour."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, func, select

from server.domain.errors import BenefitCodeInvalid, BenefitLimitReached, InvalidRequest
from server.extensions import db
from server.models import BenefitAlert, BenefitCode, BenefitGrant, SmsMessage
from server.models.base import utcnow
from server.services import benefit_alerts, benefit_fraud, benefit_grants, benefit_stock
from tests.benefits.helpers import MANAGER, vouchers
from tests.builders import make_member, make_world


def campaign(sku, code="FRAUD", per_member_limit=50, budget=100):
    now = utcnow()
    found = benefit_grants.create_campaign(
        MANAGER,
        code=code,
        name="风控活动",
        sku_id=sku.id,
        starts_at=now - timedelta(minutes=5),
        ends_at=now + timedelta(days=3),
        total_budget=budget,
        per_member_limit=per_member_limit,
    )
    benefit_grants.set_campaign_status(MANAGER, found.id, "active")
    return found


def limits(**values):
    benefit_fraud.update_limits(MANAGER.key, {key.replace("__", ":"): value for key, value in values.items()})


def test_claims_stop_at_the_budget_of_the_member_and_of_the_device_and_give_it_back_on_a_refusal(ctx):
    make_world()
    sku = vouchers("CLAIM-10", quantity=10)
    found = campaign(sku)
    limits(claim__member__hour=2, claim__device__day=3)
    one, _ = make_member(with_card=False)
    two, _ = make_member(with_card=False)
    phone = {"device": "dev_shared", "ip": "203.0.113.7"}
    benefit_grants.claim(one.id, found.id, origin=phone)
    benefit_grants.claim(one.id, found.id, origin=phone)
    with pytest.raises(BenefitLimitReached) as refused:
        benefit_grants.claim(one.id, found.id, origin=phone)
    assert refused.value.details == {"subject": "member", "period": "hour"}
    benefit_grants.claim(two.id, found.id, origin=phone)  # another member, the same phone: its third claim
    with pytest.raises(BenefitLimitReached) as refused:
        benefit_grants.claim(two.id, found.id, origin=phone)
    assert refused.value.details == {"subject": "device", "period": "day"}
    assert db.session.scalar(select(func.count()).select_from(BenefitGrant)) == 3
    assert benefit_grants.get_campaign(found.id).remaining == 97  # the refused claims gave their budget back
    counters = {(c["action"], c["subject_kind"], c["period_name"]): c for c in benefit_fraud.list_counters()}
    assert counters[("claim", "device", "day")]["count"] == 3 and counters[("claim", "device", "day")]["at_budget"]
    # points exchange and partner grants count against the same member budget; gifts and batches do not
    with pytest.raises(BenefitLimitReached):
        benefit_grants.exchange_points(one.id, vouchers("PTS-1", quantity=2, points_price=1).id, "r1")
    with pytest.raises(InvalidRequest):
        benefit_fraud.update_limits(MANAGER.key, {"claim:member:week": 3})


def issued_code(sku, member) -> str:
    (code_id,) = benefit_stock.allocate(sku.id, member_id=member.id)
    return benefit_stock.reveal_for_member(member.id, code_id)["code"]


def refusal(attempt) -> tuple[int, tuple]:
    """How a refused redemption looks from outside: the SQL statements it ran (their kind) and its error."""
    statements = []

    def count(_conn, _cursor, statement, *_args):
        if "FROM alliance_settings" not in statement:  # the settings' per-worker copy is refreshed now and then
            statements.append(statement.split("(")[0])

    engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        with pytest.raises(BenefitCodeInvalid) as refused:
            attempt()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    error = refused.value
    return statements, (error.code, error.status, error.message, error.details)


def test_unknown_used_and_over_budget_codes_get_the_same_answer_and_each_failure_is_counted(ctx):
    world = make_world()
    sku = vouchers("REDEEM-10", quantity=10)
    member, _ = make_member(with_card=False)
    shop, till = world.shop_a.merchant.id, world.shop_a.terminal.id
    codes = [issued_code(sku, member) for _ in range(3)]
    limits(redeem__terminal__hour=1, failure__terminal__hour=0, failure__member__hour=0)

    def redeem(code):
        return lambda: benefit_stock.redeem(code, shop, terminal_id=till, ip="198.51.100.9")

    benefit_stock.redeem(codes[0], shop, terminal_id=till, ip="198.51.100.9")
    db.session.expunge_all()
    unknown = refusal(redeem("ZZZZ-ZZZZ-ZZZZ"))
    db.session.expunge_all()
    used = refusal(redeem(codes[0]))
    db.session.expunge_all()
    over_budget = refusal(redeem(codes[1]))  # a good code, but this till used its redemption budget
    assert unknown[1] == used[1] == over_budget[1]
    assert unknown[0] == used[0] == over_budget[0]  # the same statements: the answer's shape reveals nothing
    assert db.session.get(BenefitCode, _code_id(codes[1])).status == "issued"
    failures = {
        (c["subject_kind"], c["period_name"]): c["count"] for c in benefit_fraud.list_counters(action="failure")
    }
    assert failures[("terminal", "hour")] == 3 and failures[("ip", "day")] == 3

    # guessing stops paying: once the till's failures reach their budget, a good code is refused too
    limits(redeem__terminal__hour=0, failure__terminal__hour=3)
    db.session.expunge_all()
    assert refusal(redeem(codes[2]))[1] == unknown[1]
    limits(failure__terminal__hour=0)
    assert benefit_stock.redeem(codes[2], shop, terminal_id=till).status == "redeemed"


def _code_id(code: str) -> str:
    from server.services.benefit_stock import _find_code

    return _find_code(code).id


def test_too_many_failures_from_one_till_raise_one_alert_per_hour_texted_to_the_operator(app, ctx):
    world = make_world()
    app.config["BENEFIT_ALERT_PHONES"] = "13900001111"
    try:
        limits(alert__failure__hour=3, failure__terminal__hour=0, failure__ip__hour=0)
        now = utcnow()
        for minutes in range(6):
            with pytest.raises(BenefitCodeInvalid):
                benefit_stock.redeem(
                    f"GUESS{minutes}", world.shop_a.merchant.id, terminal_id=world.shop_a.terminal.id, now=now
                )
        alerts = db.session.scalars(select(BenefitAlert).where(BenefitAlert.kind == "velocity")).all()
        assert [(a.figures["subject_kind"], a.figures["count"]) for a in alerts] == [("terminal", 3)]
        sms = db.session.scalars(select(SmsMessage).where(SmsMessage.template == "benefit_velocity")).all()
        assert len(sms) == 1 and "风控预警" in sms[0].text and world.shop_a.terminal.id in sms[0].text
        listed = benefit_alerts.list_alerts(kind="velocity")
        assert listed[0]["figures"]["threshold"] == 3
        for _ in range(3):  # the next hour: one more alert
            with pytest.raises(BenefitCodeInvalid):
                benefit_stock.redeem(
                    "GUESS",
                    world.shop_a.merchant.id,
                    terminal_id=world.shop_a.terminal.id,
                    now=now + timedelta(hours=1),
                )
        assert db.session.scalar(select(func.count()).where(BenefitAlert.kind == "velocity")) == 2
    finally:
        app.config["BENEFIT_ALERT_PHONES"] = ""


def test_counters_of_past_days_are_purged_by_their_job(ctx):
    from server.models import BenefitCounter
    from server.services.jobs import run_job

    make_world()
    now = utcnow()
    benefit_fraud.record_failure({"terminal": "ter_old", "ip": "192.0.2.1"}, now - timedelta(days=9))
    benefit_fraud.record_failure({"terminal": "ter_new"}, now)
    assert run_job("purge-benefit-counters").summary == {"deleted": 4}
    assert {row.subject for row in db.session.scalars(select(BenefitCounter))} == {"ter_new"}
