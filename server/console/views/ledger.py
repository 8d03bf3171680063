"""The points ledger: transactions with their entries, filtered, and as CSV (read-only: corrections go
through the audited services, never through this page)."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from server.console import navigation
from server.console.access import operators_only, permission_required
from server.console.paging import all_rows, choice_arg, page_from_request
from server.exports import csv_stream_download
from server.formatting import local_time
from server.services import queries

blp = Blueprint("ledger", __name__)
navigation.add(
    navigation.NavItem(
        "console.ledger.index", _l("Points ledger"), "journal-text", "ledger:read", order=55, operators_only=True
    )
)
KINDS = ("sale", "refund", "adjustment", "expiry")


def ledger_filters() -> dict:
    """Kind and sale from the query string."""
    return {
        "kind": choice_arg("kind", KINDS, _("Kind")),
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

    header = (
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
    lines = (
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
        for txn in all_rows(lambda page: queries.list_transactions(filters, page), 500)
        for entry in txn["entries"]
    )
    return csv_stream_download(header, lines, "ledger.csv")
