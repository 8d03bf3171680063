"""Benefit stock alerts (pure rules): low stock, short for the scheduled demand (expiring codes do not count
for a later demand), near expiry with count and cost at risk, failing suppliers, and the dedup period."""

from __future__ import annotations

from datetime import date

import pytest

from server.domain.benefit_alerts import (
    Demand,
    StockLot,
    alert_key,
    alert_period,
    check_threshold,
    demand_shortfall,
    failure_rate_bp,
    low_stock,
    near_expiry,
    supplier_failures,
    unmet_demand,
)
from server.domain.errors import InvalidRequest
from server.domain.statuses import BenefitAlertKind

TODAY = date(2026, 12, 6)


def test_low_stock_below_the_threshold_only():
    assert low_stock("bsku_a", 10, 10) is None
    finding = low_stock("bsku_a", 9, 10)
    assert finding.kind == BenefitAlertKind.LOW_STOCK and finding.figures == {"available": 9, "threshold": 10}
    assert finding.key == "low_stock:bsku_a"
    assert low_stock("bsku_a", 0, None) is None and low_stock("bsku_a", 0, 0) is None  # no threshold: never


def test_demand_met_by_stock_raises_nothing():
    lots = [StockLot(date(2027, 6, 1), 100)]
    assert demand_shortfall("s", lots, [Demand(date(2026, 12, 20), 100)], TODAY) is None


def test_codes_expiring_before_a_demand_do_not_serve_it():
    lots = [StockLot(date(2026, 12, 10), 80), StockLot(date(2027, 1, 31), 30)]
    finding = demand_shortfall("s", lots, [Demand(date(2026, 12, 15), 50)], TODAY)
    assert finding.figures == {
        "demanded": 50,
        "available": 110,
        "short": 20,
        "first_short_on": "2026-12-15",
        "demands": 1,
    }


def test_demands_are_served_earliest_expiring_first_so_later_demands_keep_long_lived_codes():
    lots = [StockLot(date(2026, 12, 12), 10), StockLot(None, 10)]
    demands = [Demand(date(2026, 12, 8), 10), Demand(date(2026, 12, 20), 10)]
    assert [short for _, short in unmet_demand(lots, demands)] == [0, 0]
    assert demand_shortfall("s", lots, demands, TODAY) is None


def test_demands_outside_the_horizon_or_past_are_ignored():
    lots = [StockLot(None, 1)]
    demands = [Demand(date(2026, 12, 1), 50), Demand(date(2027, 3, 1), 50)]
    assert demand_shortfall("s", lots, demands, TODAY, horizon_days=30) is None
    assert demand_shortfall("s", lots, demands, TODAY, horizon_days=90).figures["short"] == 49


def test_near_expiry_counts_codes_and_cost_within_the_window():
    lots = [
        StockLot(date(2026, 12, 5), 7, 700),  # already expired: the expiry job's, not at risk
        StockLot(date(2026, 12, 20), 3, 3_000),
        StockLot(date(2027, 1, 5), 2, 2_000),  # day 30: inside
        StockLot(date(2027, 1, 6), 9, 9_000),  # day 31: outside
        StockLot(None, 100, 100_000),
    ]
    finding = near_expiry("bsku_x", lots, TODAY, 30)
    assert finding.figures == {"count": 5, "cost_fen": 5_000, "first_expiry": "2026-12-20", "days": 30}
    assert near_expiry("bsku_x", lots, TODAY, 10) is None
    assert near_expiry("bsku_x", [StockLot(TODAY, 1, 1)], TODAY, 0) is None  # 0 days: no alert


def test_failing_supplier_needs_enough_attempts_and_a_rate_at_the_threshold():
    assert failure_rate_bp(0, 0) == 0 and failure_rate_bp(3, 1) == 3333
    assert supplier_failures("sup", redeemed=10, failed=5, min_attempts=20) is None  # too few attempts
    assert supplier_failures("sup", redeemed=96, failed=4, threshold_bp=500) is None  # 4 %
    finding = supplier_failures("sup", redeemed=95, failed=5, threshold_bp=500)
    assert finding.kind == BenefitAlertKind.SUPPLIER_FAILURES
    assert finding.figures == {"attempts": 100, "failed": 5, "rate_bp": 500, "threshold_bp": 500}


def test_stock_alerts_repeat_weekly_and_supplier_alerts_monthly():
    assert alert_period(BenefitAlertKind.LOW_STOCK, date(2026, 12, 7)) == "2026-W50"
    assert alert_period(BenefitAlertKind.LOW_STOCK, date(2026, 12, 13)) == "2026-W50"
    assert alert_period(BenefitAlertKind.NEAR_EXPIRY, date(2026, 12, 14)) == "2026-W51"
    assert alert_period(BenefitAlertKind.SUPPLIER_FAILURES, date(2026, 12, 31)) == "2026-12"
    assert alert_key(BenefitAlertKind.NEAR_EXPIRY, "bsku_1") == "near_expiry:bsku_1"


@pytest.mark.parametrize("value", [-1, True, 1.5, "3"])
def test_thresholds_are_whole_numbers_not_negative(value):
    with pytest.raises(InvalidRequest):
        check_threshold(value, "threshold")
    assert check_threshold(0, "threshold") == 0
