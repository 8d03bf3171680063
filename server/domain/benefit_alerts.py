"""Benefit stock alerts as pure rules: low stock, short for the scheduled demand, near expiry, failing suppliers.

Each rule takes plain figures (counts, fen, dates) and returns an :class:`AlertFinding` — what is wrong,
with the numbers a person needs to act — or ``None`` when all is well. The jobs
(``server/services/benefit_alerts.py``) gather the figures, deduplicate findings by :func:`alert_period`
(one alert per key and period, so a daily job texts once a week about the same low stock) and text them.

- **Low stock**: available codes of a SKU below its threshold (0: no alert).
- **Short for the scheduled demand**: the scheduled demands (campaigns: a SKU, a date, a quantity) within the
  horizon cannot all be met from the available codes, counting that a code expiring before a demand's
  date cannot serve it. Demands are served in date order from the codes that expire first (the same
  first-expiring-first-out order as allocation), which meets as many as any assignment can.
- **Near expiry**: available codes expiring within N days, with their count and cost at risk.
- **Failing supplier**: of a supplier's codes that reached a member's redemption in the window, the share
  reported dead at redemption (failed claims) at or above a threshold, once enough attempts were seen.
- **Velocity** (anti-fraud): one member, device, IP address or terminal reached the alert threshold of claims
  or failed code lookups in an hour (``server/domain/benefit_budgets.py``); one alert per subject and hour.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from server.domain.errors import InvalidRequest
from server.domain.statuses import BenefitAlertKind

BP = 10_000
DEFAULT_EXPIRY_NOTICE_DAYS = 30
DEFAULT_DEMAND_HORIZON_DAYS = 30
DEFAULT_FAILURE_WINDOW_DAYS = 30
DEFAULT_FAILURE_THRESHOLD_BP = 500  # 5 % of redemption attempts
DEFAULT_FAILURE_MIN_ATTEMPTS = 20  # fewer attempts say too little about a supplier


# the subject of each kind: a SKU, or a supplier
SUBJECT_OF_KIND = {
    BenefitAlertKind.LOW_STOCK: "sku",
    BenefitAlertKind.DEMAND_SHORTFALL: "sku",
    BenefitAlertKind.NEAR_EXPIRY: "sku",
    BenefitAlertKind.SUPPLIER_FAILURES: "supplier",
    BenefitAlertKind.VELOCITY: "counter",  # a member, device, IP address or terminal: in the figures
}


@dataclass(frozen=True)
class AlertFinding:
    """One alert the figures call for: its kind, its subject (a SKU or supplier id) and its figures."""

    kind: BenefitAlertKind
    subject_id: str
    figures: dict = field(default_factory=dict)

    @property
    def key(self) -> str:
        """The alert's key: one alert per key and period (see :func:`alert_period`)."""
        return alert_key(self.kind, self.subject_id)


@dataclass(frozen=True)
class StockLot:
    """Codes of one SKU sharing an expiry date (``None``: they do not expire) and their total cost."""

    expires_on: date | None
    count: int
    cost_fen: int = 0


@dataclass(frozen=True)
class Demand:
    """A scheduled demand for a SKU: ``quantity`` codes needed on ``on`` (a campaign's start)."""

    on: date
    quantity: int


def alert_key(kind: str, subject_id: str) -> str:
    """``low_stock:bsku_…`` — what an alert is about, whatever its figures."""
    return f"{kind}:{subject_id}"


def alert_period(kind: str, day: date) -> str:
    """The period an alert of ``kind`` raised on ``day`` belongs to; one alert per key and period.

    Stock alerts repeat weekly while the condition lasts (ISO week, ``2026-W49``); a failing supplier is
    raised once a month (``2026-12``).
    """
    if kind == BenefitAlertKind.SUPPLIER_FAILURES:
        return f"{day.year:04d}-{day.month:02d}"
    year, week, _ = day.isocalendar()
    return f"{year:04d}-W{week:02d}"


def check_threshold(value: int, name: str) -> int:
    """A threshold or day count: a whole number, not negative."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidRequest("The value must be a whole number, not negative.", field=name)
    return value


def low_stock(sku_id: str, available: int, threshold: int | None) -> AlertFinding | None:
    """Low stock: ``available`` below ``threshold`` (no threshold, or 0: never)."""
    if not threshold or available >= threshold:
        return None
    return AlertFinding(BenefitAlertKind.LOW_STOCK, sku_id, {"available": available, "threshold": threshold})


def usable_on(lot: StockLot, day: date) -> bool:
    """True when the lot's codes are still valid on ``day`` (valid through their expiry date)."""
    return lot.expires_on is None or lot.expires_on >= day


def unmet_demand(lots: Iterable[StockLot], demands: Iterable[Demand]) -> list[tuple[Demand, int]]:
    """Each demand with the quantity the stock cannot serve, serving demands by date from the earliest
    expiring usable codes (an earliest-deadline-first matching: no assignment serves more)."""
    remaining = sorted(
        ([lot.expires_on, lot.count] for lot in lots if lot.count > 0),
        key=lambda item: (item[0] is None, item[0] or date.max),
    )
    result = []
    for demand in sorted(demands, key=lambda d: d.on):
        needed = demand.quantity
        for item in remaining:
            if needed == 0:
                break
            if item[1] == 0 or (item[0] is not None and item[0] < demand.on):
                continue
            taken = min(item[1], needed)
            item[1] -= taken
            needed -= taken
        result.append((demand, needed))
    return result


def demand_shortfall(
    sku_id: str,
    lots: Sequence[StockLot],
    demands: Sequence[Demand],
    today: date,
    horizon_days: int = DEFAULT_DEMAND_HORIZON_DAYS,
) -> AlertFinding | None:
    """Short for the scheduled demand: the demands from ``today`` to ``today + horizon_days`` that the
    available codes cannot meet (a code expiring before a demand's date does not count for it)."""
    due = [d for d in demands if today <= d.on <= today + timedelta(days=horizon_days) and d.quantity > 0]
    if not due:
        return None
    unmet = [(demand, short) for demand, short in unmet_demand(lots, due) if short]
    if not unmet:
        return None
    return AlertFinding(
        BenefitAlertKind.DEMAND_SHORTFALL,
        sku_id,
        {
            "demanded": sum(d.quantity for d in due),
            "available": sum(lot.count for lot in lots),
            "short": sum(short for _, short in unmet),
            "first_short_on": unmet[0][0].on.isoformat(),
            "demands": len(due),
        },
    )


def near_expiry(sku_id: str, lots: Sequence[StockLot], today: date, days: int) -> AlertFinding | None:
    """Near expiry: available codes expiring from ``today`` to ``today + days``, their count and cost at risk
    (``days`` 0: no alert)."""
    if days <= 0:
        return None
    last = today + timedelta(days=days)
    at_risk = [lot for lot in lots if lot.expires_on is not None and today <= lot.expires_on <= last and lot.count]
    if not at_risk:
        return None
    return AlertFinding(
        BenefitAlertKind.NEAR_EXPIRY,
        sku_id,
        {
            "count": sum(lot.count for lot in at_risk),
            "cost_fen": sum(lot.cost_fen for lot in at_risk),
            "first_expiry": min(lot.expires_on for lot in at_risk).isoformat(),
            "days": days,
        },
    )


def failure_rate_bp(attempts: int, failed: int) -> int:
    """The failed share of redemption attempts in basis points, rounded down (0 when nothing was tried)."""
    return failed * BP // attempts if attempts else 0


def supplier_failures(
    supplier_id: str,
    redeemed: int,
    failed: int,
    threshold_bp: int = DEFAULT_FAILURE_THRESHOLD_BP,
    min_attempts: int = DEFAULT_FAILURE_MIN_ATTEMPTS,
) -> AlertFinding | None:
    """A failing supplier: ``failed`` of ``redeemed + failed`` redemption attempts in the window, at or above
    ``threshold_bp``, once at least ``min_attempts`` were seen."""
    attempts = redeemed + failed
    if attempts < max(min_attempts, 1):
        return None
    rate = failure_rate_bp(attempts, failed)
    if rate < threshold_bp:
        return None
    return AlertFinding(
        BenefitAlertKind.SUPPLIER_FAILURES,
        supplier_id,
        {"attempts": attempts, "failed": failed, "rate_bp": rate, "threshold_bp": threshold_bp},
    )


def velocity(action: str, subject_kind: str, subject: str, count: int, threshold: int) -> AlertFinding:
    """Too many claims or failed code lookups from one subject in the hour: the finding to raise (once)."""
    return AlertFinding(
        BenefitAlertKind.VELOCITY,
        f"{action}:{subject_kind}:{subject}",
        {"action": action, "subject_kind": subject_kind, "subject": subject, "count": count, "threshold": threshold},
    )
