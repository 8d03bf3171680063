"""The console's navigation: each area registers its entries here, the layout shows those the user may use.

A new feature adds its pages as a blueprint module in ``server/console/views/`` and calls :func:`add`
there, e.g. ``add(NavItem("console.reports.index", _l("Reports"), "graph-up", "reports:read", order=60))``.
"""

from __future__ import annotations

from dataclasses import dataclass

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
    pages: tuple[str, ...] = ()  # other endpoints of its blueprint that belong to this entry (e.g. a detail page)
    group: object = None  # a heading shown above the first entry of a run of entries with the same group

    def shown_to(self, actor: Actor) -> bool:
        """True when ``actor`` should see this entry."""
        if self.operators_only and not actor.alliance_wide:
            return False
        if self.merchant_staff_only and actor.alliance_wide:
            return False
        return self.permission is None or actor.can(self.permission)

    def claims(self, endpoint: str) -> bool:
        """True when ``endpoint`` is this entry's page or one it names in ``pages``."""
        return endpoint == self.endpoint or endpoint in self.pages


NAVIGATION: list[NavItem] = []


def active_item(items: list[NavItem], endpoint: str | None) -> NavItem | None:
    """The one entry to highlight on ``endpoint``: the entry that claims it, else the first of its blueprint."""
    endpoint = endpoint or ""
    claimed = next((item for item in items if item.claims(endpoint)), None)
    if claimed is not None:
        return claimed
    area = endpoint.rsplit(".", 1)[0]
    return next((item for item in items if item.endpoint.rsplit(".", 1)[0] == area), None)


def add(item: NavItem) -> None:
    """Register a navigation entry (called when a views module is imported)."""
    if all(existing.endpoint != item.endpoint or existing.label != item.label for existing in NAVIGATION):
        NAVIGATION.append(item)
        NAVIGATION.sort(key=lambda entry: entry.order)


def items_for(actor: Actor) -> list[NavItem]:
    """The entries ``actor`` may use, in order."""
    return [item for item in NAVIGATION if item.shown_to(actor)]
