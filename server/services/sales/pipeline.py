"""The sale and refund pipelines: ordered steps over a draft, in one transaction.

``SALE_STEPS`` and ``REFUND_STEPS`` are the whole order of work; each step is a function of the draft
that reads the slots earlier steps filled and fills its own (``server/services/sales/context.py``). The
idempotency record, when the call comes through the API, is claimed in the same transaction
(``server/services/idempotency.py``), so a sale and its stored response commit together.
"""

from __future__ import annotations

from collections.abc import Callable

from server.models.base import utcnow
from server.services.alliance import current_settings
from server.services.sales import persist, post, price, resolve
from server.services.sales.context import (
    RefundDraft,
    RefundRequest,
    RefundResult,
    SaleDraft,
    SaleRequest,
    SaleResult,
)
from server.services.unit_of_work import transactional

SaleStep = Callable[[SaleDraft], None]
RefundStep = Callable[[RefundDraft], None]

SALE_STEPS: tuple[SaleStep, ...] = (
    # resolve: may this sale happen, and for whom
    resolve.refuse_repeated_client_sale,
    resolve.identify_buyer,
    persist.ask_receipt_seq,  # sent ahead: it rides with the member's read (server/hot_sql.py)
    resolve.load_member,
    resolve.find_voucher,  # the alliance voucher named by code or id (server/services/till_vouchers.py)
    # price
    price.price_sale,
    # persist
    persist.number_receipt,
    persist.write_sale,  # with the attribution snapshot (server/services/sales/attribution.py)
    persist.redeem_voucher,  # early: concurrent sales of one voucher wait here, not after the ledger work
    # post
    post.grant_invite_reward,
    post.post_sale,  # sent ahead, with the level window's spend behind it: one round trip for both
    post.ask_window_spend,
    post.check_posting,
    post.move_sale_lots,
    post.upgrade_level,
    post.plan_card_write_back,
    post.notify_points_spent,
    post.give_till_gift,  # 满赠 (server/services/till_gifts.py)
    post.emit_sale_recorded,  # the webhook event (server/services/webhooks.py)
)

REFUND_STEPS: tuple[RefundStep, ...] = (
    # resolve
    resolve.lock_commission_day,
    resolve.lock_sale,
    # price (the authorisation depends on the refunded amount)
    price.split_refund_amount,
    resolve.authorise_refund,
    price.plan_take_back,
    # persist
    persist.write_refund,
    # post
    post.post_refund,
    post.move_refund_lots,
    post.take_back_invite_reward,
    post.settle_voucher,
    post.update_sale_totals,
    post.reverse_commissions,  # after the totals: the share is cumulative (server/domain/commissions.py)
    post.void_till_gift,  # after the totals: only a refund in full voids the gift
    post.audit_refund,
    post.emit_refund_recorded,
)


@transactional
def record_sale(request: SaleRequest) -> SaleResult:
    """Record a sale: discount, redemption, earning, ledger, receipt number and level upgrade."""
    draft = SaleDraft(request, current_settings(), utcnow())
    for step in SALE_STEPS:
        step(draft)
    return SaleResult(
        sale=draft.sale,
        points_balance=post.points_balance(draft),
        level=draft.level,
        notice_sms_id=draft.notice_sms_id,
        member=draft.who.member,
        method=draft.buyer.method,
        card_update=draft.card_update,
        gift=draft.gift,
        voucher=draft.voucher.ref() if draft.voucher is not None else None,
    )


@transactional
def refund_sale(request: RefundRequest) -> RefundResult:
    """Refund part or the rest of a sale, reversing earned and restoring redeemed points in proportion.

    If the member has already spent points this refund must take back, only what the member holds is
    taken back; the shortfall is recorded on the refund and stays with the merchant that granted it.
    At a terminal, a refund above the merchant's threshold needs the supervisor PIN (wrong PINs are
    rate-limited per merchant); staff refunding through the API are themselves the authorised person.
    """
    draft = RefundDraft(request, utcnow())
    for step in REFUND_STEPS:
        step(draft)
    return RefundResult(refund=draft.refund, points_balance=draft.balance, sale=draft.sale)
