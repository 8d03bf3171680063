"""Monthly partitions of the ledger and money entries on PostgreSQL (docs/operations.md, "Growth of the data").

The migration c4d2e8f1a7b3 made ``ledger_entries`` and ``money_entries`` partitioned by ``created_at``, one
partition a calendar month (UTC), named ``<table>_pYYYYMM``. :func:`ensure_partitions` (the daily
``create-partitions`` job) keeps ``MONTHS_AHEAD`` months ahead; :func:`detach_month` takes an ended month
out of both tables for the archive. On SQLite, or a schema made without the migrations, nothing is
partitioned and both say so.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from sqlalchemy import text

from server.domain.errors import Conflict, InvalidRequest, NotFound
from server.extensions import db
from server.models import LedgerTransaction, MoneyTransaction
from server.services.audit import audit
from server.services.unit_of_work import transactional

TABLES = ("ledger_entries", "money_entries")
MONTHS_AHEAD = 3
_MONTH = re.compile(r"(\d{4})-(\d{2})")


def _next(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def partitioned_tables() -> list[str]:
    """The entry tables that are partitioned in this database (none on SQLite)."""
    if db.session.get_bind().dialect.name != "postgresql":
        return []
    found = db.session.scalars(
        text(
            "SELECT c.relname FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
            "WHERE c.relnamespace = current_schema()::regnamespace"
        )
    )
    return sorted(set(found) & set(TABLES))


def attached_partitions(table: str) -> set[str]:
    """The partitions ``table`` has now."""
    found = db.session.scalars(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent "
            "WHERE p.relname = :table AND p.relnamespace = current_schema()::regnamespace"
        ),
        {"table": table},
    )
    return set(found)


@transactional
def ensure_partitions(day: date, months_ahead: int = MONTHS_AHEAD) -> dict:
    """Create the partitions of ``day``'s month and ``months_ahead`` months after it that are missing."""
    created = []
    for table in partitioned_tables():
        have = attached_partitions(table)
        month = day.replace(day=1)
        for _ in range(months_ahead + 1):
            name = f"{table}_p{month:%Y%m}"
            if name not in have:
                db.session.execute(
                    text(
                        f"CREATE TABLE {name} PARTITION OF {table} FOR VALUES "
                        f"FROM ('{month.isoformat()} 00:00:00+00') TO ('{_next(month).isoformat()} 00:00:00+00')"
                    )
                )
                created.append(name)
            month = _next(month)
    return {"partitioned": partitioned_tables(), "created": created}


@transactional
def detach_month(actor: str, month_text: str, today: date | None = None) -> dict:
    """Take an ended month's entries out of both ledgers, balances carried forward.

    Reconciliation checks every cached balance against the sum of its entries, so before detaching, one
    ``opening`` transaction per ledger posts, for each account, the sum of its entries in that month (it
    balances: each of the month's transactions did). The detached partitions become ordinary tables
    (``ledger_entries_pYYYYMM``) to dump to the archive and drop.
    """
    match = _MONTH.fullmatch(month_text or "")
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise InvalidRequest("Give the month as YYYY-MM.", field="month")
    month = date(int(match.group(1)), int(match.group(2)), 1)
    today = today or datetime.now(UTC).date()
    if _next(month) > today.replace(day=1):
        raise Conflict("Only a month that has ended can be detached.", month=month_text)
    tables = partitioned_tables()
    if not tables:
        raise Conflict("The entries are not partitioned in this database.")
    carried = {}
    for table in tables:
        name = f"{table}_p{month:%Y%m}"
        if name not in attached_partitions(table):
            raise NotFound("No partition of this month is attached.", month=month_text, table=table)
        memo = f"balances of {table} for {month_text}, archived"
        if table == "ledger_entries":
            transaction = LedgerTransaction(kind="opening", actor=actor, memo=memo)
        else:
            transaction = MoneyTransaction(
                kind="opening", source_key=f"archive:{month_text}", actor=actor, memo=memo, business_day=None
            )
        db.session.add(transaction)
        db.session.flush()
        carried[table] = db.session.execute(
            text(
                f"INSERT INTO {table} (transaction_id, account_id, amount) SELECT :txn, account_id, sum(amount) "
                f"FROM {name} GROUP BY account_id HAVING sum(amount) <> 0"
            ),
            {"txn": transaction.id},
        ).rowcount
        db.session.execute(text(f"ALTER TABLE {table} DETACH PARTITION {name}"))
    audit(actor, "ledger.archive_month", "ledger", month_text, accounts=carried)
    return {"month": month_text, "detached": [f"{table}_p{month:%Y%m}" for table in tables], "accounts": carried}
