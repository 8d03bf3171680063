"""Posting to the points ledger: entries appended, cached balances moved under a non-negative guard."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import BigInteger, bindparam, func, insert, select, true, update
from sqlalchemy.dialects import postgresql

from server.domain.errors import InsufficientPoints
from server.domain.ledger import ACCOUNTS_ALLOWED_NEGATIVE, Posting
from server.extensions import db
from server.models import LedgerAccount, LedgerEntry, LedgerTransaction
from server.models.base import utcnow

# Built once and run as Core statements: a sale posts on every checkout, so no per-call statement
# construction and no ORM bulk machinery (the rows are never loaded as objects here).
_accounts = LedgerAccount.__table__
_MOVE_BALANCE = (
    update(_accounts)
    .where(_accounts.c.id == bindparam("account_id"))
    .where(_accounts.c.allow_negative | (_accounts.c.balance + bindparam("delta") >= 0))
    .values(balance=_accounts.c.balance + bindparam("delta"))
    .returning(_accounts.c.balance)
)
_transactions, _entries = LedgerTransaction.__table__, LedgerEntry.__table__
_NEW_TRANSACTION = insert(_transactions).returning(_transactions.c.id)
_NEW_ENTRY = insert(_entries)


def _transaction_with_entries():
    """PostgreSQL: the transaction and its entries in one statement (one round trip instead of two).

    ``WITH txn AS (INSERT INTO ledger_transactions … RETURNING id) INSERT INTO ledger_entries … SELECT txn.id,
    line.* FROM txn JOIN unnest(:accounts, :amounts) AS line ON true``: the same rows as the two statements
    SQLite runs (a transaction without postings still gets its row: a data-modifying CTE always runs).
    """
    transaction = (
        insert(_transactions)
        .values(
            kind=bindparam("kind"),
            sale_id=bindparam("sale_id"),
            refund_id=bindparam("refund_id"),
            actor=bindparam("actor"),
            memo=bindparam("memo"),
            created_at=bindparam("created_at", type_=_transactions.c.created_at.type),
        )
        .returning(_transactions.c.id)
        .cte("txn")
    )
    lines = (
        func.unnest(
            bindparam("accounts", type_=postgresql.ARRAY(BigInteger)),
            bindparam("amounts", type_=postgresql.ARRAY(BigInteger)),
        )
        .table_valued("account_id", "amount")
        .render_derived(name="line")
    )
    entries = select(transaction.c.id, lines.c.account_id, lines.c.amount).select_from(transaction).join(lines, true())
    return (
        insert(_entries)
        .from_select(["transaction_id", "account_id", "amount"], entries)
        .add_cte(transaction, nest_here=True)
    )


_NEW_TRANSACTION_WITH_ENTRIES = _transaction_with_entries()


def open_account(kind: str, owner_id: str) -> int:
    """Create a points account for ``owner_id`` and return its id."""
    account = LedgerAccount(kind=kind, owner_id=owner_id, balance=0, allow_negative=kind in ACCOUNTS_ALLOWED_NEGATIVE)
    db.session.add(account)
    db.session.flush()
    return account.id


def account_id(kind: str, owner_id: str) -> int:
    """The id of the account of ``kind`` owned by ``owner_id``."""
    return db.session.execute(
        select(LedgerAccount.id).where(LedgerAccount.kind == kind, LedgerAccount.owner_id == owner_id)
    ).scalar_one()


def post(
    kind: str,
    postings: list[Posting],
    actor: str,
    *,
    sale_id: str | None = None,
    refund_id: str | None = None,
    memo: str = "",
) -> dict[int, int]:
    """Append one balanced transaction and move the cached balances; return the new balances.

    The balance update carries the guard ``allow_negative OR balance + delta >= 0``; if it matches
    no row the account would go negative and InsufficientPoints is raised (the caller's transaction
    rolls back). Under concurrency the row lock makes the guard exact.
    """
    deltas: dict[int, int] = defaultdict(int)
    for posting in postings:
        deltas[posting.account_id] += posting.amount
    db.session.flush()  # rows the caller added (the sale, the refund) exist before entries refer to them
    balances = {}
    for acct_id in sorted(deltas):  # fixed lock order: no deadlocks between concurrent postings
        delta = deltas[acct_id]
        balances[acct_id] = db.session.execute(_MOVE_BALANCE, {"account_id": acct_id, "delta": delta}).scalar()
        if balances[acct_id] is None:
            raise InsufficientPoints(requested=-delta)
    transaction = {"kind": kind, "actor": actor, "sale_id": sale_id, "refund_id": refund_id, "memo": memo}
    if db.session.get_bind().dialect.name == "postgresql":
        accounts, amounts = [p.account_id for p in postings], [p.amount for p in postings]
        db.session.execute(
            _NEW_TRANSACTION_WITH_ENTRIES,
            {**transaction, "created_at": utcnow(), "accounts": accounts, "amounts": amounts},
        )
        return balances
    txn_id = db.session.execute(_NEW_TRANSACTION, transaction).scalar_one()
    if postings:
        db.session.execute(
            _NEW_ENTRY, [{"transaction_id": txn_id, "account_id": p.account_id, "amount": p.amount} for p in postings]
        )
    return balances
