"""Posting to the points ledger: entries appended, cached balances moved under a non-negative guard."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import insert, select, update

from server.domain.errors import InsufficientPoints
from server.domain.ledger import ACCOUNTS_ALLOWED_NEGATIVE, Posting
from server.extensions import db
from server.models import LedgerAccount, LedgerEntry, LedgerTransaction


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
    balances = {}
    for acct_id in sorted(deltas):  # fixed lock order: no deadlocks between concurrent postings
        delta = deltas[acct_id]
        balances[acct_id] = db.session.execute(
            update(LedgerAccount)
            .where(LedgerAccount.id == acct_id)
            .where(LedgerAccount.allow_negative | (LedgerAccount.balance + delta >= 0))
            .values(balance=LedgerAccount.balance + delta)
            .returning(LedgerAccount.balance)
            .execution_options(synchronize_session=False)
        ).scalar()
        if balances[acct_id] is None:
            raise InsufficientPoints(requested=-delta)
    txn_id = db.session.execute(
        insert(LedgerTransaction)
        .values(kind=kind, actor=actor, sale_id=sale_id, refund_id=refund_id, memo=memo)
        .returning(LedgerTransaction.id)
    ).scalar_one()
    if postings:
        db.session.execute(
            insert(LedgerEntry),
            [{"transaction_id": txn_id, "account_id": p.account_id, "amount": p.amount} for p in postings],
        )
    return balances
