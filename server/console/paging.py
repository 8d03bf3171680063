"""Page numbers and filters for console lists (the same interface the services' ``paginate`` fills in).

A list never ignores a filter silently: a value it cannot use (an unknown status, a mistyped date or page)
is reported above the list (:func:`report_invalid_filter`, shown by the layout) and left out.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from datetime import date

from flask import g, request, url_for
from flask_babel import gettext as _

PAGE_SIZE = 25
EXPORT_LIMIT = 100_000  # rows at most in one CSV export


class Page:
    """One page of a list: ``item_count`` is set by ``server.services.queries.paginate``."""

    def __init__(self, page: int = 1, page_size: int = PAGE_SIZE):
        self.page = max(page, 1)
        self.page_size = page_size
        self.item_count = 0

    @property
    def pages(self) -> int:
        return max((self.item_count + self.page_size - 1) // self.page_size, 1)

    def url(self, number: int) -> str:
        """This list's URL at page ``number``, keeping the filters."""
        args = {**request.args.to_dict(), "page": number}
        return url_for(request.endpoint, **(request.view_args or {}), **args)

    @property
    def beyond_last(self) -> bool:
        """True when the page asked for is past the last one (the list shows nothing)."""
        return self.page > self.pages

    def jump_args(self) -> dict:
        """The query arguments a page-jump form carries along, all but the page."""
        return {name: value for name, value in request.args.items() if name != "page"}


def report_invalid_filter(label: str, value: str) -> None:
    """Tell the user that a filter value was not understood and was left out of the list."""
    message = _("%(field)s: “%(value)s” is not understood, so this filter was left out.", field=label, value=value)
    g.setdefault("console_filter_errors", []).append(message)


def invalid_filters() -> list[str]:
    """This request's reports of filters that were left out (for the layout)."""
    return g.get("console_filter_errors", [])


def choice_arg(name: str, allowed: Collection[str], label: str) -> str | None:
    """A query argument that must be one of ``allowed`` (None when missing; reported when not allowed)."""
    value = request.args.get(name, "").strip()
    if value and value not in allowed:
        report_invalid_filter(label, value)
        return None
    return value or None


def date_arg(name: str, label: str) -> date | None:
    """A ``YYYY-MM-DD`` query argument (None when missing; reported when mistyped)."""
    value = request.args.get(name, "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        report_invalid_filter(label, value)
        return None


def page_from_request(page_size: int = PAGE_SIZE) -> Page:
    """The page the request asks for (``?page=``; a mistyped number is reported and page 1 shown)."""
    value = request.args.get("page", "").strip()
    if not value:
        return Page(1, page_size)
    if not value.isdigit() or int(value) < 1:
        report_invalid_filter(_("Page"), value)
        return Page(1, page_size)
    return Page(int(value), page_size)


def all_rows(fetch: Callable[[Page], list], page_size: int, limit: int = EXPORT_LIMIT) -> Iterator:
    """Every row ``fetch`` returns, page after page, at most ``limit`` rows (for exports)."""
    page = Page(1, page_size)
    remaining = limit
    while remaining > 0:
        rows = fetch(page)
        yield from rows[:remaining]
        remaining -= len(rows)
        if len(rows) < page_size:
            return
        page = Page(page.page + 1, page_size)
