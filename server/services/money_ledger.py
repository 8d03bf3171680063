"""Posting to the money ledger (fen): append-only entries, cached balances under guards, idempotent by source key.

Account kinds, owner kinds and sign conventions are in ``server.domain.money_ledger`` (imported below as
``money``). The public API (each call joins the caller's transaction; none commits):

``account(owner_kind, owner_id, kind) -> int``
    The id of the owner's account of that kind, created on first use (safe under concurrency: an insert
    that does nothing if another transaction created it first). ``money.check_account_kind`` refuses a
    kind the owner cannot have. Alliance accounts: ``account(money.ALLIANCE, money.ALLIANCE_OWNER_ID,
    money.BONUS_POOL)``; shortcut ``alliance_account(kind)``.

``post(kind, source_key, postings, actor, *, business_day=None, sale_id=None, refund_id=None, memo="",
reverses_id=None) -> Posted``
    Append one balanced transaction (``money.balanced`` checks the postings sum to zero) and move the
    cached balances, account rows locked in id order (no deadlocks). ``source_key`` is unique: posting the
    same key again changes nothing and answers the first transaction (``Posted.posted`` is False), so a
    retried or concurrent call never moves money twice — choose keys like ``"withdrawal:<id>:approve"``.
    A balance that would go negative on a guarded account raises ``InsufficientFunds`` (the caller's
    transaction rolls back). Build postings with ``money.Posting(account_id, fen)`` or
    ``money.transfer(source_id, target_id, fen)``.

``reverse(transaction_id, actor, memo="") -> Posted``
    A correction: a new transaction with every entry of the given one negated (kind ``correction``,
    ``reverses_id`` set, source key ``"reverse:<id>"``, so at most one correction per transaction).

``balance(owner_kind, owner_id, kind) -> int`` / ``balances(owner_kind, owner_id) -> dict[kind, int]``
    Cached balances (0 for an account not yet opened); ``balances`` gives every kind of that owner.

``withdrawable_fen(owner_kind, owner_id) -> int`` / ``has_debt(owner_kind, owner_id) -> bool``
    What the beneficiary (an agent or a promoter member) may withdraw now: its available balance, 0 while
    its debt account is below zero (a refund took back commission it had already been given).
    ``lock_beneficiary(owner_kind, owner_id)`` locks its available and debt rows (call it first in a
    withdrawal so two concurrent requests see each other's result).

``net_debt(owner_kind, owner_id, actor, source_key) -> int``
    Move available money into the debt account until the debt is cleared; returns the fen netted.

``post_select(kind, source_key, entries_sql, params, actor, *, business_day=None) -> Posted``
    The set-based form of ``post`` for a whole day at once: ``entries_sql`` is a SELECT of rows named
    ``account_id`` and ``amount`` (fen), at most one per account; they are inserted as the entries of one
    transaction, checked to sum to zero, and the balances moved by one UPDATE under the same guard.
    ``open_accounts_select(sql, params)`` opens the accounts a SELECT of ``owner_kind, owner_id, kind``
    rows names, in one statement.

``entries(account_ids, start=None, end=None) -> list[EntryLine]``
    The entries of those accounts with their transaction (kind, business day, sale, refund, memo, time),
    oldest first: for statements.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import bindparam, func, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from server.domain import money_ledger as money
from server.domain.errors import Conflict, InsufficientFunds
from server.extensions import db
from server.models import MoneyAccount, MoneyEntry, MoneyTransaction
from server.models.base import utcnow

_accounts = MoneyAccount.__table__
_transactions = MoneyTransaction.__table__
_MOVE_BALANCE = (
    update(_accounts)
    .where(_accounts.c.id == bindparam("account_id"))
    .where(_accounts.c.allow_negative | (_accounts.c.balance + bindparam("delta") >= 0))
    .values(balance=_accounts.c.balance + bindparam("delta"))
    .returning(_accounts.c.balance)
)
_OPEN_ACCOUNT = {
    name: dialect.insert(_accounts).on_conflict_do_nothing(index_elements=["owner_kind", "owner_id", "kind"])
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}
_CLAIM_TRANSACTION = {
    name: dialect.insert(_transactions)
    .on_conflict_do_nothing(index_elements=["source_key"])
    .returning(_transactions.c.id)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}
_NEW_ENTRY = insert(MoneyEntry.__table__)


@dataclass(frozen=True)
class Posted:
    """A transaction: its id, the new balances it left (empty if it was posted before) and whether it is new."""

    transaction_id: int
    balances: dict[int, int]
    posted: bool


@dataclass(frozen=True)
class EntryLine:
    """One entry with what its transaction says."""

    entry_id: int
    account_id: int
    amount: int
    transaction_id: int
    kind: str
    business_day: date | None
    sale_id: str | None
    refund_id: str | None
    memo: str
    created_at: datetime


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def _find(owner_kind: str, owner_id: str, kind: str) -> int | None:
    return db.session.scalar(
        select(MoneyAccount.id).where(
            MoneyAccount.owner_kind == owner_kind, MoneyAccount.owner_id == owner_id, MoneyAccount.kind == kind
        )
    )


def account(owner_kind: str, owner_id: str, kind: str) -> int:
    """The id of ``owner_id``'s account of ``kind``, opened now if it has none."""
    money.check_account_kind(owner_kind, kind)
    found = _find(owner_kind, owner_id, kind)
    if found is not None:
        return found
    db.session.execute(
        _OPEN_ACCOUNT[_dialect()],
        {
            "owner_kind": owner_kind,
            "owner_id": owner_id,
            "kind": kind,
            "balance": 0,
            "allow_negative": kind in money.ACCOUNTS_ALLOWED_NEGATIVE,
        },
    )
    return _find(owner_kind, owner_id, kind)


def alliance_account(kind: str) -> int:
    """The id of one of the alliance's own accounts (bonus pool, fee income, payouts in transit, …)."""
    return account(money.ALLIANCE, money.ALLIANCE_OWNER_ID, kind)


def post(
    kind: str,
    source_key: str,
    postings: list[money.Posting],
    actor: str,
    *,
    business_day: date | None = None,
    sale_id: str | None = None,
    refund_id: str | None = None,
    memo: str = "",
    reverses_id: int | None = None,
) -> Posted:
    """Append one balanced transaction once per ``source_key`` and move the cached balances."""
    postings = money.balanced(postings)
    db.session.flush()  # rows the caller added (a sale, a refund) exist before the transaction refers to them
    txn_id = db.session.execute(
        _CLAIM_TRANSACTION[_dialect()],
        {
            "kind": kind,
            "source_key": source_key,
            "business_day": business_day,
            "sale_id": sale_id,
            "refund_id": refund_id,
            "reverses_id": reverses_id,
            "actor": actor,
            "memo": memo[:200],
        },
    ).scalar()
    if txn_id is None:  # posted before (or by a concurrent transaction that committed first)
        return Posted(
            db.session.scalar(select(MoneyTransaction.id).where(MoneyTransaction.source_key == source_key)), {}, False
        )
    deltas: dict[int, int] = defaultdict(int)
    for posting in postings:
        deltas[posting.account_id] += posting.amount
    balances = {}
    for acct_id in sorted(deltas):  # fixed lock order: no deadlocks between concurrent postings
        delta = deltas[acct_id]
        balances[acct_id] = db.session.execute(_MOVE_BALANCE, {"account_id": acct_id, "delta": delta}).scalar()
        if balances[acct_id] is None:
            raise InsufficientFunds(account_id=acct_id, requested_fen=-delta)
    if postings:
        db.session.execute(
            _NEW_ENTRY, [{"transaction_id": txn_id, "account_id": p.account_id, "amount": p.amount} for p in postings]
        )
    return Posted(txn_id, balances, True)


def open_accounts_select(accounts_sql: str, params: dict) -> None:
    """Open every account the SELECT names as (owner kind, owner id, kind) rows that is not open yet."""
    negative = ", ".join(f"'{kind}'" for kind in sorted(money.ACCOUNTS_ALLOWED_NEGATIVE))
    db.session.execute(
        text(
            "INSERT INTO money_accounts (owner_kind, owner_id, kind, balance, allow_negative, created_at) "
            f"SELECT o.owner_kind, o.owner_id, o.kind, 0, o.kind IN ({negative}), :opened_at "
            f"FROM ({accounts_sql}) AS o WHERE true "
            "ON CONFLICT (owner_kind, owner_id, kind) DO NOTHING"
        ).bindparams(bindparam("opened_at", type_=_accounts.c.created_at.type)),
        {**params, "opened_at": utcnow()},
    )


def post_select(
    kind: str,
    source_key: str,
    entries_sql: str,
    params: dict,
    actor: str,
    *,
    business_day: date | None = None,
    memo: str = "",
) -> Posted:
    """Append one transaction whose entries a SELECT of (account id, fen) gives, once per ``source_key``."""
    db.session.flush()
    txn_id = db.session.execute(
        _CLAIM_TRANSACTION[_dialect()],
        {
            "kind": kind,
            "source_key": source_key,
            "business_day": business_day,
            "sale_id": None,
            "refund_id": None,
            "reverses_id": None,
            "actor": actor,
            "memo": memo[:200],
        },
    ).scalar()
    if txn_id is None:
        return Posted(
            db.session.scalar(select(MoneyTransaction.id).where(MoneyTransaction.source_key == source_key)), {}, False
        )
    db.session.execute(
        text(
            "INSERT INTO money_entries (transaction_id, account_id, amount) "
            f"SELECT :txn, e.account_id, e.amount FROM ({entries_sql}) AS e WHERE e.amount <> 0"
        ),
        {**params, "txn": txn_id},
    )
    total = db.session.scalar(
        select(func.coalesce(func.sum(MoneyEntry.amount), 0)).where(MoneyEntry.transaction_id == txn_id)
    )
    if total != 0:
        raise money.UnbalancedTransaction(f"entries of {source_key} sum to {total}")
    moved = select(MoneyEntry.account_id).where(MoneyEntry.transaction_id == txn_id)
    if _dialect() == "postgresql":  # lock in id order, like ``post``: no deadlock with a concurrent posting
        db.session.execute(
            select(MoneyAccount.id).where(MoneyAccount.id.in_(moved)).order_by(MoneyAccount.id).with_for_update()
        )
    delta = (
        select(MoneyEntry.amount)
        .where(MoneyEntry.transaction_id == txn_id, MoneyEntry.account_id == _accounts.c.id)
        .scalar_subquery()
    )
    db.session.execute(
        update(_accounts).where(_accounts.c.id.in_(moved)).values(balance=_accounts.c.balance + delta),
        execution_options={"synchronize_session": False},
    )
    below = db.session.execute(
        select(MoneyAccount.id, MoneyAccount.balance).where(
            MoneyAccount.id.in_(moved), ~MoneyAccount.allow_negative, MoneyAccount.balance < 0
        )
    ).first()
    if below is not None:
        raise InsufficientFunds(account_id=below[0])
    return Posted(txn_id, {}, True)


def transaction_postings(transaction_id: int) -> list[money.Posting]:
    """The postings of one transaction, in entry order."""
    return [
        money.Posting(account_id, amount)
        for account_id, amount in db.session.execute(
            select(MoneyEntry.account_id, MoneyEntry.amount)
            .where(MoneyEntry.transaction_id == transaction_id)
            .order_by(MoneyEntry.id)
        )
    ]


def reverse(transaction_id: int, actor: str, memo: str = "") -> Posted:
    """Correct a transaction by a new one with the opposite entries (at most once per transaction)."""
    original = db.session.get(MoneyTransaction, transaction_id)
    if original is None:
        raise Conflict("No such money transaction.", transaction_id=transaction_id)
    return post(
        money.CORRECTION,
        f"reverse:{transaction_id}",
        money.reversing_postings(transaction_postings(transaction_id)),
        actor,
        business_day=original.business_day,
        sale_id=original.sale_id,
        refund_id=original.refund_id,
        memo=memo or f"reverses {original.kind} {transaction_id}",
        reverses_id=transaction_id,
    )


def balance(owner_kind: str, owner_id: str, kind: str) -> int:
    """The cached balance of an account (0 if it was never opened)."""
    return int(
        db.session.scalar(
            select(MoneyAccount.balance).where(
                MoneyAccount.owner_kind == owner_kind, MoneyAccount.owner_id == owner_id, MoneyAccount.kind == kind
            )
        )
        or 0
    )


def balances(owner_kind: str, owner_id: str) -> dict[str, int]:
    """Every account kind of the owner with its cached balance (0 for those not opened)."""
    found = dict.fromkeys(money.ACCOUNT_KINDS[owner_kind], 0)
    found.update(
        db.session.execute(
            select(MoneyAccount.kind, MoneyAccount.balance).where(
                MoneyAccount.owner_kind == owner_kind, MoneyAccount.owner_id == owner_id
            )
        ).all()
    )
    return found


def lock_beneficiary(owner_kind: str, owner_id: str) -> None:
    """Lock the beneficiary's available and debt accounts (opened if needed) until the transaction ends."""
    ids = sorted(account(owner_kind, owner_id, kind) for kind in (money.AVAILABLE, money.DEBT))
    db.session.execute(
        select(MoneyAccount.id).where(MoneyAccount.id.in_(ids)).order_by(MoneyAccount.id).with_for_update()
    )


def has_debt(owner_kind: str, owner_id: str) -> bool:
    """Whether the beneficiary owes commission taken back after it was available (withdrawal blocked)."""
    return balance(owner_kind, owner_id, money.DEBT) < 0


def withdrawable_fen(owner_kind: str, owner_id: str) -> int:
    """What the beneficiary may withdraw now: its available money, nothing while in debt."""
    return money.withdrawable(balance(owner_kind, owner_id, money.AVAILABLE), balance(owner_kind, owner_id, money.DEBT))


def net_debt(owner_kind: str, owner_id: str, actor: str, source_key: str, business_day: date | None = None) -> int:
    """Net the beneficiary's available money against its debt; returns the fen netted."""
    available, debt = account(owner_kind, owner_id, money.AVAILABLE), account(owner_kind, owner_id, money.DEBT)
    rows = dict(
        db.session.execute(
            select(MoneyAccount.id, MoneyAccount.balance)
            .where(MoneyAccount.id.in_(sorted((available, debt))))
            .order_by(MoneyAccount.id)
            .with_for_update()
        ).all()
    )
    postings = money.debt_netting_postings(available, debt, rows[available], rows[debt])
    if not postings:
        return 0
    post(money.DEBT_NETTED, source_key, postings, actor, business_day=business_day)
    return postings[1].amount


def entries(account_ids: list[int], start: datetime | None = None, end: datetime | None = None) -> list[EntryLine]:
    """The entries of ``account_ids`` recorded in ``[start, end)`` with their transactions, oldest first."""
    query = (
        select(
            MoneyEntry.id,
            MoneyEntry.account_id,
            MoneyEntry.amount,
            MoneyTransaction.id,
            MoneyTransaction.kind,
            MoneyTransaction.business_day,
            MoneyTransaction.sale_id,
            MoneyTransaction.refund_id,
            MoneyTransaction.memo,
            MoneyTransaction.created_at,
        )
        .join(MoneyTransaction, MoneyTransaction.id == MoneyEntry.transaction_id)
        .where(MoneyEntry.account_id.in_(account_ids))
        .order_by(MoneyTransaction.created_at, MoneyEntry.id)
    )
    if start is not None:
        query = query.where(MoneyTransaction.created_at >= start)
    if end is not None:
        query = query.where(MoneyTransaction.created_at < end)
    return [EntryLine(*row) for row in db.session.execute(query)]
