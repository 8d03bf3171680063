"""The points ledger: transactions with their entries, filtered, and as CSV (read-only: corrections go
through the audited services, never through this page)."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from server.console import navigation
from server.console.access import operators_only, permission_required
from server.console.display import LEDGER_LABELS
from server.console.paging import all_rows, choice_arg, page_from_request
from server.exports import Column, table_download
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


EXPORT_COLUMNS = (
    Column("created_at", _l("Time"), "time"),
    Column("kind", _l("Kind"), "text"),
    Column("transaction_id", _l("Transaction"), "text"),
    Column("sale_id", _l("Sale ID"), "text"),
    Column("refund_id", _l("Refund ID"), "text"),
    Column("actor", _l("By"), "text"),
    Column("memo", _l("Memo"), "text"),
    Column("entry_id", _l("Entry"), "text"),
    Column("account_kind", _l("Account"), "text"),
    Column("owner_id", _l("Account holder"), "text"),
    Column("account_id", _l("Account ID"), "text"),
    Column("amount", _l("Points"), "int"),
)


@blp.route("/ledger.<any(csv, xlsx):fmt>")
@permission_required("ledger:read")
@operators_only
def export(fmt):
    """The filtered ledger as one table (CSV or XLSX), one line per entry, in the alliance's time."""
    filters = ledger_filters()
    lines = (
        {
            "transaction_id": txn["id"],
            "created_at": txn["created_at"],
            "kind": str(LEDGER_LABELS.get(txn["kind"], txn["kind"])),
            "sale_id": txn["sale_id"],
            "refund_id": txn["refund_id"],
            "actor": txn["actor"],
            "memo": txn["memo"],
            "entry_id": entry["id"],
            "account_id": entry["account_id"],
            "account_kind": entry["account_kind"],
            "owner_id": entry["owner_id"],
            "amount": entry["amount"],
        }
        for txn in all_rows(lambda page: queries.list_transactions(filters, page), 500)
        for entry in txn["entries"]
    )
    return table_download(EXPORT_COLUMNS, lines, fmt, "ledger")
