"""Which status changes a card allows from which status (one home for the services and the pages)."""

from __future__ import annotations

# action → the statuses a card may be in for it
ALLOWED_FROM = {
    "lost": frozenset({"created", "encoding", "issued", "active", "frozen"}),  # 挂失
    "freeze": frozenset({"issued", "active"}),
    "unfreeze": frozenset({"frozen", "lost"}),  # also lifts a loss report when the card is found
    "cancel": frozenset({"created", "encoding", "issued", "active", "lost", "frozen"}),  # 注销, for good
}


def allows(action: str, status: str) -> bool:
    """True when a card in ``status`` may undergo ``action``."""
    return status in ALLOWED_FROM.get(action, frozenset())


def actions_for(status: str) -> list[str]:
    """The status changes a card in ``status`` allows, in the order pages offer them."""
    return [action for action in ALLOWED_FROM if allows(action, status)]
