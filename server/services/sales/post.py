"""Post steps: the ledger, the points lots, the level and the member's notice; the refund's counterparts.

Each runs after the sale (or refund) row is flushed, in the same transaction.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, select, update

from alliance_shared.money import format_yuan
from server.domain.invitations import reward_taken_back
from server.domain.ledger import invite_reward_postings, refund_postings, sale_postings
from server.domain.levels import level_after_sale
from server.domain.statuses import MemberStatus
from server.extensions import db
from server.hot_sql import HotStatement, Pending
from server.models import LedgerAccount, Level, Member, Sale
from server.notifications.sms import queue_sms
from server.security.pii import decrypt_phone
from server.services import benefit_grants, commissions, ledger, points, till_gifts, till_vouchers, webhooks
from server.services.audit import audit
from server.services.identified import MemberAtMerchant, card_write_back
from server.services.levels import level_copies, level_rule
from server.services.sales import attribution
from server.services.sales.context import RefundDraft, SaleDraft


def post_sale(draft: SaleDraft) -> None:
    """Earned points from the merchant's issued account, redeemed points to its accepted account."""
    merchant, priced = draft.request.terminal.merchant, draft.priced
    postings = sale_postings(
        draft.who.member.points_account_id,
        merchant.points_issued_account_id,
        merchant.points_accepted_account_id,
        earned=priced.points_to_earn,
        redeemed=priced.redeem_points,
    )
    draft.posting = ledger.post_ahead("sale", postings, f"terminal:{draft.request.terminal.id}", sale_id=draft.sale.id)


def ask_window_spend(draft: SaleDraft) -> None:
    """The member's spend in the level window, sent behind the posting: both go in one round trip, and the spend
    is read after the posting has locked the member's account, so a sale of theirs that committed meanwhile is
    in it (as when it was read after the posting). Nothing is asked at the top level (nothing to upgrade to)."""
    if any(level.rank > draft.who.level.rank for level in level_copies().values()):
        since = draft.now - timedelta(days=draft.settings.level_window_days)
        draft.window_spend = _WINDOW_SPEND.send({"member_id": draft.who.member.id, "since": since})


def check_posting(draft: SaleDraft) -> None:
    """The posting's answer: the balances after it, or InsufficientPoints (the whole sale rolls back)."""
    draft.balances = draft.posting.balances()


def move_sale_lots(draft: SaleDraft) -> None:
    """Spend the redeemed points from the member's lots, then add the lot this sale earns."""
    member_id, sale_id, priced = draft.buyer.member_id, draft.sale.id, draft.priced
    points.spend_lots(member_id, priced.redeem_points, "redeem", sale_id)  # before the lot this sale earns
    points.add_lot(member_id, priced.points_to_earn, "sale", sale_id, draft.now, draft.settings)


def upgrade_level(draft: SaleDraft) -> None:
    """Upgrade the member at once if this sale lifts the window spend over a higher threshold; a level reached
    brings its gift, if the alliance set one (never refusing the sale)."""
    draft.level = level_after(draft.who, draft.window_spend, draft.now)
    if draft.level.id != draft.who.level.id:
        benefit_grants.level_up_gift(draft.who.member.id, draft.level.code)


# the member's spend in the level window (index-only on PostgreSQL: ix_sales_member_occurred)
_WINDOW_SPEND = HotStatement(
    select(func.coalesce(func.sum(Sale.payable_fen - Sale.refunded_fen), 0)).where(
        Sale.member_id == bindparam("member_id"), Sale.occurred_at >= bindparam("since")
    )
)


def level_after(who: MemberAtMerchant, window_spend: Pending | None, now: datetime) -> Level:
    """The member's level after a sale (it is in the window spend ``ask_window_spend`` sent), upgraded in place if
    higher. The levels are the worker's copy (``levels.level_copies``); at the top level nothing was asked.
    """
    if window_spend is None:
        return who.level
    levels = level_copies()
    rules = {level.id: level_rule(level) for level in levels.values()}
    target = level_after_sale(rules[who.level.id], list(rules.values()), window_spend.scalar())
    if target.id == who.level.id:
        return who.level
    db.session.execute(
        update(Member)
        .where(Member.id == who.member.id)
        .values(level_id=target.id, level_since=now)
        .execution_options(synchronize_session=False)
    )
    return levels[target.id]


def plan_card_write_back(draft: SaleDraft) -> None:
    """After an online tap sent with the sale: the chip update to write, with the level after this sale."""
    if draft.credential is not None:
        draft.card_update = card_write_back(draft.credential, draft.level.rank)


def points_balance(draft: SaleDraft) -> int:
    """The member's balance after the sale (unchanged when nothing was posted to it)."""
    return draft.balances.get(draft.who.member.points_account_id, draft.who.balance)


def notify_points_spent(draft: SaleDraft) -> None:
    """Tell the member their points were spent, where and for how much (SMS outbox; shown in their history)."""
    priced = draft.priced
    if not priced.redeem_points:
        return
    draft.notice_sms_id = queue_sms(
        decrypt_phone(draft.who.member.phone_ciphertext),
        "points_spent",
        alliance=draft.settings.name,
        merchant=draft.request.terminal.merchant.name,
        points=priced.redeem_points,
        value=format_yuan(priced.redeem_value_fen),
        balance=points_balance(draft),
    ).id


def post_refund(draft: RefundDraft) -> None:
    """Reverse the points the member still holds, restore the redeemed ones; the balance after it."""
    request, sale, member, split = draft.request, draft.sale, draft.member, draft.split
    merchant = sale.merchant
    balances = ledger.post(
        "refund",
        refund_postings(
            member.points_account_id,
            merchant.points_issued_account_id,
            merchant.points_accepted_account_id,
            draft.recoverable,
            split.points_restored,
        ),
        request.actor,
        sale_id=sale.id,
        refund_id=draft.refund.id,
    )
    draft.balance = balances.get(member.points_account_id, draft.account.balance)


def move_refund_lots(draft: RefundDraft) -> None:
    """Restored points back to their lots (expired ones expire again), reversed points out of the sale's lot."""
    member, sale = draft.member, draft.sale
    draft.balance -= points.apply_restore(member, draft.restore, draft.request.actor, draft.refund.id)
    points.add_lot(member.id, draft.unplaced, "restore", sale.id, draft.now)
    points.spend_lots(member.id, draft.recoverable, "reverse", sale.id, first_sale_lot=True)


def settle_voucher(draft: RefundDraft) -> None:
    """The refund's share of the sale's voucher; a refund completing the sale gives the voucher back if it may."""
    if draft.voucher is not None:
        till_vouchers.settle_refund(draft.voucher, draft.split, draft.refund, points.alliance_today(now=draft.now))


def update_sale_totals(draft: RefundDraft) -> None:
    """The sale's running refund totals (the next refund splits from them)."""
    sale, split = draft.sale, draft.split
    sale.refunded_fen += split.amount_fen
    sale.points_reversed += split.points_reversed
    sale.points_restored += split.points_restored


def reverse_commissions(draft: RefundDraft) -> None:
    """The refund's share of the sale's commissions (once its day is closed; before, the closing nets it)."""
    commissions.on_refund(draft.request.actor, draft.sale, draft.refund)


def audit_refund(draft: RefundDraft) -> None:
    """The audit entry: who refunded how much, why, and who authorised it."""
    request, split = draft.request, draft.split
    audit(
        request.actor,
        "sale.refund",
        "sale",
        draft.sale.id,
        refund_id=draft.refund.id,
        amount_fen=split.amount_fen,
        reason=request.reason,
        authorised_by=draft.authorised_by,
    )


def give_till_gift(draft: SaleDraft) -> None:
    """The merchant's gift with a purchase (满赠), if the sale earns one (never refusing the sale)."""
    draft.gift = till_gifts.give_gift(
        draft.sale, draft.buyer.member_id, draft.occurred_at or draft.now, f"terminal:{draft.request.terminal.id}"
    )


def void_till_gift(draft: RefundDraft) -> None:
    """A refund that leaves nothing of the sale voids its gift if still unused (after the totals)."""
    till_gifts.void_gift_of_refunded_sale(draft.sale, draft.request.actor)


def emit_sale_recorded(draft: SaleDraft) -> None:
    """The ``sale.recorded`` webhook event, in the sale's transaction (nothing when no one subscribed)."""
    webhooks.emit(db.session, "sale.recorded", webhooks.sale_payload(draft.sale))


def emit_refund_recorded(draft: RefundDraft) -> None:
    """The ``refund.recorded`` webhook event, in the refund's transaction (nothing when no one subscribed)."""
    webhooks.emit(db.session, "refund.recorded", webhooks.refund_payload(draft.refund, draft.sale))


# --- member invitations (裂变分享): the inviter's reward, sized by server/services/sales/attribution.py ---


def grant_invite_reward(draft: SaleDraft) -> None:
    """Credit the inviter the reward the friend's sale earned (an inviter no longer active gets nothing)."""
    sale = draft.sale
    if not sale.invite_reward_points:
        return
    inviter = db.session.execute(
        select(Member.id, Member.status, Member.points_account_id).where(Member.id == sale.recruiting_member_id)
    ).one()
    if inviter.status != MemberStatus.ACTIVE:
        sale.invite_reward_points = 0
        return
    invites = attribution.invites_account()
    postings = invite_reward_postings(inviter.points_account_id, invites, sale.invite_reward_points)
    ledger.post(attribution.INVITE_REWARD, postings, f"terminal:{draft.request.terminal.id}", sale_id=sale.id)
    points.add_lot(inviter.id, sale.invite_reward_points, "invite", sale.id, draft.now, draft.settings)


def take_back_invite_reward(draft: RefundDraft) -> None:
    """A refund takes back the refunded share of the inviter's reward, as far as the inviter still holds it.

    What the inviter already spent stays spent (like a member's own earned points): the shortfall is the
    alliance's, which funded the reward. Runs before ``update_sale_totals`` (it reads the totals before).
    """
    sale, split = draft.sale, draft.split
    if not sale.invite_reward_points:
        return
    due = reward_taken_back(sale.invite_reward_points, sale.payable_fen, sale.refunded_fen, split.amount_fen)
    inviter = db.session.execute(
        select(Member.id, Member.points_account_id).where(Member.id == sale.recruiting_member_id)
    ).one()
    held = db.session.scalar(
        select(LedgerAccount.balance).where(LedgerAccount.id == inviter.points_account_id).with_for_update()
    )
    taken = min(due, held)
    if taken <= 0:
        return
    postings = invite_reward_postings(inviter.points_account_id, attribution.invites_account(), -taken)
    ledger.post(attribution.INVITE_TAKE_BACK, postings, draft.request.actor, sale_id=sale.id, refund_id=draft.refund.id)
    points.spend_lots(inviter.id, taken, "reverse", sale.id, first_sale_lot=True)
