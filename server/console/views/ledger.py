"""The points ledger: transactions with their entries, filtered, and as CSV (read-only: corrections go
through the audited services, never through this page)."""

from __future__ import annotations

import csv
import io

from flask import Blueprint, Response, render_template, request, stream_with_context
from flask_babel import lazy_gettext as _l

from server.console import navigation
from server.console.access import operators_only, permission_required
from server.console.paging import Page, page_from_request
from server.formatting import local_time
from server.services import queries

blp = Blueprint("ledger", __name__)
navigation.add(
    navigation.NavItem(
        "console.ledger.index", _l("Points ledger"), "journal-text", "ledger:read", order=55, operators_only=True
    )
)
KINDS = ("sale", "refund", "adjustment", "expiry")
CSV_LIMIT = 100_000


def ledger_filters() -> dict:
    """Kind and sale from the query string."""
    return {
        "kind": request.args.get("kind") or None,
        "sale_id": request.args.get("sale_id", "").strip() or None,
    }


@blp.route("/ledger")
@permission_required("ledger:read")
@operators_only
def index():
    """Ledger transactions, newest first, each with its balanced entries."""
    page = page_from_request()
    rows = queries.list_transactions(ledger_filters(), page)
    return render_template("console/ledger/index.html", transactions=rows, page=page, kinds=KINDS)


@blp.route("/ledger.csv")
@permission_required("ledger:read")
@operators_only
def export():
    """The filtered ledger as CSV, one line per entry."""
    filters = ledger_filters()

    def lines():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(
            (
                "transaction_id",
                "created_at",
                "kind",
                "sale_id",
                "refund_id",
                "actor",
                "memo",
                "entry_id",
                "account_id",
                "account_kind",
                "owner_id",
                "amount",
            )
        )
        yield "\ufeff" + buffer.getvalue()
        page = Page(1, 500)
        while (page.page - 1) * page.page_size < CSV_LIMIT:
            rows = queries.list_transactions(filters, page)
            for txn in rows:
                for entry in txn["entries"]:
                    buffer.seek(0), buffer.truncate()
                    writer.writerow(
                        (
                            txn["id"],
                            local_time(txn["created_at"], "yyyy-MM-dd HH:mm:ss"),
                            txn["kind"],
                            txn["sale_id"] or "",
                            txn["refund_id"] or "",
                            txn["actor"],
                            txn["memo"],
                            entry["id"],
                            entry["account_id"],
                            entry["account_kind"],
                            entry["owner_id"],
                            entry["amount"],
                        )
                    )
                    yield buffer.getvalue()
            if len(rows) < page.page_size:
                break
            page = Page(page.page + 1, page.page_size)

    headers = {"Content-Disposition": "attachment; filename=ledger.csv"}
    return Response(stream_with_context(lines()), mimetype="text/csv; charset=utf-8", headers=headers)
