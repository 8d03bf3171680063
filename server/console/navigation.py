"""The console's navigation: each area registers its entries here, the layout shows those the user may use.

A new feature adds its pages as a blueprint module in ``server/console/views/`` and calls :func:`add`
there, e.g. ``add(NavItem("console.reports.index", _l("Reports"), "graph-up", "reports:read", order=60))``.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import request

from server.domain.permissions import Actor


@dataclass(frozen=True)
class NavItem:
    """One entry of the side navigation."""

    endpoint: str
    label: object  # a lazy_gettext string
    icon: str  # a Bootstrap Icons name
    permission: str | None = None  # None: every signed-in user
    order: int = 100
    operators_only: bool = False
    merchant_staff_only: bool = False

    def shown_to(self, actor: Actor) -> bool:
        """True when ``actor`` should see this entry."""
        if self.operators_only and not actor.alliance_wide:
            return False
        if self.merchant_staff_only and actor.alliance_wide:
            return False
        return self.permission is None or actor.can(self.permission)

    @property
    def active(self) -> bool:
        """True on this entry's own pages (same blueprint)."""
        return (request.endpoint or "").rsplit(".", 1)[0] == self.endpoint.rsplit(".", 1)[0]


NAVIGATION: list[NavItem] = []


def add(item: NavItem) -> None:
    """Register a navigation entry (called when a views module is imported)."""
    if all(existing.endpoint != item.endpoint or existing.label != item.label for existing in NAVIGATION):
        NAVIGATION.append(item)
        NAVIGATION.sort(key=lambda entry: entry.order)


def items_for(actor: Actor) -> list[NavItem]:
    """The entries ``actor`` may use, in order."""
    return [item for item in NAVIGATION if item.shown_to(actor)]
