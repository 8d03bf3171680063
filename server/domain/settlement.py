"""Clearing between merchants: business days and a merchant's net position for one day, in fen.

A business day runs from the cut-off hour (alliance time) to the same hour the next day, so a
restaurant's sales after midnight count in the evening they belong to. For each merchant and day:

- points granted: points its sales earned minus points its refunds took back (the merchant funds them);
- points accepted: points its customers paid with minus points its refunds gave back (the alliance owes
  the merchant their value);
- service fee of the alliance: ``fee_bp`` of the day's net member sales (money paid minus money
  refunded), rounded half up to the fen (symmetrically when refunds exceed sales), plus
  ``fee_per_sale_fen`` for each sale;
- commissions: what the day moved on the merchant's commission payable account of the money ledger
  (its sales' commissions earned at the closing, less refunds' and flags' reversals recorded that day).
  Funded on top of the service fee, they add to what the merchant owes; funded within the fee, the fee
  line shows the alliance's remaining share (fee − commissions) and the net position is unchanged.

- vouchers: an alliance voucher accepted at a merchant is money its funder owes that merchant. Funded by
  the alliance or by another (sponsoring) merchant, its value net of refunded shares is owed to the
  accepting merchant (``voucher_owed_fen``); the sponsor's own statement is charged the same
  (``voucher_sponsored_fen``), the alliance's side is the day's ``voucher_alliance_fen``. Funded by the
  accepting merchant itself it is listed (``voucher_fen``) but moves no money.

``net_fen = accepted value − granted value − service fee − commissions + vouchers owed − vouchers sponsored``:
positive, the alliance pays the merchant; negative, the merchant pays the alliance.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from alliance_shared.money import price_at_rate


def business_day_of(moment: datetime, timezone: str, cutoff_hour: int) -> date:
    """The business day an instant belongs to."""
    local = moment.astimezone(ZoneInfo(timezone))
    return (local - timedelta(hours=cutoff_hour)).date()


def business_day_window(day: date, timezone: str, cutoff_hour: int) -> tuple[datetime, datetime]:
    """``[start, end)`` of a business day in UTC."""
    zone = ZoneInfo(timezone)
    start = datetime.combine(day, time(cutoff_hour), zone)
    end = datetime.combine(day + timedelta(days=1), time(cutoff_hour), zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def signed_fee(base_fen: int, rate_bp: int) -> int:
    """``base × rate`` rounded half up to the fen, symmetric for a negative base (refunds > sales)."""
    return price_at_rate(base_fen, rate_bp) if base_fen >= 0 else -price_at_rate(-base_fen, rate_bp)


@dataclass(frozen=True)
class DayActivity:
    """A merchant's sales and refunds recorded in one business day."""

    sales_count: int = 0
    member_sales_fen: int = 0  # what members paid in money
    points_earned: int = 0
    points_redeemed: int = 0
    refunds_count: int = 0
    refunds_fen: int = 0
    points_reversed: int = 0  # earned points the refunds took back from members
    points_restored: int = 0  # redeemed points the refunds gave back to members
    vouchers_count: int = 0  # sales that redeemed a voucher here
    voucher_fen: int = 0  # their vouchers' value (every funder)
    voucher_refunded_fen: int = 0  # the refunds' shares of vouchers accepted here
    voucher_owed_fen: int = 0  # net value of vouchers accepted here that another funds (owed to this merchant)
    voucher_sponsored_fen: int = 0  # net value of vouchers this merchant sponsors accepted elsewhere (it owes)


@dataclass(frozen=True)
class FeeTerms:
    """The alliance's service fee for one merchant."""

    fee_bp: int = 0
    fee_per_sale_fen: int = 0


@dataclass(frozen=True)
class NetPosition:
    """A merchant's position for one business day, every figure in fen except the points."""

    points_granted: int
    points_accepted: int
    granted_value_fen: int
    accepted_value_fen: int
    service_fee_fen: int
    commission_fen: int
    net_fen: int


def net_position(
    activity: DayActivity,
    fees: FeeTerms,
    point_value_fen: int,
    commission_fen: int = 0,
    commission_within_fee: bool = False,
) -> NetPosition:
    """The day's net position of one merchant."""
    granted = activity.points_earned - activity.points_reversed
    accepted = activity.points_redeemed - activity.points_restored
    fee = signed_fee(activity.member_sales_fen - activity.refunds_fen, fees.fee_bp)
    fee += activity.sales_count * fees.fee_per_sale_fen
    if commission_within_fee:
        fee -= commission_fen
    granted_value, accepted_value = granted * point_value_fen, accepted * point_value_fen
    return NetPosition(
        points_granted=granted,
        points_accepted=accepted,
        granted_value_fen=granted_value,
        accepted_value_fen=accepted_value,
        service_fee_fen=fee,
        commission_fen=commission_fen,
        net_fen=accepted_value
        - granted_value
        - fee
        - commission_fen
        + activity.voucher_owed_fen
        - activity.voucher_sponsored_fen,
    )


def voucher_owed_fen(funder_merchant_id: str | None, accepting_merchant_id: str, net_value_fen: int) -> int:
    """What the funder owes the accepting merchant for a voucher's net value (nothing when it funds it itself)."""
    return 0 if funder_merchant_id == accepting_merchant_id else net_value_fen
