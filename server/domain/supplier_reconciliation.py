"""Supplier reconciliation as pure rules: a supplier's month in figures, what is due, and the differences.

Per supplier and calendar month (in the alliance's time zone):

- **bought**: the quantity of the purchases dated in the month, and their cost (unit cost × quantity);
- **received**: the codes received into stock in the month (imported or generated), and their cost — what
  the alliance owes for;
- **issued / redeemed / void / expired**: the supplier's codes that reached that state in the month;
- **failed at redemption**: claims reported in the month that a code was dead when its holder redeemed it;
  each claim not rejected is credited at its code's unit cost;
- **due** = cost of received − credits for failed codes (negative: the supplier owes the alliance).

The difference report (like the settlement reconciliation) lists what does not add up: a purchase whose
received count differs from its quantity, an invoice whose total differs from unit cost × quantity, and
codes in an impossible state (e.g. redeemed but never issued, or used after they expired).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from server.domain.errors import InvalidRequest

MONTH_PATTERN = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
ISSUED_STATES = frozenset({"issued", "redeemed"})  # a code in these was handed to someone
IN_STOCK_STATES = frozenset({"available", "reserved"})


def parse_month(text: str | None) -> tuple[int, int]:
    """``2026-12`` → ``(2026, 12)``; anything else is refused."""
    match = MONTH_PATTERN.match((text or "").strip())
    if not match or not 2000 <= int(match.group(1)) <= 2999:
        raise InvalidRequest("The month must look like 2026-12.", field="month")
    return int(match.group(1)), int(match.group(2))


def month_bounds(year: int, month: int) -> tuple[date, date]:
    """The first day of the month and the first day of the next."""
    first = date(year, month, 1)
    return first, date(year + (month == 12), month % 12 + 1, 1)


@dataclass(frozen=True)
class PurchaseFacts:
    """A purchase batch as the reconciliation sees it."""

    id: str
    quantity: int
    unit_cost_fen: int
    invoice_no: str = ""
    invoice_total_fen: int | None = None
    received: int = 0  # codes of this purchase in stock (whatever their state now)
    complete: bool = True  # the purchase says its receiving is finished (received must equal quantity)


@dataclass(frozen=True)
class CodeFacts:
    """One code's lifecycle facts (times in UTC, expiry a date)."""

    id: str
    status: str
    masked: str = ""
    received_at: datetime | None = None
    issued_at: datetime | None = None
    redeemed_at: datetime | None = None
    expires_on: date | None = None


@dataclass(frozen=True)
class Discrepancy:
    """One difference: an English msgid with ``%(name)s`` slots and its values (pages translate the template)."""

    template: str
    values: dict

    def __str__(self) -> str:
        return self.template % self.values


@dataclass(frozen=True)
class SupplierMonth:
    """The month's figures for one supplier (counts of codes, money in fen)."""

    bought: int = 0
    bought_cost_fen: int = 0
    received: int = 0
    received_cost_fen: int = 0
    issued: int = 0
    redeemed: int = 0
    void: int = 0
    expired: int = 0
    failed: int = 0
    credit_fen: int = 0

    @property
    def due_fen(self) -> int:
        """What the alliance owes the supplier for the month: received cost minus credits for failed codes."""
        return self.received_cost_fen - self.credit_fen


FIGURE_NAMES = (
    "bought",
    "bought_cost_fen",
    "received",
    "received_cost_fen",
    "issued",
    "redeemed",
    "void",
    "expired",
    "failed",
    "credit_fen",
)


def add_months(parts: Iterable[SupplierMonth]) -> SupplierMonth:
    """The sum of several months' (or SKUs') figures."""
    parts = list(parts)
    return SupplierMonth(**{name: sum(getattr(part, name) for part in parts) for name in FIGURE_NAMES})


def purchase_differences(purchase: PurchaseFacts) -> list[Discrepancy]:
    """A purchase whose received count or invoice total does not match its quantity and unit cost."""
    found = []
    if purchase.complete and purchase.received != purchase.quantity:
        found.append(
            Discrepancy(
                "purchase %(purchase)s: %(quantity)s codes bought, %(received)s received",
                {"purchase": purchase.id, "quantity": purchase.quantity, "received": purchase.received},
            )
        )
    elif purchase.received > purchase.quantity:
        found.append(
            Discrepancy(
                "purchase %(purchase)s: %(received)s codes received, more than the %(quantity)s bought",
                {"purchase": purchase.id, "quantity": purchase.quantity, "received": purchase.received},
            )
        )
    expected = purchase.unit_cost_fen * purchase.quantity
    if purchase.invoice_total_fen is not None and purchase.invoice_total_fen != expected:
        found.append(
            Discrepancy(
                "purchase %(purchase)s: invoice %(invoice)s totals %(stated)s fen, "
                "unit cost × quantity is %(expected)s fen",
                {
                    "purchase": purchase.id,
                    "invoice": purchase.invoice_no or "-",
                    "stated": purchase.invoice_total_fen,
                    "expected": expected,
                },
            )
        )
    return found


def code_differences(code: CodeFacts, claimed: bool = False) -> list[Discrepancy]:
    """A code in an impossible state: its status and its recorded times (and a failed claim) disagree."""
    where = {"code": code.masked or code.id, "status": code.status}
    found = []

    def add(template: str) -> None:
        found.append(Discrepancy(template, dict(where)))

    if code.status in ISSUED_STATES and code.issued_at is None:
        add("code %(code)s is %(status)s but was never issued")
    if code.status in IN_STOCK_STATES and code.issued_at is not None:
        add("code %(code)s is %(status)s but has an issue time")
    if code.status == "redeemed" and code.redeemed_at is None:
        add("code %(code)s is redeemed but has no redemption time")
    if code.status != "redeemed" and code.redeemed_at is not None:
        add("code %(code)s is %(status)s but has a redemption time")
    if code.issued_at and code.redeemed_at and code.redeemed_at < code.issued_at:
        add("code %(code)s was redeemed before it was issued")
    if code.received_at and code.issued_at and code.issued_at < code.received_at:
        add("code %(code)s was issued before it was received")
    if code.redeemed_at and code.expires_on and code.redeemed_at.date() > code.expires_on:
        add("code %(code)s was redeemed after it expired")
    if claimed and code.status in IN_STOCK_STATES:
        add("code %(code)s is claimed to have failed at redemption but is still %(status)s")
    return found
