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


class BenefitKind(StrEnum):
    """What a benefit product (权益 SKU) is: a third party's code and secret (卡密) bought from a supplier, or
    one of the alliance's own vouchers redeemed at member merchants' tills: cash off (代金券), spend X get Y
    off (满减券), a percentage off with a cap (折扣券), or a named item (兑换券)."""

    THIRD_PARTY_CODE = "third_party_code"
    VOUCHER_CASH = "voucher_cash"
    VOUCHER_THRESHOLD = "voucher_threshold"
    VOUCHER_PERCENT = "voucher_percent"
    VOUCHER_ITEM = "voucher_item"


VOUCHER_KINDS = frozenset(
    {BenefitKind.VOUCHER_CASH, BenefitKind.VOUCHER_THRESHOLD, BenefitKind.VOUCHER_PERCENT, BenefitKind.VOUCHER_ITEM}
)


class BenefitScope(StrEnum):
    """Which merchants accept a benefit: all of them, those of listed trades, of listed regions, or a list."""

    ALL = "all"
    TRADES = "trades"
    REGIONS = "regions"
    MERCHANTS = "merchants"


class BenefitFunder(StrEnum):
    """Who pays a voucher's value: the alliance, the merchant that accepts it, or a named sponsoring merchant."""

    ALLIANCE = "alliance"
    ACCEPTING_MERCHANT = "accepting_merchant"
    SPONSOR_MERCHANT = "sponsor_merchant"


class BenefitSkuStatus(StrEnum):
    """A benefit product: on sale, or retired (its stock stays; nothing new is bought or allocated)."""

    ACTIVE = "active"
    RETIRED = "retired"


class SupplierStatus(StrEnum):
    """A supplier of 卡密: active, or suspended (no new purchases)."""

    ACTIVE = "active"
    SUSPENDED = "suspended"


class BenefitPurchaseSource(StrEnum):
    """Where a purchase's codes come from: a file of 卡密, a supplier's API, or generated here (vouchers)."""

    FILE_IMPORT = "file_import"
    SUPPLIER_API = "supplier_api"
    GENERATED = "generated"


class BenefitPurchaseStatus(StrEnum):
    """A purchase batch: ordered (nothing in stock yet), received (its codes are in stock), or cancelled."""

    ORDERED = "ordered"
    RECEIVED = "received"
    CANCELLED = "cancelled"


class BenefitImportStatus(StrEnum):
    """A file of 卡密 being imported: staging (rows checked and kept in chunks, resumable), received (the good
    rows went into stock), or refused (all-or-nothing and some rows were bad: nothing went into stock)."""

    STAGING = "staging"
    RECEIVED = "received"
    REFUSED = "refused"


class BenefitCodeStatus(StrEnum):
    """One code in stock: available → reserved (until a deadline) → issued → redeemed, or void, or expired."""

    AVAILABLE = "available"
    RESERVED = "reserved"
    ISSUED = "issued"
    REDEEMED = "redeemed"
    VOID = "void"
    EXPIRED = "expired"


class BenefitAlertKind(StrEnum):
    """What a benefit stock alert is about (rules in ``server/domain/benefit_alerts.py``)."""

    LOW_STOCK = "low_stock"
    DEMAND_SHORTFALL = "demand_shortfall"
    NEAR_EXPIRY = "near_expiry"
    SUPPLIER_FAILURES = "supplier_failures"
    VELOCITY = "velocity"  # too many claims or failed code lookups from one member/device/IP/terminal


class BenefitAlertStatus(StrEnum):
    """A benefit stock alert: open until a staff member acknowledges it."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"


class BenefitClaimStatus(StrEnum):
    """A claim that a code failed at redemption (dead on the supplier's side): open, then credited by the
    supplier (counts against what is due to it) or rejected (the code worked after all)."""

    OPEN = "open"
    CREDITED = "credited"
    REJECTED = "rejected"


class BenefitConsignmentStatus(StrEnum):
    """Benefit stock consigned to an agent: invoiced (the agent owes the amount), then paid, or cancelled."""

    INVOICED = "invoiced"
    PAID = "paid"
    CANCELLED = "cancelled"


class WithdrawalStatus(StrEnum):
    """An agent's withdrawal (提现): requested, approved by finance, then paid or failed; or rejected."""

    REQUESTED = "requested"
    APPROVED = "approved"
    PAID = "paid"
    FAILED = "failed"
    REJECTED = "rejected"


class PayoutStatus(StrEnum):
    """One payout instruction to a payment channel: sent, then succeeded or failed (the channel's answer)."""

    SENT = "sent"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class BonusDistributionStatus(StrEnum):
    """A bonus pool period: accrued, distributed to agents (reversible), paid (final) or reversed."""

    ACCRUED = "accrued"
    DISTRIBUTED = "distributed"
    PAID = "paid"


class CommissionStatus(StrEnum):
    """A commission entry: pending in the return window (or held), then available; reversed when taken back
    in full before it became available (a refund of the whole sale, a confirmed brushing flag)."""

    PENDING = "pending"
    AVAILABLE = "available"
    REVERSED = "reversed"


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


class BenefitChannel(StrEnum):
    """How a benefit reached a member (every issue names one; unique with its source id)."""

    REGISTRATION = "registration"
    LEVEL_UP = "level_up"
    BIRTHDAY = "birthday"
    POINTS_EXCHANGE = "points_exchange"
    CAMPAIGN = "campaign"
    BATCH = "batch"
    PARTNER = "partner"
    TILL_GIFT = "till_gift"  # 满赠: a merchant's gift with a purchase, source id = the sale id
    AGENT = "agent"  # an agent hands out (or sells) a code consigned to it


class GiftLimitPeriod(StrEnum):
    """The period a till gift's per-member limit counts over (the alliance's calendar day, ISO week, month)."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"


class BenefitCampaignStatus(StrEnum):
    """A campaign (活动): a draft, active (claimable within its window), or closed for good."""

    DRAFT = "draft"
    ACTIVE = "active"
    CLOSED = "closed"


class BenefitPartnerStatus(StrEnum):
    """A partner's signing key: active, or revoked (its requests are refused)."""

    ACTIVE = "active"
    REVOKED = "revoked"
