"""The lifecycle of each kind of record: one enum per lifecycle, the one spelling of its statuses.

Each is a ``StrEnum`` whose values are the strings stored in the database (``CardStatus.ACTIVE == "active"``),
so models, schemas, console and services compare and store them as before; the models add a CHECK
constraint from each enum (:func:`sql_in`), so the database refuses any other value.
"""

from __future__ import annotations

from enum import StrEnum


class CardStatus(StrEnum):
    """A membership card: made, written in a batch, issued to a member (active), then possibly blocked."""

    CREATED = "created"
    ENCODING = "encoding"
    ISSUED = "issued"
    ACTIVE = "active"
    LOST = "lost"
    FROZEN = "frozen"
    REPLACED = "replaced"
    CANCELLED = "cancelled"


class CardBatchState(StrEnum):
    """A batch of cards to write: created, then encoded once every card of it is written."""

    CREATED = "created"
    ENCODED = "encoded"


class CardBatchKind(StrEnum):
    """What a batch's cards are: chip cards (encoded at a desk before they are handed out) or printed cards
    (number, QR code and barcode, no chip), ready to bind as soon as they are printed."""

    CHIP = "chip"
    PRINTED = "printed"


# A card in one of these may not be used, bound or replaced again.
BLOCKED_CARD_STATUSES = frozenset({CardStatus.LOST, CardStatus.FROZEN, CardStatus.REPLACED, CardStatus.CANCELLED})


class MemberStatus(StrEnum):
    """A member account: only an active member buys or signs in; a frozen one is held by the operator;
    a member may close their account (their points are forfeited)."""

    ACTIVE = "active"
    FROZEN = "frozen"
    CLOSED = "closed"


class LevelStatus(StrEnum):
    """A member level: active, or retired (it keeps its members but takes no new ones; never deleted)."""

    ACTIVE = "active"
    RETIRED = "retired"


class MerchantStatus(StrEnum):
    """A merchant of the alliance."""

    ACTIVE = "active"
    SUSPENDED = "suspended"
    CLOSED = "closed"


class TerminalStatus(StrEnum):
    """A POS terminal; a disabled one's token is refused."""

    ACTIVE = "active"
    DISABLED = "disabled"


class StaffStatus(StrEnum):
    """A staff user; a disabled one cannot sign in or use a personal token."""

    ACTIVE = "active"
    DISABLED = "disabled"


class DeviceStatus(StrEnum):
    """A member's device for member codes."""

    ACTIVE = "active"
    REVOKED = "revoked"


class SmsStatus(StrEnum):
    """A text message in the SMS outbox; a one-time code that expired unsent is never sent (expired)."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    EXPIRED = "expired"


class SettlementStatus(StrEnum):
    """A business day's settlement (and the day itself); closing is the only step today."""

    CLOSED = "closed"


class JobRunStatus(StrEnum):
    """How a run of a scheduled job ended."""

    DONE = "done"
    SKIPPED = "skipped"
    FAILED = "failed"


def sql_in(column: str, statuses: type[StrEnum]) -> str:
    """The SQL condition that ``column`` holds one of ``statuses`` (for a CHECK constraint)."""
    values = ", ".join(f"'{status.value}'" for status in statuses)
    return f"{column} IN ({values})"


class AgentStatus(StrEnum):
    """An agent (代理): applied, then active under contract; suspended by the operator; terminated for good."""

    APPLIED = "applied"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    TERMINATED = "terminated"


class AgentEvaluationOutcome(StrEnum):
    """What a periodic evaluation did to an agent's level."""

    UPGRADED = "upgraded"
    DOWNGRADED = "downgraded"
    KEPT = "kept"


class AgentAlertKind(StrEnum):
    """Why an agent got an early warning."""

    FIGURE_DROP = "figure_drop"
    HEALTH_LOW = "health_low"


class BrushingFlagStatus(StrEnum):
    """An anti-brushing flag: open until an operator reviews it, then cleared (released) or confirmed."""

    OPEN = "open"
    CLEARED = "cleared"
    CONFIRMED = "confirmed"


class ComplaintStatus(StrEnum):
    """A complaint against a merchant or an agent: opened, answered, closed."""

    OPEN = "open"
    RESPONDED = "responded"
    CLOSED = "closed"


class WebhookSubscriptionStatus(StrEnum):
    """A webhook subscription: active (receives its events), paused, or deleted (kept for its delivery log)."""

    ACTIVE = "active"
    PAUSED = "paused"
    DELETED = "deleted"


class WebhookDeliveryStatus(StrEnum):
    """One event's delivery to one subscription: pending (due now or after its backoff), delivered, or failed
    (given up after the last attempt; a replay makes it pending again), or cancelled (its subscription went)."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"
