"""Benefit stock alerts as jobs of `jobs run`: each rule raises its alert from real stock, once per key and
period, texts the configured staff phones through the outbox (in Chinese), and is acknowledged once."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from server.domain.errors import Conflict, InvalidRequest
from server.extensions import db
from server.models import AuditLog, BenefitAlert, JobRun, SmsMessage
from server.security.pii import decrypt_phone
from server.services import benefit_alerts
from server.services.alliance import ensure_alliance
from server.services.jobs import run_job
from tests.benefit_ops_support import add_codes, make_purchase, make_sku, make_supplier
from tests.builders import ACTOR, make_member, make_world

TODAY = date(2026, 12, 7)  # a Monday
STAFF_PHONES = "13800138000, 13900139000, not-a-phone"


EARLIER = datetime(2026, 11, 25, 4, tzinfo=UTC)


@pytest.fixture
def phones(ctx, app, monkeypatch):
    ensure_alliance()
    db.session.commit()
    monkeypatch.setitem(app.config, "BENEFIT_ALERT_PHONES", STAFF_PHONES)


@pytest.fixture
def member(ctx):
    make_world()
    return make_member(with_card=False)[0]


def outbox() -> list[tuple[str, str]]:
    return [
        (decrypt_phone(m.phone_ciphertext), m.text)
        for m in db.session.scalars(select(SmsMessage).order_by(SmsMessage.id))
    ]


def alerts(kind=None) -> list[BenefitAlert]:
    query = select(BenefitAlert).order_by(BenefitAlert.kind)
    return list(db.session.scalars(query.where(BenefitAlert.kind == kind) if kind else query))


def test_low_stock_alert_is_raised_once_a_week_and_texted_to_the_staff(phones):
    supplier = make_supplier()
    sku = make_sku("爱奇艺月卡", threshold=10, near_expiry_days=0)
    add_codes(make_purchase(supplier, sku, 9, 1_500, TODAY), 9, date(2027, 6, 30))

    outcome = run_job("benefit-stock-alerts", TODAY)
    assert outcome.summary == {"found": 1, "raised": 1, "texted": 2}
    (alert,) = alerts()
    assert (alert.kind, alert.period, alert.sku_id, alert.figures) == (
        "low_stock",
        "2026-W50",
        sku.id,
        {"available": 9, "threshold": 10},
    )
    texts = outbox()
    assert [phone for phone, _ in texts] == ["13800138000", "13900139000"]
    assert texts[0][1] == "【幸福街商家联盟】权益库存预警：爱奇艺月卡可用库存9个，低于预警线10个，请及时补货。"

    # the same week: nothing new, nobody texted again; the next week: raised again
    assert run_job("benefit-stock-alerts", date(2026, 12, 13)).summary == {"found": 1, "raised": 0, "texted": 0}
    assert len(outbox()) == 2
    assert run_job("benefit-stock-alerts", date(2026, 12, 14)).summary["raised"] == 1
    assert db.session.scalar(select(func.count(JobRun.id)).where(JobRun.job == "benefit-stock-alerts")) == 3


def test_no_alert_when_the_stock_is_at_the_threshold(phones):
    sku = make_sku(threshold=5, near_expiry_days=0)
    add_codes(make_purchase(make_supplier(), sku, 5, 100, TODAY), 5)
    assert run_job("benefit-stock-alerts", TODAY).summary == {"found": 0, "raised": 0, "texted": 0}
    assert outbox() == []


def test_scheduled_demand_not_covered_by_codes_valid_on_its_date(phones):
    sku = make_sku("星巴克中杯券", near_expiry_days=0)
    purchase = make_purchase(make_supplier(), sku, 100, 2_000, TODAY)
    add_codes(purchase, 60, date(2026, 12, 10))  # expire before the campaign
    add_codes(purchase, 40, date(2027, 3, 1))
    benefit_alerts.add_demand(ACTOR, sku.id, date(2026, 12, 12), 50, "双十二活动")
    benefit_alerts.add_demand(ACTOR, sku.id, date(2027, 2, 1), 500, "beyond the 30-day horizon")

    run_job("benefit-stock-alerts", TODAY)
    (alert,) = alerts("demand_shortfall")
    assert alert.figures == {
        "demanded": 50,
        "available": 100,
        "short": 10,
        "first_short_on": "2026-12-12",
        "demands": 1,
    }
    assert "星巴克中杯券排期需要50个，可用100个，自2026-12-12起缺10个" in outbox()[0][1]
    assert [d["note"] for d in benefit_alerts.list_demands(TODAY)] == ["双十二活动", "beyond the 30-day horizon"]


def test_near_expiry_counts_only_available_codes_with_their_cost(phones, member):
    sku = make_sku("话费充值50元", near_expiry_days=15)
    purchase = make_purchase(make_supplier(), sku, 10, 4_800, TODAY)
    add_codes(purchase, 3, date(2026, 12, 20))
    add_codes(purchase, 2, date(2026, 12, 20), status="issued", issued_at=EARLIER, member_id=member.id)
    add_codes(purchase, 4, date(2027, 1, 31))

    run_job("benefit-stock-alerts", TODAY)
    (alert,) = alerts("near_expiry")
    assert alert.figures == {"count": 3, "cost_fen": 14_400, "first_expiry": "2026-12-20", "days": 15}
    assert outbox()[0][1] == (
        "【幸福街商家联盟】权益临期预警：话费充值50元有3个将在15天内过期（最早2026-12-20），"
        "成本144.00元，请尽快发放或处理。"
    )


def redeemed_and_failed(supplier, sku, redeemed, failed, member, when):
    purchase = make_purchase(supplier, sku, redeemed + failed, 1_000, date(2026, 11, 20))
    add_codes(purchase, redeemed, status="redeemed", issued_at=EARLIER, redeemed_at=when, member_id=member.id)
    dead = add_codes(purchase, failed, status="issued", issued_at=EARLIER, member_id=member.id)
    return [benefit_alerts.report_failed_code(ACTOR, code.id, "兑换时提示卡密已失效") for code in dead]


def test_a_supplier_whose_codes_fail_at_redemption_is_alerted_once_a_month(phones, member, app, monkeypatch):
    monkeypatch.setitem(app.config, "BENEFIT_FAILURE_MIN_ATTEMPTS", 10)
    bad, good, small = make_supplier("劣质供应商"), make_supplier("可靠供应商"), make_supplier("小供应商")
    sku = make_sku(near_expiry_days=0)
    when = datetime(2026, 12, 3, 4, tzinfo=UTC)
    claims = redeemed_and_failed(bad, sku, 8, 2, member, when)  # 20 %
    redeemed_and_failed(good, sku, 20, 0, member, when)
    redeemed_and_failed(small, sku, 3, 3, member, when)  # 50 %, but 6 attempts say too little
    assert claims[0].credit_fen == 1_000 and claims[0].supplier_id == bad.id

    outcome = run_job("benefit-supplier-alerts", TODAY)
    assert outcome.summary == {"found": 1, "raised": 1, "texted": 2}
    (alert,) = alerts("supplier_failures")
    assert (alert.supplier_id, alert.period) == (bad.id, "2026-12")
    assert alert.figures == {"attempts": 10, "failed": 2, "rate_bp": 2_000, "threshold_bp": 500, "window_days": 30}
    assert outbox()[0][1] == (
        "【幸福街商家联盟】供应商预警：劣质供应商近30天核销失败2个，共10次核销，失败率20.00%，超过5.00%，请核查并索赔。"
    )
    assert run_job("benefit-supplier-alerts", date(2026, 12, 31)).summary["raised"] == 0

    # rejected claims no longer count: 8 attempts without a failure raise nothing
    benefit_alerts.resolve_claim(ACTOR, claims[0].id, credited=False)
    benefit_alerts.resolve_claim(ACTOR, claims[1].id, credited=False)
    assert benefit_alerts.supplier_findings(TODAY) == []


def test_claims_only_for_codes_handed_out_and_once(ctx, member):
    purchase = make_purchase(make_supplier(), make_sku(), 3, 500, TODAY)
    (in_stock,) = add_codes(purchase, 1)
    (issued,) = add_codes(purchase, 1, status="issued", issued_at=EARLIER, member_id=member.id)
    with pytest.raises(Conflict):
        benefit_alerts.report_failed_code(ACTOR, in_stock.id, "dead")
    with pytest.raises(InvalidRequest):
        benefit_alerts.report_failed_code(ACTOR, issued.id, "  ")
    benefit_alerts.report_failed_code(ACTOR, issued.id, "dead")
    with pytest.raises(Conflict):
        benefit_alerts.report_failed_code(ACTOR, issued.id, "dead again")


def test_alerts_list_and_are_acknowledged_once_audited(phones):
    sku = make_sku("咖啡券", threshold=1, near_expiry_days=0)
    run_job("benefit-stock-alerts", TODAY)
    (row,) = benefit_alerts.list_alerts(status="open")
    assert (row["kind"], row["subject_name"], row["texted"]) == ("low_stock", "咖啡券", 2)
    assert benefit_alerts.open_alert_count() == 1
    benefit_alerts.acknowledge_alert("staff:usr_1", row["id"])
    assert benefit_alerts.list_alerts(status="open") == [] and benefit_alerts.open_alert_count() == 0
    with pytest.raises(Conflict):
        benefit_alerts.acknowledge_alert("staff:usr_1", row["id"])
    entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "benefit_alert.acknowledge"))
    assert entry.object_id == row["id"] and sku.id == row["sku_id"]


def test_without_configured_phones_alerts_are_raised_and_nobody_is_texted(ctx, app, monkeypatch):
    ensure_alliance()
    monkeypatch.setitem(app.config, "BENEFIT_ALERT_PHONES", "")
    make_sku(threshold=1, near_expiry_days=0)
    assert run_job("benefit-stock-alerts", TODAY).summary == {"found": 1, "raised": 1, "texted": 0}
    assert outbox() == []
