"""Attribution snapshotted on each sale, and the invitation reward that follows from it.

A sale records, as things stand when it happens, the agent servicing the merchant
(``merchants.agent_id``), the agent who recruited the member (``members.recruited_by_agent_id``) and the
member who invited them (``members.invited_by_member_id``). Later changes — a merchant handed to another
agent, a recruiter corrected — never rewrite the past: the agent evaluation sums these columns.

``sale_columns`` gives ``persist.write_sale`` the values from rows the draft already holds (the terminal's
merchant, the member loaded by ``resolve.load_member``): no extra statement. It also sizes the inviter's
reward (``server/domain/invitations.py``): only a friend's paid consumption in their first days earns it,
never the sign-up. The post steps ``post.grant_invite_reward`` (one more round trip only when there is a
reward) and ``post.take_back_invite_reward`` (a refund's share) move the points.
"""

from __future__ import annotations

from sqlalchemy import select

from server.domain.invitations import invite_reward
from server.domain.ledger import ALLIANCE_INVITES
from server.extensions import db
from server.models import LedgerAccount
from server.models.ledger import ALLIANCE_OWNER
from server.services import ledger
from server.services.sales.context import SaleDraft

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
