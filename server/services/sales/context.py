"""What a sale or refund step reads and fills: the typed request, the draft the steps complete, the result.

A request is frozen: it is what the caller asked for. A draft carries the request, the moment and the
alliance settings read once, and one slot per step's outcome, filled in pipeline order (a step reads only
slots of the steps before it). A new step adds its own slot here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from alliance_shared.pricing import SaleQuote
from server.domain.payments import DEFAULT_PAYMENT_METHOD
from server.domain.refunds import RefundSplit
from server.hot_sql import Pending
from server.models import AllianceSettings, LedgerAccount, Level, Member, Refund, Sale, SaleVoucher, Terminal
from server.services.identified import Credential, MemberAtMerchant
from server.services.ledger import Posted
from server.services.points import Restore
from server.services.till_vouchers import FoundVoucher


@dataclass(frozen=True)
class SaleRequest:
    """A sale as a terminal sends it (``POST /api/v1/sales``): online with an identification, or offline.

    Online: ``identification_token`` (used up by the sale), or the credential itself — the chip's ``card``
    read or a scanned ``code`` — identified in the sale's own transaction (one request). Offline
    (``offline=True``): the captured ``card`` record or scanned ``code``, or the token of an identification
    whose sale reached the server late; ``occurred_at`` is when the till committed it. ``receipt_no`` is the
    terminal's own number (``None``: the server numbers the sale); ``client_sale_id`` makes a terminal's
    sale unique.
    """

    terminal: Terminal
    amount_fen: int
    redeem_points: int = 0
    identification_token: str | None = None
    client_sale_id: str | None = None
    occurred_at: datetime | None = None
    offline: bool = False
    card: dict | None = None
    code: str | None = None
    card_update_written: bool | None = None
    payment_method: str = DEFAULT_PAYMENT_METHOD
    receipt_no: str | None = None
    voucher_code: str | None = None  # an alliance voucher scanned or typed at the till (online only)
    voucher_id: str | None = None  # or one of the identified member's vouchers (identification.vouchers)


@dataclass(frozen=True)
class Buyer:
    """Who the sale is for and how the terminal knew them."""

    member_id: str
    card_id: str | None
    method: str  # "card", "code" or "phone"


@dataclass
class SaleDraft:
    """A sale being recorded: each step fills its slot."""

    request: SaleRequest
    settings: AllianceSettings
    now: datetime
    occurred_at: datetime | None = None  # resolve: now online, the till's time offline
    buyer: Buyer | None = None  # resolve
    credential: Credential | None = None  # resolve: an online sale that carried the card or code itself
    who: MemberAtMerchant | None = None  # resolve: level, balance and discount at this merchant
    voucher: FoundVoucher | None = None  # resolve: the alliance voucher the sale uses
    priced: SaleQuote | None = None  # price
    receipt_no_taken: bool = False  # resolve: the receipt number the terminal printed is already a sale's
    receipt_seq: Pending | None = None  # persist: the terminal's next number, asked for ahead
    receipt_no: str | None = None  # persist
    sale: Sale | None = None  # persist
    posting: Posted | None = None  # post: the ledger posting, sent ahead
    window_spend: Pending | None = None  # post: the member's spend in the level window (None: at the top level)
    balances: dict[str, int] = field(default_factory=dict)  # post: cached balances after the ledger posting
    level: Level | None = None  # post: the level after the sale
    notice_sms_id: int | None = None  # post: the "points spent" SMS, sent after commit
    card_update: dict | None = None  # post: the chip write-back after an online tap sent with the sale
    gift: dict | None = None  # post: the till gift (满赠) the sale earned, as the receipt prints it


@dataclass(frozen=True)
class SaleResult:
    """A recorded sale with the member (as the terminal shows them), balance and level after it."""

    sale: Sale
    points_balance: int
    level: Level
    notice_sms_id: int | None = None  # the "points spent" SMS this sale queued, to send after commit
    member: Member | None = None
    method: str = "card"  # how the member was identified
    card_update: dict | None = None  # the chip write-back due after an online tap sent with the sale
    gift: dict | None = None  # the till gift (满赠): name, code (None: wallet only), expires_on
    voucher: dict | None = None  # the voucher the sale used ({id, name, kind, code_last4})


@dataclass(frozen=True)
class RefundRequest:
    """A refund of part (``amount_fen``) or, with ``None``, the rest of a sale.

    ``merchant_scope`` is the merchant the caller may see (``None``: the whole alliance); at a terminal
    (``at_terminal``) a refund above the merchant's threshold needs ``supervisor_pin``.
    """

    actor: str
    sale_id: str
    merchant_scope: str | None
    amount_fen: int | None = None
    reason: str = ""
    payment_method: str = DEFAULT_PAYMENT_METHOD
    supervisor_pin: str | None = None
    at_terminal: bool = False


@dataclass
class RefundDraft:
    """A refund being recorded: each step fills its slot."""

    request: RefundRequest
    now: datetime
    sale: Sale | None = None  # resolve: locked
    voucher: SaleVoucher | None = None  # resolve: the voucher the sale redeemed, if any
    split: RefundSplit | None = None  # price
    authorised_by: str | None = None  # price: "supervisor_pin" when the amount needed it
    member: Member | None = None  # price
    account: LedgerAccount | None = None  # price: the member's points account, locked
    restore: list[Restore] = field(default_factory=list)  # price: redeemed points going back to their lots
    unplaced: int = 0  # price: redeemed points no lot takes back (a new "restore" lot)
    recoverable: int = 0  # price: earned points the member still holds to give back
    refund: Refund | None = None  # persist
    balance: int = 0  # post: the member's balance after the refund


@dataclass(frozen=True)
class RefundResult:
    """A recorded refund with the member's balance after it, and the sale with its running totals."""

    refund: Refund
    points_balance: int
    sale: Sale
