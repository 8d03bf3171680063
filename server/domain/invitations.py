"""Member invitations (裂变分享): the inviter's reward, earned only by the invited friend's consumption.

The alliance may set ``points_per_yuan`` (0: off) for what the friend pays in their first ``days`` days as
a member. Nothing is granted for the sign-up, a card activation or a headcount (禁止传销条例 art. 7): a
reward is always a share of a sale's paid amount, and a refund of that sale takes back the same share.
"""

from __future__ import annotations

from datetime import datetime, timedelta


def invite_reward(
    paid_fen: int, points_per_yuan: int, days: int, joined_at: datetime | None, occurred_at: datetime
) -> int:
    """The inviter's points for a friend's sale paying ``paid_fen``, ``occurred_at`` after joining ``joined_at``."""
    if points_per_yuan <= 0 or paid_fen <= 0 or joined_at is None:
        return 0
    if not joined_at <= occurred_at < joined_at + timedelta(days=days):
        return 0
    return paid_fen * points_per_yuan // 100


def reward_taken_back(reward: int, payable_fen: int, refunded_before_fen: int, refund_fen: int) -> int:
    """The part of ``reward`` a refund of ``refund_fen`` takes back (cumulative share, rounded down; all at the end)."""

    def share(part_fen: int) -> int:
        return reward if part_fen >= payable_fen else reward * part_fen // payable_fen

    return share(refunded_before_fen + refund_fen) - share(refunded_before_fen)
