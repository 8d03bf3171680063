"""Tax withheld on agents' withdrawals (pure rules, integer fen).

An individual agent (``kind == "person"``) has tax withheld on every withdrawal at the alliance's
configured rate in basis points (``tax_rate_bp``, e.g. 2000 = 20 %), computed on the gross amount the
agent withdraws (what leaves the available balance). A company agent (``kind == "company"``) invoices
the alliance and pays its own taxes: nothing is withheld.

Rounding: the tax rounds **half up to the fen** (四舍五入 to 0.01 yuan, as the tax office rounds), by
``alliance_shared.money.price_at_rate``. The agent receives gross − tax − fee; the split is exact
(tax + fee + net == gross).

The yearly statement of an agent sums its paid withdrawals of a calendar year in the alliance's time
zone (the caller gives the local date of each payout): gross, tax withheld, fee and net per month and
for the year. Failed and rejected withdrawals withhold nothing and do not appear.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from alliance_shared.money import BP_SCALE, price_at_rate

PERSON = "person"
COMPANY = "company"
MAX_TAX_RATE_BP = 4_500  # the top individual income tax bracket; a higher setting is a typo


def check_tax_rate(rate_bp: int) -> int:
    """Return ``rate_bp`` if it is a rate 0..45 %; raise ValueError otherwise."""
    if isinstance(rate_bp, bool) or not isinstance(rate_bp, int) or not 0 <= rate_bp <= MAX_TAX_RATE_BP:
        raise ValueError(f"tax rate must be 0..{MAX_TAX_RATE_BP} bp")
    return rate_bp


def tax_withheld(gross_fen: int, agent_kind: str, rate_bp: int) -> int:
    """The tax withheld from a withdrawal of ``gross_fen``: rate × gross, half up, for a person; 0 for a company."""
    check_tax_rate(rate_bp)
    if agent_kind == COMPANY:
        return 0
    if agent_kind != PERSON:
        raise ValueError(f"unknown agent kind {agent_kind!r}")
    return price_at_rate(gross_fen, rate_bp)


@dataclass(frozen=True)
class TaxLine:
    """One paid withdrawal as the yearly statement sees it."""

    paid_on: date
    gross_fen: int
    tax_fen: int
    fee_fen: int
    reference: str = ""

    @property
    def net_fen(self) -> int:
        return self.gross_fen - self.tax_fen - self.fee_fen


@dataclass(frozen=True)
class TaxTotals:
    gross_fen: int = 0
    tax_fen: int = 0
    fee_fen: int = 0
    net_fen: int = 0
    payouts: int = 0

    def plus(self, line: TaxLine) -> TaxTotals:
        return TaxTotals(
            self.gross_fen + line.gross_fen,
            self.tax_fen + line.tax_fen,
            self.fee_fen + line.fee_fen,
            self.net_fen + line.net_fen,
            self.payouts + 1,
        )


@dataclass(frozen=True)
class YearlyTaxStatement:
    """An agent's tax year: totals per month (1..12, every month present) and for the year, and each line."""

    agent_id: str
    year: int
    agent_kind: str
    months: dict[int, TaxTotals] = field(default_factory=dict)
    total: TaxTotals = TaxTotals()
    lines: tuple[TaxLine, ...] = ()

    @property
    def effective_rate_bp(self) -> int:
        """Tax over gross for the year in bp, rounded down (0 without payouts)."""
        return self.total.tax_fen * BP_SCALE // self.total.gross_fen if self.total.gross_fen else 0


def yearly_statement(agent_id: str, agent_kind: str, year: int, lines: Iterable[TaxLine]) -> YearlyTaxStatement:
    """The statement of ``year`` from the agent's paid withdrawals (lines of other years are ignored)."""
    kept = sorted(
        (line for line in lines if line.paid_on.year == year), key=lambda line: (line.paid_on, line.reference)
    )
    months = {month: TaxTotals() for month in range(1, 13)}
    total = TaxTotals()
    for line in kept:
        months[line.paid_on.month] = months[line.paid_on.month].plus(line)
        total = total.plus(line)
    return YearlyTaxStatement(agent_id, year, agent_kind, months, total, tuple(kept))
