"""Benefit analytics on a built dataset, on SQLite and PostgreSQL: the summary by group and the retention cohorts."""

from __future__ import annotations

from datetime import date

from server.extensions import db
from server.services import benefit_analytics, staff
from tests.benefits.analytics_support import NOW, build_analytics_data
from tests.builders import ACTOR
from tests.console.support import PASSWORD, sign_in


def check_the_january_cohort() -> None:
    data = build_analytics_data()
    cohorts = benefit_analytics.retention(date(2026, 1, 1), date(2026, 2, 1), now=NOW)
    january, february = cohorts
    assert (january.month, january.treated, january.treated_active, january.comparison) == (date(2026, 1, 1), 5, 4, 2)
    d30, d60, d90 = january.horizon(30), january.horizon(60), january.horizon(90)
    assert [d30.treated_rate_bp, d60.treated_rate_bp, d90.treated_rate_bp] == [4000, 6000, 8000]  # a20 new20 b45 c80
    assert [d30.matched_rate_bp, d60.matched_rate_bp, d90.matched_rate_bp] == [2500, 5000, 7500]
    assert [d30.comparison_rate_bp, d60.comparison_rate_bp, d90.comparison_rate_bp] == [5000, 5000, 5000]
    assert [d30.uplift_bp, d60.uplift_bp, d90.uplift_bp] == [-2500, 0, 2500]
    assert (d90.unmatched, d90.comparison_observed, d90.comparison_returned) == (1, 2, 1)
    # February: the member who got a voucher then; the comparison members are those of January (active before)
    assert (february.treated, february.treated_active) == (1, 1)
    assert february.horizon(90).treated_returned == 0

    by_sku = benefit_analytics.benefit_summary(date(2026, 1, 1), date(2026, 3, 31), group_by="sku")
    assert [(r["name"], r["issued"], r["claimed"], r["redeemed"], r["expired"]) for r in by_sku] == [
        (data.sku.name, 6, 6, 1, 1)
    ]
    assert by_sku[0]["redemption_rate_bp"] == 1666 and by_sku[0]["cost_fen"] == 0  # generated vouchers cost nothing
    january_only = benefit_analytics.benefit_summary(date(2026, 1, 1), date(2026, 1, 31), group_by="channel")
    assert [(r["key"], r["issued"], r["redeemed"], r["expired"]) for r in january_only] == [("batch", 5, 1, 0)]
    by_merchant = benefit_analytics.benefit_summary(date(2026, 1, 1), date(2026, 3, 31), group_by="merchant")
    assert {r["key"]: r["redeemed"] for r in by_merchant} == {data.world.shop_a.merchant.id: 1, "": 0}
    assert by_merchant[0]["name"] == "甲店" or by_merchant[1]["name"] == "甲店"


def test_the_summary_and_the_cohorts_on_sqlite(ctx):
    check_the_january_cohort()


def test_the_same_sql_on_postgresql(pg_app):
    with pg_app.app_context():
        try:
            check_the_january_cohort()
        finally:
            db.session.remove()


def test_the_api_gives_the_tables_as_csv_with_chinese_headers_and_refuses_a_bad_month(app, client):
    with app.app_context():
        admin = build_analytics_data().world.staff_auth("admin")
        db.session.remove()
    months = {"month_from": "2026-01", "month_to": "2026-01"}
    rows = client.get("/api/v1/benefit-retention", query_string=months, headers=admin).get_json()
    assert [(row["days"], row["treated"]) for row in rows] == [(30, 5), (60, 5), (90, 5)]
    exported = client.get("/api/v1/benefit-retention", query_string={**months, "format": "csv"}, headers=admin)
    lines = exported.get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert lines[0].startswith("批次（首次获得权益的月份）,回访期（天）,获权益会员") and len(lines) == 4
    by_sku = client.get("/api/v1/benefit-analytics", query_string={"format": "csv"}, headers={**admin, "Accept": "*/*"})
    assert by_sku.get_data(as_text=True).lstrip("\ufeff").splitlines()[1].endswith(",6,6,1,1,1,0.00,16.66%")
    refused = client.get("/api/v1/benefit-retention", query_string={"month_from": "2026-13"}, headers=admin)
    assert refused.status_code == 422 and "月份格式为 YYYY-MM。" in str(refused.get_json())
    backwards = client.get(
        "/api/v1/benefit-retention", query_string={"month_from": "2026-03", "month_to": "2026-01"}, headers=admin
    )
    assert backwards.status_code == 422 and "起始月份不能晚于结束月份。" in str(backwards.get_json())


def test_far_dates_are_answered_or_refused_never_failed(app, client):
    with app.app_context():
        admin = build_analytics_data().world.staff_auth("admin")
        staff.create_staff_user(ACTOR, "c-far", "benefits_manager", PASSWORD)
        db.session.commit()
        db.session.remove()
    far = {"day_from": "0001-01-01", "day_to": "9999-12-31", "group_by": "channel"}
    assert client.get("/api/v1/benefit-analytics", query_string=far, headers=admin).get_json()[0]["issued"] == 6
    assert (
        client.get("/api/v1/benefit-retention", query_string={"month_to": "9999-12"}, headers=admin).status_code == 422
    )
    sign_in(client, "c-far")
    for url in (
        "/console/benefits/retention?from=0001-01&to=9999-12",
        "/console/benefits/analytics?from=0001-01-01&to=9999-12-31",
    ):
        response = client.get(url)
        assert response.status_code == 200
    assert "此筛选条件未生效" in client.get("/console/benefits/retention?from=0001-01&to=9999-12").get_data(
        as_text=True
    )


def test_the_cohorts_cost_two_queries_each_whatever_the_members(ctx):
    from sqlalchemy import event

    build_analytics_data()
    benefit_analytics.retention(date(2026, 1, 1), date(2026, 1, 1), now=NOW)  # the settings are loaded once
    statements = []
    engine = db.engine
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        cohorts = benefit_analytics.retention(date(2025, 11, 1), date(2026, 4, 1), now=NOW)
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert len(cohorts) == 6
    assert len([sql for sql in statements if "alliance_settings" not in sql]) == 2 * 6  # grouped per cohort
