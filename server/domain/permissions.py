"""Roles and what each may do; merchant roles are confined to their own merchant."""

from __future__ import annotations

OPERATOR_ROLES = {"admin", "finance", "card_issuer", "support"}
MERCHANT_ROLES = {"owner", "cashier"}
ROLES = OPERATOR_ROLES | MERCHANT_ROLES

_READ_ALL = {
    "merchants:read",
    "terminals:read",
    "levels:read",
    "members:read",
    "cards:read",
    "sales:read",
    "ledger:read",
    "alliance:read",
}

# Granted to no role by name, only through admin's "*": alliance-wide writes and staff management.
ADMIN_ONLY_PERMISSIONS = {"merchants:write", "levels:write", "staff:read", "staff:write", "alliance:write"}

PERMISSIONS: dict[str, set[str]] = {
    "admin": {"*"},
    "finance": _READ_ALL | {"points:adjust", "sales:refund", "settlement:read", "settlement:close", "reports:read"},
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
}


def role_allows(role: str, permission: str) -> bool:
    """True when ``role`` grants ``permission``."""
    granted = PERMISSIONS.get(role, set())
    return "*" in granted or permission in granted
