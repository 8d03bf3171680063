"""Price steps: what the sale costs and earns, what a refund gives back and takes back.

The decisions are the domain's (``alliance_shared/pricing.py``, ``server/domain/refunds.py``), so a quote
and the sale agree; these steps only feed them what the resolve steps found. A new part of the price (a
benefit redeemed in the sale) belongs in the domain's ``SaleTerms`` / ``quote_sale``, not here.
"""

from __future__ import annotations

from sqlalchemy import select

from alliance_shared.pricing import quote_sale
from server.domain.refunds import SaleRefundState, split_refund
from server.extensions import db
from server.models import LedgerAccount, Member
from server.services import points
from server.services.identified import sale_terms
from server.services.sales.context import RefundDraft, SaleDraft


def price_sale(draft: SaleDraft) -> None:
    """Discount, redemption within the merchant's cap and the member's balance, points to earn."""
    request, who = draft.request, draft.who
    draft.priced = quote_sale(
        request.amount_fen,
        request.redeem_points,
        who.balance,
        sale_terms(who, request.terminal, draft.settings),
        draft.voucher.terms if draft.voucher is not None else None,
    )


def split_refund_amount(draft: RefundDraft) -> None:
    """The refunded amount and, in proportion, the earned points to reverse, redeemed points to restore and
    the share of the voucher's value."""
    sale, voucher = draft.sale, draft.voucher
    draft.split = split_refund(
        SaleRefundState(
            sale.payable_fen,
            sale.points_earned,
            sale.redeem_points,
            sale.refunded_fen,
            sale.points_reversed,
            sale.points_restored,
            voucher.value_fen if voucher is not None else 0,
            voucher.refunded_fen if voucher is not None else 0,
        ),
        draft.request.amount_fen,
    )


def plan_take_back(draft: RefundDraft) -> None:
    """Lock the member's account; take back only the earned points the member still holds.

    Redeemed points returning to lots that expired meanwhile expire again at once
    (``server/services/points.py``), so they do not count as held.
    """
    sale, split = draft.sale, draft.split
    draft.member = member = db.session.get(Member, sale.member_id)
    draft.account = account = db.session.scalar(
        select(LedgerAccount).where(LedgerAccount.id == member.points_account_id).with_for_update()
    )
    draft.restore, draft.unplaced = points.plan_redeemed_restore(
        sale.id, split.points_restored, points.alliance_today(now=draft.now)
    )
    expiring_again = sum(part.expired for part in draft.restore)
    draft.recoverable = min(split.points_reversed, account.balance + split.points_restored - expiring_again)
