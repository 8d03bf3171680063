"""Benefit analytics on a built dataset, on SQLite and PostgreSQL: the summary by group and the retention cohorts."""

from __future__ import annotations

from datetime import date

from server.extensions import db
from server.services import benefit_analytics
from tests.benefits.analytics_support import NOW, build_analytics_data


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
