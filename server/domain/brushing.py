"""Anti-brushing (刷单) rules as data: pure functions over plain sale records.

A rule is a row (kind, parameters, enabled); each kind below has one function that takes the sales of a
scan as :class:`SaleRecord` values and returns :class:`Finding` values. A finding names its subject
(card, member, merchant, terminal or agent), the agent whose health score it bears on, the sales involved
and a window (a local day ``YYYY-MM-DD`` or month ``YYYY-MM``); its :attr:`Finding.key` is what makes one
flag per rule, subject and window, however often the scan runs.

Kinds and their parameters (defaults in :data:`DEFAULT_RULES`):

- ``same_card_burst``: one card at one merchant more than ``max_sales`` times within ``minutes``;
- ``round_amounts``: at one merchant on one day, at least ``min_count`` sales of ``min_amount_fen`` or more
  that are whole multiples of ``multiple_fen``;
- ``refund_after_level_up``: a sale that lifted the member's level, refunded within ``within_days``;
- ``agent_concentration``: of the sales in a month by members an agent recruited, at least ``min_sales`` and
  ``share_bp`` or more at merchants that agent services;
- ``terminal_velocity``: one terminal (cashier) more than ``max_sales`` sales within ``minutes``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

SAME_CARD_BURST = "same_card_burst"
ROUND_AMOUNTS = "round_amounts"
REFUND_AFTER_LEVEL_UP = "refund_after_level_up"
AGENT_CONCENTRATION = "agent_concentration"
TERMINAL_VELOCITY = "terminal_velocity"

SUBJECT_TYPES = ("card", "member", "merchant", "terminal", "agent")

# kind -> parameter -> (minimum, maximum, default)
PARAMETERS: dict[str, dict[str, tuple[int, int, int]]] = {
    SAME_CARD_BURST: {"max_sales": (1, 1000, 3), "minutes": (1, 1440, 10)},
    ROUND_AMOUNTS: {
        "min_amount_fen": (1, 100_000_000, 100_000),
        "multiple_fen": (100, 100_000_000, 10_000),
        "min_count": (1, 1000, 3),
    },
    REFUND_AFTER_LEVEL_UP: {"within_days": (1, 365, 7)},
    AGENT_CONCENTRATION: {"share_bp": (1, 10_000, 8_000), "min_sales": (1, 1_000_000, 20)},
    TERMINAL_VELOCITY: {"max_sales": (1, 10_000, 30), "minutes": (1, 1440, 10)},
}
KINDS = tuple(PARAMETERS)

# The rules a new alliance starts with: code, kind, name (data the operator may rename, like level names).
DEFAULT_RULES = (
    (SAME_CARD_BURST, SAME_CARD_BURST, "同卡同店短时多笔"),
    (ROUND_AMOUNTS, ROUND_AMOUNTS, "大额整数金额"),
    (REFUND_AFTER_LEVEL_UP, REFUND_AFTER_LEVEL_UP, "升级后退款"),
    (AGENT_CONCENTRATION, AGENT_CONCENTRATION, "集中在推荐代理的商家消费"),
    (TERMINAL_VELOCITY, TERMINAL_VELOCITY, "单台收银终端交易过快"),
)


class RuleParameterError(ValueError):
    """A rule's parameters are unknown for its kind or out of range (``field`` names the parameter)."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


def default_parameters(kind: str) -> dict[str, int]:
    """A kind's parameters with their default values."""
    return {name: spec[2] for name, spec in PARAMETERS[kind].items()}


def checked_parameters(kind: str, given: dict, current: dict | None = None) -> dict[str, int]:
    """``current`` (or the defaults) with ``given`` applied; unknown names and out-of-range values refused."""
    specs = PARAMETERS[kind]
    result = dict(current or default_parameters(kind))
    for name, value in given.items():
        if name not in specs:
            raise RuleParameterError("This rule has no such parameter.", name)
        low, high, _ = specs[name]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise RuleParameterError("A rule parameter is a whole number within its range.", name)
        result[name] = value
    return result


@dataclass(frozen=True)
class SaleRecord:
    """One sale as the rules see it (times in UTC; ``local_day`` and ``local_month`` in the alliance's zone)."""

    id: str
    occurred_at: datetime
    local_day: str
    merchant_id: str
    terminal_id: str
    member_id: str
    card_id: str | None
    amount_fen: int
    refunded_fen: int = 0
    refunded_at: datetime | None = None
    lifted_level: bool = False
    merchant_agent_id: str | None = None  # the agent servicing the merchant
    recruiting_agent_id: str | None = None  # the agent who recruited the member

    @property
    def local_month(self) -> str:
        return self.local_day[:7]


@dataclass(frozen=True)
class Finding:
    """What one rule found: a subject, the agent it bears on, its sales and its window."""

    subject_type: str
    subject_id: str
    window: str
    sale_ids: tuple[str, ...]
    agent_id: str | None = None
    merchant_id: str | None = None
    details: dict = field(default_factory=dict, compare=False)

    @property
    def key(self) -> str:
        """One flag per rule and this key: the subject, its merchant and the window."""
        return f"{self.subject_type}:{self.subject_id}:{self.merchant_id or ''}:{self.window}"


def _groups(sales: Iterable[SaleRecord], key: Callable[[SaleRecord], tuple | None]) -> dict[tuple, list[SaleRecord]]:
    """The sales by ``key`` (None: left out), each group in time order."""
    groups: dict[tuple, list[SaleRecord]] = defaultdict(list)
    for sale in sorted(sales, key=lambda sale: (sale.occurred_at, sale.id)):
        group = key(sale)
        if group is not None:
            groups[group].append(sale)
    return groups


def burst_sales(sales: list[SaleRecord], max_sales: int, minutes: int) -> list[SaleRecord]:
    """The sales (time-ordered) lying in some span of ``minutes`` that holds more than ``max_sales`` of them."""
    span = timedelta(minutes=minutes)
    caught: set[int] = set()
    start = 0
    for end, sale in enumerate(sales):
        while sale.occurred_at - sales[start].occurred_at > span:
            start += 1
        if end - start + 1 > max_sales:
            caught.update(range(start, end + 1))
    return [sales[index] for index in sorted(caught)]


def same_card_burst(sales: Iterable[SaleRecord], max_sales: int, minutes: int) -> list[Finding]:
    """One card at one merchant more than ``max_sales`` times within ``minutes`` (per card, merchant and day)."""
    findings = []
    by_card = _groups(sales, lambda s: (s.card_id, s.merchant_id, s.local_day) if s.card_id else None)
    for (card_id, merchant_id, day), group in sorted(item for item in by_card.items() if len(item[1]) > max_sales):
        caught = burst_sales(group, max_sales, minutes)
        if caught:
            findings.append(
                Finding(
                    "card",
                    card_id,
                    day,
                    tuple(s.id for s in caught),
                    agent_id=group[0].merchant_agent_id,
                    merchant_id=merchant_id,
                    details={"sales": len(caught), "max_sales": max_sales, "minutes": minutes},
                )
            )
    return findings


def terminal_velocity(sales: Iterable[SaleRecord], max_sales: int, minutes: int) -> list[Finding]:
    """One terminal (its cashier) more than ``max_sales`` sales within ``minutes`` (per terminal and day)."""
    findings = []
    by_terminal = _groups(sales, lambda s: (s.terminal_id, s.local_day))
    for (terminal_id, day), group in sorted(item for item in by_terminal.items() if len(item[1]) > max_sales):
        caught = burst_sales(group, max_sales, minutes)
        if caught:
            findings.append(
                Finding(
                    "terminal",
                    terminal_id,
                    day,
                    tuple(s.id for s in caught),
                    agent_id=group[0].merchant_agent_id,
                    merchant_id=group[0].merchant_id,
                    details={"sales": len(caught), "max_sales": max_sales, "minutes": minutes},
                )
            )
    return findings


def round_amounts(sales: Iterable[SaleRecord], min_amount_fen: int, multiple_fen: int, min_count: int) -> list[Finding]:
    """At least ``min_count`` round sales (multiples of ``multiple_fen``, ``min_amount_fen`` or more) at a merchant
    on one day."""
    round_sales = (s for s in sales if s.amount_fen >= min_amount_fen and s.amount_fen % multiple_fen == 0)
    findings = []
    for (merchant_id, day), group in sorted(_groups(round_sales, lambda s: (s.merchant_id, s.local_day)).items()):
        if len(group) >= min_count:
            findings.append(
                Finding(
                    "merchant",
                    merchant_id,
                    day,
                    tuple(s.id for s in group),
                    agent_id=group[0].merchant_agent_id,
                    merchant_id=merchant_id,
                    details={"sales": len(group), "min_amount_fen": min_amount_fen, "multiple_fen": multiple_fen},
                )
            )
    return findings


def refund_after_level_up(sales: Iterable[SaleRecord], within_days: int) -> list[Finding]:
    """A sale that lifted its member's level and was refunded (in part or whole) within ``within_days``."""
    findings = []
    limit = timedelta(days=within_days)
    for sale in sorted(sales, key=lambda s: (s.occurred_at, s.id)):
        if not (sale.lifted_level and sale.refunded_fen > 0 and sale.refunded_at is not None):
            continue
        if sale.refunded_at - sale.occurred_at <= limit:
            findings.append(
                Finding(
                    "member",
                    sale.member_id,
                    sale.local_day,
                    (sale.id,),
                    agent_id=sale.recruiting_agent_id or sale.merchant_agent_id,
                    merchant_id=sale.merchant_id,
                    details={"refunded_fen": sale.refunded_fen, "within_days": within_days},
                )
            )
    return findings


def agent_concentration(sales: Iterable[SaleRecord], share_bp: int, min_sales: int) -> list[Finding]:
    """Of a month's sales by members an agent recruited, ``min_sales`` or more and ``share_bp`` or more of them
    at merchants that same agent services (per agent and month)."""
    findings = []
    recruited = _groups(sales, lambda s: (s.recruiting_agent_id, s.local_month) if s.recruiting_agent_id else None)
    for (agent_id, month), group in sorted(recruited.items()):
        own = [s for s in group if s.merchant_agent_id == agent_id]
        if len(own) >= min_sales and len(own) * 10_000 >= share_bp * len(group):
            findings.append(
                Finding(
                    "agent",
                    agent_id,
                    month,
                    tuple(s.id for s in own),
                    agent_id=agent_id,
                    details={"own_sales": len(own), "sales": len(group), "share_bp": len(own) * 10_000 // len(group)},
                )
            )
    return findings


RULES: dict[str, Callable[..., list[Finding]]] = {
    SAME_CARD_BURST: same_card_burst,
    ROUND_AMOUNTS: round_amounts,
    REFUND_AFTER_LEVEL_UP: refund_after_level_up,
    AGENT_CONCENTRATION: agent_concentration,
    TERMINAL_VELOCITY: terminal_velocity,
}


def run_rule(kind: str, parameters: dict, sales: list[SaleRecord]) -> list[Finding]:
    """The findings of one rule of ``kind`` with ``parameters`` (defaults filling any missing) over ``sales``."""
    return RULES[kind](sales, **(default_parameters(kind) | parameters))
