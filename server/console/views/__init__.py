"""The console's areas, one blueprint module each; a new feature adds its module to VIEW_MODULES.

Each module defines ``blp`` (a Blueprint; its endpoints become ``console.<name>.<view>``) and registers
its navigation entries with ``server.console.navigation.add``.
"""

from __future__ import annotations

from importlib import import_module

from flask import Blueprint

VIEW_MODULES = (
    "auth",
    "dashboard",
    "merchants",
    "levels",
    "members",
    "cards",
    "sales",
    "ledger",
    "settlement",
    "reports",
    "staff",
    "audit",
    "alliance",
    "tokens",
    "account",
    "brushing",
    "agents",
    "benefits",
    "commissions",
    "payouts",
    "webhooks",
    "benefit_grants",
    "benefit_analytics",
    "benefit_fraud",
)


def register_views(console: Blueprint) -> None:
    """Attach every area's blueprint to the console blueprint (once, at import)."""
    for name in VIEW_MODULES:
        console.register_blueprint(import_module(f"server.console.views.{name}").blp)
