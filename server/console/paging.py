"""Page numbers for console lists (the same interface the services' ``paginate`` fills in)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from flask import request, url_for

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


def page_from_request(page_size: int = PAGE_SIZE) -> Page:
    """The page the request asks for (``?page=``)."""
    return Page(request.args.get("page", 1, type=int) or 1, page_size)


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
