"""Exports read every page of a list, and stop at the export limit."""

from server.console.paging import all_rows


def test_all_rows_reads_page_after_page_until_a_short_page():
    data = list(range(7))
    asked = []

    def fetch(page):
        asked.append(page.page)
        start = (page.page - 1) * page.page_size
        return data[start : start + page.page_size]

    assert list(all_rows(fetch, 3)) == data
    assert asked == [1, 2, 3]


def test_all_rows_stops_at_the_limit():
    assert len(list(all_rows(lambda page: [page.page] * page.page_size, 10, limit=25))) == 25


def test_all_rows_cuts_the_last_page_at_the_limit_and_reads_no_page_past_it():
    asked = []

    def fetch(page):
        asked.append(page.page)
        return [(page.page, row) for row in range(page.page_size)]

    rows = list(all_rows(fetch, 10, limit=25))
    assert rows == [(page, row) for page in (1, 2) for row in range(10)] + [(3, row) for row in range(5)]
    assert asked == [1, 2, 3]
    asked.clear()
    assert len(list(all_rows(fetch, 10, limit=20))) == 20
    assert asked == [1, 2]  # the limit falls on a page boundary: no third page is read
