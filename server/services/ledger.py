"""Posting to the points ledger: entries appended, cached balances moved under a non-negative guard."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import bindparam, insert, select, text, update

from server.domain.errors import InsufficientPoints
from server.domain.ledger import ACCOUNTS_ALLOWED_NEGATIVE, Posting
from server.extensions import db
from server.hot_sql import HotStatement, Pending
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


# PostgreSQL: the whole posting in one statement (one round trip instead of one per account plus one).
# ``locked`` takes the accounts' row locks in id order (LockRows runs above the sort), as the statement per
# account did: no deadlock between concurrent postings. ``moved`` applies each delta under the same guard;
# an account it leaves out would have gone negative: fewer rows back than accounts raise InsufficientPoints
# and the caller's transaction rolls back, the transaction and entries inserted with it included.
_POST_IN_ONE_STATEMENT = HotStatement(
    text(
        """
    WITH locked AS MATERIALIZED (
        SELECT id FROM ledger_accounts WHERE id = ANY(CAST(:moved_accounts AS BIGINT[])) ORDER BY id FOR UPDATE
    ),
    moved AS (
        UPDATE ledger_accounts SET balance = ledger_accounts.balance + move.delta
        FROM unnest(CAST(:moved_accounts AS BIGINT[]), CAST(:deltas AS BIGINT[])) AS move (account_id, delta), locked
        WHERE ledger_accounts.id = move.account_id AND locked.id = move.account_id
          AND (ledger_accounts.allow_negative OR ledger_accounts.balance + move.delta >= 0)
        RETURNING ledger_accounts.id, ledger_accounts.balance
    ),
    txn AS (
        INSERT INTO ledger_transactions (kind, sale_id, refund_id, actor, memo, created_at)
        VALUES (:kind, :sale_id, :refund_id, :actor, :memo, :created_at)
        RETURNING id
    ),
    entries AS (
        INSERT INTO ledger_entries (transaction_id, account_id, amount)
        SELECT txn.id, line.account_id, line.amount
        FROM txn, unnest(CAST(:accounts AS BIGINT[]), CAST(:amounts AS BIGINT[])) AS line (account_id, amount)
    )
    SELECT id, balance FROM moved
    """
    ).bindparams(bindparam("created_at", type_=_transactions.c.created_at.type))
)


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


def post(kind: str, postings: list[Posting], actor: str, **references: str | None) -> dict[int, int]:
    """Append one balanced transaction and move the cached balances; return the new balances.

    ``references``: the ``sale_id``, ``refund_id`` or ``memo`` of ``post_ahead``, which this is with its answer
    read at once. The balance update carries the guard ``allow_negative OR balance + delta >= 0``; if it matches
    no row the account would go negative and InsufficientPoints is raised (the caller's transaction rolls
    back). Under concurrency the row lock makes the guard exact.
    """
    return post_ahead(kind, postings, actor, **references).balances()


@dataclass
class Posted:
    """A posting sent ahead (PostgreSQL: its statement queued, server/hot_sql.py); ``balances()`` reads its answer."""

    deltas: dict[int, int]
    pending: Pending | None = None
    moved: dict[int, int] | None = None  # the balances, once known

    def balances(self) -> dict[int, int]:
        """The new balances; InsufficientPoints if an account would have gone negative."""
        if self.moved is None:
            self.moved = dict(self.pending.rows())
            for account, delta in self.deltas.items():
                if account not in self.moved:
                    raise InsufficientPoints(requested=-delta)
        return self.moved


def post_ahead(
    kind: str,
    postings: list[Posting],
    actor: str,
    *,
    sale_id: str | None = None,
    refund_id: str | None = None,
    memo: str = "",
) -> Posted:
    """``post``, its answer read later (``Posted.balances``): on PostgreSQL the one statement is sent ahead, so
    statements sent after it ride in its round trip and run after its row locks are taken."""
    deltas: dict[int, int] = defaultdict(int)
    for posting in postings:
        deltas[posting.account_id] += posting.amount
    db.session.flush()  # rows the caller added (the sale, the refund) exist before entries refer to them
    transaction = {"kind": kind, "actor": actor, "sale_id": sale_id, "refund_id": refund_id, "memo": memo}
    if db.session.get_bind().dialect.name == "postgresql":
        return Posted(dict(deltas), pending=_post_in_one_statement(postings, deltas, transaction))
    balances = {}
    for acct_id in sorted(deltas):  # fixed lock order: no deadlocks between concurrent postings
        delta = deltas[acct_id]
        balances[acct_id] = db.session.execute(_MOVE_BALANCE, {"account_id": acct_id, "delta": delta}).scalar()
        if balances[acct_id] is None:
            raise InsufficientPoints(requested=-delta)
    txn_id = db.session.execute(_NEW_TRANSACTION, transaction).scalar_one()
    if postings:
        db.session.execute(
            _NEW_ENTRY, [{"transaction_id": txn_id, "account_id": p.account_id, "amount": p.amount} for p in postings]
        )
    return Posted(dict(deltas), moved=balances)


def _post_in_one_statement(postings: list[Posting], deltas: dict[int, int], transaction: dict) -> Pending:
    moved_accounts = sorted(deltas)
    return _POST_IN_ONE_STATEMENT.send(
        {
            **transaction,
            "created_at": utcnow(),
            "moved_accounts": moved_accounts,
            "deltas": [deltas[account] for account in moved_accounts],
            "accounts": [p.account_id for p in postings],
            "amounts": [p.amount for p in postings],
        },
    )
