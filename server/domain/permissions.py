"""Who may do what: the actor, the roles, what each role may do, and which merchants each actor may reach.

This is the one home of every permission and merchant-scope decision; the API (``server/api/auth.py``), the
console (``server/console/access.py``) and the services ask it. A new role is one entry in :data:`PERMISSIONS`
(and :data:`OPERATOR_ROLES` or :data:`MERCHANT_ROLES`); a new kind of scope (e.g. an agent's "the merchants I
service") is one change of :meth:`Actor.sees_merchant` and :meth:`Actor.confine`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

OPERATOR_ROLES = {"admin", "finance", "card_issuer", "support", "agent_manager", "benefits_manager"}
MERCHANT_ROLES = {"owner", "cashier"}
ROLES = OPERATOR_ROLES | MERCHANT_ROLES  # the roles a staff user may have
TERMINAL_ROLE = "terminal"  # the role of a calling POS terminal (never a staff user's)

_READ_ALL = {
    "merchants:read",
    "terminals:read",
    "levels:read",
    "members:read",
    "cards:read",
    "sales:read",
    "ledger:read",
    "alliance:read",
    "agents:read",
}

# Granted to no role by name, only through admin's "*": alliance-wide writes and staff management.
ADMIN_ONLY_PERMISSIONS = {
    "merchants:write",
    "levels:write",
    "staff:read",
    "staff:write",
    "alliance:write",
    "webhooks:read",  # webhook subscriptions (their URLs and secrets) and the delivery log
    "webhooks:write",
}

# Reading a benefit code and its secret in full (卡密) is a permission of its own, granted to no role by name
# (only admin's "*"): the benefits manager runs the catalogue, purchases and stock but sees codes masked;
# every reveal is audited with a reason (server/services/benefit_stock.py).
READ_SECRETS_PERMISSION = "benefits:secrets"

PERMISSIONS: dict[str, set[str]] = {
    "admin": {"*"},
    "finance": _READ_ALL
    | {"points:adjust", "sales:refund", "settlement:read", "settlement:close", "reports:read"}
    # withdrawals (提现): request on an agent's behalf, approve or reject, run payouts; the bonus pool
    | {"withdrawals:read", "withdrawals:request", "withdrawals:approve", "bonus_pool:read", "bonus_pool:write"}
    # the payout policy: minimum, daily maximum, fee, tax rate, payout channel, bonus pool shares
    | {"payout_policy:write"},
    "card_issuer": {
        "levels:read",
        "merchants:read",
        "members:read",
        "cards:read",
        "cards:write",
        "cards:format",
        "alliance:read",
    },
    "support": {
        "levels:read",
        "merchants:read",
        "members:read",
        "members:write",
        "members:phone",
        "cards:read",
        "cards:write",
        "sales:read",
        "ledger:read",
    },
    "owner": {
        "merchants:read",
        "merchants:write_own",
        "terminals:read",
        "terminals:write",
        "levels:read",
        "sales:read",
        "sales:refund",
        "settlement:read",  # their own merchant's settlements, statements and reports only
    },
    "cashier": {"merchants:read", "levels:read", "sales:read"},
    # the agent network: agents, their levels, territories and evaluations, and which agent services a merchant
    "agent_manager": {"agents:read", "agents:write", "merchants:read", "levels:read"},
    # benefits (权益): the catalogue of SKUs, suppliers, purchases and imports of 卡密, the stock (codes masked)
    "benefits_manager": {"benefits:read", "benefits:write", "merchants:read", "levels:read", "agents:read"},
    TERMINAL_ROLE: {"checkout", "sales:read", "sales:refund", "merchants:read", "levels:read"},
}
TERMINAL_PERMISSIONS = PERMISSIONS[TERMINAL_ROLE]

# Either lets a user set what a level pays at a merchant (see Actor.may_set_discounts).
SET_DISCOUNTS_PERMISSIONS = ("merchants:write", "merchants:write_own")


def role_allows(role: str, permission: str) -> bool:
    """True when ``role`` grants ``permission``."""
    granted = PERMISSIONS.get(role, set())
    return "*" in granted or permission in granted


def merchant_in_scope(scope: str | None, merchant_id: str | None) -> bool:
    """The merchant-scope rule: ``scope`` None (the whole alliance) reaches every merchant, else only its own."""
    return scope is None or merchant_id == scope


@dataclass(frozen=True)
class Actor:
    """The authenticated caller and its scope (``merchant_id`` None: the whole alliance)."""

    key: str
    role: str
    merchant_id: str | None
    terminal: Any = None  # the calling terminal (a server.models.Terminal), if a terminal calls
    user: Any = None  # the staff user (a server.models.StaffUser), if staff call

    @property
    def alliance_wide(self) -> bool:
        """True for operators (and anyone else not confined to one merchant)."""
        return self.merchant_id is None

    def can(self, permission: str) -> bool:
        """True when the caller's role grants ``permission``."""
        return role_allows(self.role, permission)

    def can_any(self, *permissions: str) -> bool:
        """True when the caller's role grants one of ``permissions``."""
        return any(self.can(permission) for permission in permissions)

    def sees_merchant(self, merchant_id: str | None) -> bool:
        """True when the caller may reach ``merchant_id``'s objects (merchant staff and terminals: their own)."""
        return merchant_in_scope(self.merchant_id, merchant_id)

    def confine(self, filters: dict, key: str = "merchant_id") -> dict:
        """``filters`` narrowed to the caller's scope: merchant staff see their own merchant, whatever they asked."""
        if not self.alliance_wide:
            filters[key] = self.merchant_id
        return filters

    def may_set_discounts(self, merchant_id: str) -> bool:
        """True when the caller may set what a level pays at ``merchant_id`` (operators; owners: their own)."""
        return self.can("merchants:write") or (self.can("merchants:write_own") and self.merchant_id == merchant_id)

    def may_manage_tokens_of(self, user_id: str) -> bool:
        """True when the caller may see and revoke ``user_id``'s personal API tokens (their own; admins: all)."""
        return self.can("staff:write") or (self.user is not None and self.user.id == user_id)


def staff_actor(user: Any) -> Actor:
    """A staff user (a server.models.StaffUser) as an actor, whether signed in to the console or by token."""
    return Actor(f"staff:{user.id}", user.role, user.merchant_id, user=user)


def terminal_actor(terminal: Any) -> Actor:
    """A POS terminal (a server.models.Terminal) as an actor, confined to its merchant."""
    return Actor(f"terminal:{terminal.id}", TERMINAL_ROLE, terminal.merchant_id, terminal=terminal)
