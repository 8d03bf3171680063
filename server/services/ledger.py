"""Posting to the points ledger: entries appended, cached balances moved under a non-negative guard."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import bindparam, insert, select, update

from server.domain.errors import InsufficientPoints
from server.domain.ledger import ACCOUNTS_ALLOWED_NEGATIVE, Posting
from server.extensions import db
from server.models import LedgerAccount, LedgerEntry, LedgerTransaction

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
_NEW_TRANSACTION = insert(LedgerTransaction.__table__).returning(LedgerTransaction.__table__.c.id)
_NEW_ENTRY = insert(LedgerEntry.__table__)


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
    txn_id = db.session.execute(
        _NEW_TRANSACTION, {"kind": kind, "actor": actor, "sale_id": sale_id, "refund_id": refund_id, "memo": memo}
    ).scalar_one()
    if postings:
        db.session.execute(
            _NEW_ENTRY, [{"transaction_id": txn_id, "account_id": p.account_id, "amount": p.amount} for p in postings]
        )
    return balances
