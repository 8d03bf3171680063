"""Resolve steps: who the sale is for (and that it may happen), which sale a refund is of.

Online, the identification is used up and the till policy checked for redemption; offline, the offline
caps are checked and the captured card or code resolved (chip counters were checked at the till).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import bindparam, select

from server.domain.errors import (
    Conflict,
    InvalidRequest,
    NotFound,
    RefundAuthorisationRequired,
    RefundPinWrong,
    VoucherOffline,
)
from server.domain.till_policy import check_picked_voucher, check_spend
from server.extensions import db
from server.hot_sql import HotStatement
from server.models import AllianceSettings, Merchant, Sale
from server.ratelimit import check_failures, count_failure
from server.security.credentials import verify_password
from server.services import cards, commissions, till_vouchers
from server.services.identified import (
    OFFLINE_CLOCK_SKEW,
    identify_credential,
    member_at_merchant,
    open_identification,
    replayed_identification,
    resolve_member,
)
from server.services.points import alliance_today
from server.services.sales.context import Buyer, RefundDraft, SaleDraft

# the terminal's earlier sale with this client_sale_id, and any sale holding the receipt number it printed
_EARLIER_SALES = HotStatement(
    select(Sale.terminal_id, Sale.client_sale_id, Sale.receipt_no)
    .where(
        ((Sale.terminal_id == bindparam("terminal_id")) & (Sale.client_sale_id == bindparam("client_sale_id")))
        | (Sale.receipt_no == bindparam("receipt_no"))
    )
    .limit(2)
)


def refuse_repeated_client_sale(draft: SaleDraft) -> None:
    """A terminal's ``client_sale_id`` names one sale (a retry goes through the Idempotency-Key instead).

    The same lookup tells whether the receipt number the terminal printed is taken; that refusal waits for
    ``persist.number_receipt``, after the number is checked to be the terminal's.
    """
    request = draft.request
    if request.client_sale_id is None and request.receipt_no is None:
        return
    earlier = _EARLIER_SALES.rows(
        {"terminal_id": request.terminal.id, "client_sale_id": request.client_sale_id, "receipt_no": request.receipt_no}
    )
    repeated = request.client_sale_id is not None and any(
        row.terminal_id == request.terminal.id and row.client_sale_id == request.client_sale_id for row in earlier
    )
    if repeated:
        raise Conflict(
            "This terminal already recorded a sale with this client_sale_id.", client_sale_id=request.client_sale_id
        )
    draft.receipt_no_taken = any(row.receipt_no == request.receipt_no for row in earlier)


def identify_buyer(draft: SaleDraft) -> None:
    """Use up the identification (online) or resolve what the till captured (offline) into ``draft.buyer``."""
    if draft.request.offline:
        _identify_offline(draft)
    else:
        _identify_online(draft)


def _identify_online(draft: SaleDraft) -> None:
    request = draft.request
    draft.occurred_at = draft.now
    if request.identification_token is None:  # one request: the credential is identified here, as identify does
        # the till's time of the tap tells a late resend of this sale from a clone (cards.check_chip_counter)
        draft.credential = found = identify_credential(
            request.terminal, draft.settings, card=request.card, code=request.code, read_at=request.occurred_at
        )
        draft.buyer = Buyer(found.member_id, found.card.id if found.card else None, found.method)
        check_spend(draft.settings.spend_requires_proof, found.proof, request.redeem_points)
        check_picked_voucher(draft.settings.spend_requires_proof, found.proof, request.voucher_id)
        return
    found = open_identification(request.terminal, request.identification_token, consume=True)
    draft.buyer = Buyer(found.member_id, found.card_id, found.method)
    check_spend(draft.settings.spend_requires_proof, found.proof, request.redeem_points)
    check_picked_voucher(draft.settings.spend_requires_proof, found.proof, request.voucher_id)
    if request.card_update_written and found.method == "card":
        cards.confirm_write_back(found.card_id)


def _identify_offline(draft: SaleDraft) -> None:
    request = draft.request
    if request.voucher_code is not None or request.voucher_id is not None:
        raise VoucherOffline()  # a voucher is consumed online, in the sale's transaction, never offline
    draft.occurred_at = request.occurred_at or draft.now
    check_offline(draft.settings, request.amount_fen, request.redeem_points, draft.occurred_at, draft.now)
    if request.identification_token is not None:  # an online identification whose sale reached us late
        found = replayed_identification(request.terminal, request.identification_token, draft.occurred_at)
        draft.buyer = Buyer(found.member_id, found.card_id, found.method)
    else:
        method, member_id, card = resolve_member(
            request.card, request.code, None, draft.settings, request.terminal.id, draft.occurred_at
        )
        draft.buyer = Buyer(member_id, card.id if card else None, method)


def check_offline(
    settings: AllianceSettings, amount_fen: int, redeem_points: int, occurred_at: datetime, now: datetime
) -> None:
    """An offline sale earns but never redeems, stays under the per-sale cap and is neither stale nor ahead."""
    if redeem_points:
        raise InvalidRequest("An offline sale may earn points but never redeem them.", field="redeem_points")
    if amount_fen > settings.offline_max_sale_fen:
        raise InvalidRequest(
            "The offline sale exceeds the per-sale cap.", field="amount_fen", max_sale_fen=settings.offline_max_sale_fen
        )
    if (
        not now - timedelta(hours=settings.offline_max_age_hours) - OFFLINE_CLOCK_SKEW
        <= occurred_at
        <= now + OFFLINE_CLOCK_SKEW
    ):
        raise InvalidRequest(
            "The offline sale is older than the terminal may keep it, or in the future.",
            field="occurred_at",
            max_age_hours=settings.offline_max_age_hours,
        )


def load_member(draft: SaleDraft) -> None:
    """The buyer's level, balance and discount at this merchant (an inactive member is refused)."""
    draft.who = member_at_merchant(draft.buyer.member_id, draft.request.terminal.merchant_id)


def find_voucher(draft: SaleDraft) -> None:
    """The alliance voucher the sale names (the identified member's, usable here today), if any."""
    request = draft.request
    if request.voucher_code is None and request.voucher_id is None:
        return
    draft.voucher = till_vouchers.find(
        request.terminal.merchant,
        draft.buyer.member_id,
        alliance_today(draft.settings, draft.now),
        voucher_code=request.voucher_code,
        voucher_id=request.voucher_id,
        terminal_id=request.terminal.id,
        now=draft.now,
    )


def lock_commission_day(draft: RefundDraft) -> None:
    """While the sale's day is open, its commission lock first (server/services/commissions.py)."""
    commissions.lock_for_refund(draft.request.sale_id)


def lock_sale(draft: RefundDraft) -> None:
    """The sale being refunded, locked and read afresh, within the caller's merchant scope."""
    request = draft.request
    # populate_existing: a caller that already loaded the sale must not refund from stale totals
    sale = db.session.scalar(
        select(Sale).where(Sale.id == request.sale_id).with_for_update().execution_options(populate_existing=True)
    )
    if sale is None or (request.merchant_scope is not None and sale.merchant_id != request.merchant_scope):
        raise NotFound("No such sale.", sale_id=request.sale_id)
    draft.sale = sale
    draft.voucher = till_vouchers.of_sale(sale.id)


def authorise_refund(draft: RefundDraft) -> None:
    """At a terminal, a refund above the merchant's threshold needs the supervisor PIN (rate-limited)."""
    if draft.request.at_terminal:
        draft.authorised_by = check_refund_authorisation(
            draft.sale.merchant, draft.split.amount_fen, draft.request.supervisor_pin
        )


def check_refund_authorisation(merchant: Merchant, amount_fen: int, supervisor_pin: str | None) -> str | None:
    """``"supervisor_pin"`` when the merchant requires authorisation for this amount and the PIN is right."""
    threshold = merchant.refund_auth_threshold_fen
    if threshold is None or amount_fen <= threshold:
        return None
    if not supervisor_pin:
        raise RefundAuthorisationRequired(threshold_fen=threshold)
    check_failures("refund_pin:merchant", merchant.id)
    if not verify_password(merchant.refund_pin_hash, supervisor_pin):
        count_failure("refund_pin:merchant", merchant.id)
        raise RefundPinWrong()
    return "supervisor_pin"
