"""Attribution snapshotted on each sale, and the invitation reward that follows from it.

A sale records, as things stand when it happens, the agent servicing the merchant
(``merchants.agent_id``), the agent who recruited the member (``members.recruited_by_agent_id``) and the
member who invited them (``members.invited_by_member_id``). Later changes — a merchant handed to another
agent, a recruiter corrected — never rewrite the past: the agent evaluation sums these columns.

``sale_columns`` gives ``persist.write_sale`` the values from rows the draft already holds (the terminal's
merchant, the member loaded by ``resolve.load_member``): no extra statement. It also sizes the inviter's
reward (``server/domain/invitations.py``): only a friend's paid consumption in their first days earns it,
never the sign-up. ``grant_invite_reward`` posts it (one more round trip only when there is a reward);
``take_back_invite_reward`` reverses the refunded share.
"""

from __future__ import annotations

from sqlalchemy import select

from server.domain.invitations import invite_reward, reward_taken_back
from server.domain.ledger import ALLIANCE_INVITES, invite_reward_postings
from server.domain.statuses import MemberStatus
from server.extensions import db
from server.models import LedgerAccount, Member
from server.models.ledger import ALLIANCE_OWNER
from server.services import ledger, points
from server.services.sales.context import RefundDraft, SaleDraft

INVITE_REWARD = "invite_reward"  # ledger transaction kind and points lot source
INVITE_TAKE_BACK = "invite_take_back"


def sale_columns(draft: SaleDraft) -> dict:
    """The attribution columns of the sale being written (and the inviter's reward it earns)."""
    member = draft.who.member
    settings = draft.settings
    inviter = member.invited_by_member_id
    reward = 0
    if inviter is not None:
        reward = invite_reward(
            draft.priced.payable_fen,
            settings.invite_reward_points_per_yuan,
            settings.invite_reward_days,
            member.created_at,
            draft.occurred_at,
        )
    return {
        "servicing_agent_id": draft.request.terminal.merchant.agent_id,
        "recruiting_agent_id": member.recruited_by_agent_id,
        "recruiting_member_id": inviter,
        "invite_reward_points": reward,
    }


def invites_account() -> int:
    """The alliance account funding invitation rewards (opened on first use)."""
    account = db.session.scalar(
        select(LedgerAccount.id).where(LedgerAccount.kind == ALLIANCE_INVITES, LedgerAccount.owner_id == ALLIANCE_OWNER)
    )
    return account if account is not None else ledger.open_account(ALLIANCE_INVITES, ALLIANCE_OWNER)


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
    postings = invite_reward_postings(inviter.points_account_id, invites_account(), sale.invite_reward_points)
    ledger.post(INVITE_REWARD, postings, f"terminal:{draft.request.terminal.id}", sale_id=sale.id)
    points.add_lot(inviter.id, sale.invite_reward_points, "invite", sale.id, draft.now)


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
    postings = invite_reward_postings(inviter.points_account_id, invites_account(), -taken)
    ledger.post(INVITE_TAKE_BACK, postings, draft.request.actor, sale_id=sale.id, refund_id=draft.refund.id)
    points.spend_lots(inviter.id, taken, "reverse", sale.id, first_sale_lot=True)
