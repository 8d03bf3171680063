"""Pure rules: lot expiry dates, spend order, restores across an expiry, business days, net positions."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.domain.lots import (
    NEVER_EXPIRES,
    LotsDoNotCover,
    OpenLot,
    SpentPart,
    allocate_spend,
    expiry_date,
    plan_restore,
)
from server.domain.settlement import (
    DayActivity,
    FeeTerms,
    business_day_of,
    business_day_window,
    net_position,
    signed_fee,
)


@pytest.mark.parametrize(
    ("earned", "policy", "months", "expected"),
    [
        (date(2026, 5, 15), "months", 12, date(2027, 5, 15)),
        (date(2026, 1, 31), "months", 1, date(2026, 2, 28)),  # clamped to the month's end
        (date(2027, 12, 31), "months", 2, date(2028, 2, 29)),  # leap year
        (date(2026, 11, 30), "months", 3, date(2027, 2, 28)),
        (date(2026, 1, 1), "year_end", 0, date(2028, 12, 31)),
        (date(2026, 12, 31), "year_end", 0, date(2028, 12, 31)),
        (date(2026, 6, 1), "never", 0, NEVER_EXPIRES),
    ],
)
def test_expiry_dates_follow_the_policy(earned, policy, months, expected):
    assert expiry_date(earned, policy, months) == expected


def test_a_bad_policy_is_refused():
    with pytest.raises(ValueError):
        expiry_date(date(2026, 1, 1), "weeks", 2)
    with pytest.raises(ValueError):
        expiry_date(date(2026, 1, 1), "months", 0)


def test_spending_takes_the_lots_closest_to_expiry_first_ties_by_id():
    lots = [
        OpenLot(7, date(2027, 3, 1), 50),
        OpenLot(3, date(2026, 12, 31), 30),
        OpenLot(5, date(2026, 12, 31), 40),
        OpenLot(9, date(2026, 6, 30), 0),
    ]
    assert allocate_spend(lots, 60) == [(3, 30), (5, 30)]
    assert allocate_spend(lots, 120) == [(3, 30), (5, 40), (7, 50)]
    assert allocate_spend(lots, 10, first=7) == [(7, 10)]
    assert allocate_spend(lots, 0) == []
    with pytest.raises(LotsDoNotCover):
        allocate_spend(lots, 121)


@given(
    st.lists(st.tuples(st.integers(0, 400), st.integers(0, 100)), max_size=8),
    st.integers(0, 500),
)
def test_a_spend_never_takes_a_later_lot_while_an_earlier_one_has_points(specs, points):
    lots = [OpenLot(i, date.fromordinal(738000 + day), left) for i, (day, left) in enumerate(specs)]
    if points > sum(lot.remaining for lot in lots):
        with pytest.raises(LotsDoNotCover):
            allocate_spend(lots, points)
        return
    taken = dict(allocate_spend(lots, points))
    assert sum(taken.values()) == points
    by_id = {lot.id: lot for lot in lots}
    for lot_id, take in taken.items():
        assert 0 < take <= by_id[lot_id].remaining
    # every lot before the last one used is used up
    if taken:
        last = max((by_id[i].expires_on, i) for i in taken)
        for lot in lots:
            if (lot.expires_on, lot.id) < last:
                assert taken.get(lot.id, 0) == lot.remaining


def test_a_restore_returns_latest_expiry_first_and_expires_what_lands_on_expired_lots():
    parts = [
        SpentPart(1, 10, date(2026, 3, 31), 30, 0),
        SpentPart(2, 11, date(2026, 9, 30), 20, 5),
    ]
    plan = plan_restore(parts, 25, today=date(2026, 4, 2))
    assert [(p.lot_id, p.points, p.expired) for p in plan] == [(11, 15, 0), (10, 10, 10)]
    # on its last valid day a lot has not expired yet
    plan = plan_restore(parts, 20, today=date(2026, 3, 31))
    assert [(p.lot_id, p.points, p.expired) for p in plan] == [(11, 15, 0), (10, 5, 0)]
    with pytest.raises(LotsDoNotCover):
        plan_restore(parts, 46, today=date(2026, 1, 1))


def test_business_days_run_from_the_cut_off_hour_in_alliance_time():
    zone = "Asia/Shanghai"
    # 2026-03-02 03:59 Beijing time still belongs to 1 March; 04:00 starts 2 March
    assert business_day_of(datetime(2026, 3, 1, 19, 59, tzinfo=UTC), zone, 4) == date(2026, 3, 1)
    assert business_day_of(datetime(2026, 3, 1, 20, 0, tzinfo=UTC), zone, 4) == date(2026, 3, 2)
    start, end = business_day_window(date(2026, 3, 2), zone, 4)
    assert (start, end) == (datetime(2026, 3, 1, 20, tzinfo=UTC), datetime(2026, 3, 2, 20, tzinfo=UTC))
    # across a daylight-saving change the day is 23 hours long
    start, end = business_day_window(date(2026, 3, 7), "America/New_York", 4)
    assert (end - start).total_seconds() == 23 * 3600


def test_fees_round_half_up_symmetrically():
    assert signed_fee(10_050, 50) == 50  # 50.25 -> 50
    assert signed_fee(10_100, 50) == 51  # 50.5 -> 51
    assert signed_fee(-10_100, 50) == -51
    assert signed_fee(0, 9_999) == 0


def test_net_position_of_a_day():
    activity = DayActivity(
        sales_count=3,
        member_sales_fen=100_000,
        points_earned=1_000,
        points_redeemed=400,
        refunds_count=1,
        refunds_fen=20_000,
        points_reversed=200,
        points_restored=100,
    )
    position = net_position(activity, FeeTerms(fee_bp=60, fee_per_sale_fen=5), point_value_fen=2)
    assert position.points_granted == 800 and position.points_accepted == 300
    assert (position.granted_value_fen, position.accepted_value_fen) == (1_600, 600)
    assert position.service_fee_fen == 480 + 15  # 0.6 % of 80 000 fen, 3 sales at 5 fen
    assert position.commission_fen == 0
    assert position.net_fen == 600 - 1_600 - 495


@given(
    st.integers(0, 10**6),
    st.integers(0, 10**6),
    st.integers(0, 10**5),
    st.integers(0, 10**5),
    st.integers(0, 10_000),
    st.integers(0, 1_000),
    st.integers(1, 100),
)
def test_the_net_position_adds_up(sales, refunds, earned, redeemed, fee_bp, fee_fen, value):
    activity = DayActivity(
        sales_count=7, member_sales_fen=sales, points_earned=earned, points_redeemed=redeemed, refunds_fen=refunds
    )
    position = net_position(activity, FeeTerms(fee_bp, fee_fen), value)
    assert position.net_fen + position.service_fee_fen + position.commission_fen == (redeemed - earned) * value
    assert abs(position.service_fee_fen - 7 * fee_fen - (sales - refunds) * fee_bp / 10_000) <= 0.5
