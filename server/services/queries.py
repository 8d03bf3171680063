"""Read-only queries behind list and detail endpoints (no transaction of their own to commit)."""

from __future__ import annotations

from contextlib import suppress

from sqlalchemy import Select, func, or_, select

from server.domain.errors import DomainError, InvalidRequest, NotFound
from server.domain.identifiers import normalize_mobile
from server.extensions import db
from server.models import (
    AuditLog,
    Card,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    Level,
    Member,
    Merchant,
    Refund,
    RejectedSale,
    Sale,
    SaleVoucher,
    StaffUser,
    Terminal,
)
from server.security.pii import decrypt_phone, phone_lookup_hash, phone_suffix_hash


def paginate(query: Select, pagination) -> list:
    """Run ``query`` for one page and tell flask-smorest the total count."""
    counted = select(func.count()).select_from(query.order_by(None).subquery())
    pagination.item_count = db.session.scalar(counted)
    offset = (pagination.page - 1) * pagination.page_size
    return list(db.session.execute(query.offset(offset).limit(pagination.page_size)))


_UNREAD = object()


def sale_vouchers(sale_ids: list[str]) -> dict[str, dict]:
    """The vouchers these sales used (one query), as a sale shows them: ``{id, name, kind, code_last4}``."""
    if not sale_ids:
        return {}
    rows = db.session.scalars(select(SaleVoucher).where(SaleVoucher.sale_id.in_(sale_ids)))
    return {
        row.sale_id: {"id": row.code_id, "name": row.name, "kind": row.kind, "code_last4": row.code_last4}
        for row in rows
    }


def sale_detail(sale: Sale, level: Level | None = None, voucher=_UNREAD) -> dict:
    """A stored sale as a dict for SaleDetailSchema (``voucher``: its voucher ref when the caller read it)."""
    level = level or sale.level
    if voucher is _UNREAD:
        voucher = sale_vouchers([sale.id]).get(sale.id)
    names = (
        "id",
        "receipt_no",
        "merchant_id",
        "terminal_id",
        "member_id",
        "method",
        "client_sale_id",
        "amount_fen",
        "discount_bp",
        "discount_fen",
        "redeem_points",
        "redeem_value_fen",
        "payable_fen",
        "voucher_fen",
        "points_earned",
        "refunded_fen",
        "points_reversed",
        "points_restored",
        "offline",
        "payment_method",
        "occurred_at",
        "created_at",
    )
    level_ref = {"code": level.code, "name": level.name}
    refundable = sale.payable_fen - sale.refunded_fen
    return {
        **{name: getattr(sale, name) for name in names},
        "level": level_ref,
        "refundable_fen": refundable,
        "voucher": voucher,
    }


def list_sales(filters: dict, pagination) -> list[dict]:
    """Sales matching ``filters`` (exact ids, receipt number, time range), newest first."""
    query = select(Sale, Level).join(Level, Level.id == Sale.level_id)
    if filters.get("receipt_no"):  # a number printed before numbers were alliance-wide still finds its sale
        number = filters["receipt_no"]
        query = query.where((Sale.receipt_no == number) | (Sale.legacy_receipt_no == number))
    for name in ("merchant_id", "member_id", "terminal_id"):
        if filters.get(name):
            query = query.where(getattr(Sale, name) == filters[name])
    if filters.get("occurred_from"):
        query = query.where(Sale.occurred_at >= filters["occurred_from"])
    if filters.get("occurred_to"):
        query = query.where(Sale.occurred_at < filters["occurred_to"])
    rows = list(paginate(query.order_by(Sale.created_at.desc(), Sale.id), pagination))
    vouchers = sale_vouchers([sale.id for sale, _level in rows])  # one query for the page
    return [sale_detail(sale, level, vouchers.get(sale.id)) for sale, level in rows]


def _page_of_objects(query: Select, pagination) -> list:
    """One page of a single-entity query, as objects."""
    return [row[0] for row in paginate(query, pagination)]


def _where_equal(query: Select, model, filters: dict, names: tuple[str, ...]) -> Select:
    for name in names:
        if filters.get(name) is not None:
            query = query.where(getattr(model, name) == filters[name])
    return query


def list_merchants(filters: dict, pagination) -> list[Merchant]:
    """Merchants by id, trade, region, status and a case-insensitive name substring (``q``), oldest first."""
    query = _where_equal(
        select(Merchant), Merchant, filters, ("id", "trade", "region", "region_code", "agent_id", "status")
    )
    if filters.get("q"):
        query = query.where(func.lower(Merchant.name).contains(filters["q"].lower(), autoescape=True))
    return _page_of_objects(query.order_by(Merchant.created_at, Merchant.id), pagination)


def list_terminals(merchant_id: str, pagination) -> list[Terminal]:
    """A merchant's terminals in the order they were registered."""
    query = select(Terminal).where(Terminal.merchant_id == merchant_id)
    return _page_of_objects(query.order_by(Terminal.created_at, Terminal.id), pagination)


def list_levels(pagination) -> list[Level]:
    """All levels, lowest rank first."""
    return _page_of_objects(select(Level).order_by(Level.rank), pagination)


def _level_brief(level: Level) -> dict:
    return {"id": level.id, "code": level.code, "name": level.name}


def member_summary(member: Member, level: Level) -> dict:
    """A member as operator lists show it: the phone masked only."""
    names = ("id", "display_name", "status", "level_since", "recruited_by_merchant_id", "created_at")
    return {
        **{name: getattr(member, name) for name in names},
        "masked_phone": member.phone_masked,
        "level": _level_brief(level),
    }


PHONE_ENDING_CANDIDATES = 500  # members sharing a last-four hash decrypted at most per search


def ids_with_phone_ending(digits: str) -> list[str]:
    """Members whose phone ends with ``digits`` (4 to 11 of them): the last-four hash narrows the rows, and
    only those are decrypted and compared; no phone digits are stored in clear."""
    if not (digits.isdigit() and 4 <= len(digits) <= 11):
        raise InvalidRequest("Type at least the last four digits of the phone number.", field="phone_ending")
    rows = db.session.execute(
        select(Member.id, Member.phone_ciphertext)
        .where(Member.phone_suffix_hash == phone_suffix_hash(digits))
        .limit(PHONE_ENDING_CANDIDATES)
    ).all()
    return [member_id for member_id, blob in rows if decrypt_phone(blob).endswith(digits)]


def _digits_match(digits: str):
    """The condition for members found by typed digits: a card number, a whole phone or a phone's ending."""
    conditions = [Member.id.in_(select(Card.member_id).where(Card.card_no == digits))]
    if len(digits) == 11:
        with suppress(DomainError):
            conditions.append(Member.phone_hash == phone_lookup_hash(normalize_mobile(digits)))
    if 4 <= len(digits) <= 11:
        conditions.append(Member.id.in_(ids_with_phone_ending(digits)))
    return or_(*conditions)


def list_members(filters: dict, pagination) -> list[dict]:
    """Members by exact phone (keyed hash), phone ending (4+ digits), name, card number, level and status,
    newest first; ``number`` finds typed digits as a card number, a phone or a phone's ending."""
    query = select(Member, Level).join(Level, Level.id == Member.level_id)
    if filters.get("phone"):
        query = query.where(Member.phone_hash == phone_lookup_hash(normalize_mobile(filters["phone"])))
    if filters.get("phone_ending"):
        query = query.where(Member.id.in_(ids_with_phone_ending(filters["phone_ending"])))
    if filters.get("number"):
        query = query.where(_digits_match(filters["number"]))
    if filters.get("name"):
        pattern = "%" + filters["name"].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(Member.display_name.ilike(pattern, escape="\\"))
    if filters.get("card_no"):
        query = query.where(Member.id.in_(select(Card.member_id).where(Card.card_no == filters["card_no"])))
    if filters.get("level"):
        query = query.where(Level.code == filters["level"])
    if filters.get("status"):
        query = query.where(Member.status == filters["status"])
    rows = paginate(query.order_by(Member.created_at.desc(), Member.id), pagination)
    return [member_summary(member, level) for member, level in rows]


def member_detail(member: Member) -> dict:
    """A member with level, points balance and cards (operators only)."""
    level = db.session.get(Level, member.level_id)
    balance = db.session.get(LedgerAccount, member.points_account_id).balance
    cards = db.session.scalars(select(Card).where(Card.member_id == member.id).order_by(Card.card_no))
    return {**member_summary(member, level), "points_balance": balance, "cards": list(cards)}


def sale_refunds(sale_id: str) -> list[Refund]:
    """The refunds of a sale, oldest first."""
    return list(db.session.scalars(select(Refund).where(Refund.sale_id == sale_id).order_by(Refund.created_at)))


def list_audit_entries(filters: dict, pagination) -> list[AuditLog]:
    """Audit entries, newest first, by ``actor``, ``action`` prefix and ``object_id`` (each optional)."""
    query = select(AuditLog)
    if filters.get("actor"):
        query = query.where(AuditLog.actor == filters["actor"])
    if filters.get("action"):
        query = query.where(AuditLog.action.startswith(filters["action"], autoescape=True))
    if filters.get("object_id"):
        query = query.where(AuditLog.object_id == filters["object_id"])
    return [row[0] for row in paginate(query.order_by(AuditLog.id.desc()), pagination)]


def list_cards(filters: dict, pagination) -> list[Card]:
    """Cards by status, kind, card number and member, in card-number order."""
    query = _where_equal(select(Card), Card, filters, ("status", "kind", "card_no", "member_id"))
    return _page_of_objects(query.order_by(Card.card_no), pagination)


def get_account(account_id: int) -> LedgerAccount:
    """A points account by id."""
    account = db.session.get(LedgerAccount, account_id)
    if account is None:
        raise NotFound("No such account.", account_id=account_id)
    return account


def list_accounts(filters: dict, pagination) -> list[LedgerAccount]:
    """Points accounts by kind and owner, in the order they were opened."""
    query = _where_equal(select(LedgerAccount), LedgerAccount, filters, ("kind", "owner_id"))
    return _page_of_objects(query.order_by(LedgerAccount.id), pagination)


def account_entries(account_id: int, pagination) -> list[dict]:
    """The entries of one account with their transactions, newest first."""
    query = (
        select(LedgerEntry, LedgerTransaction)
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .where(LedgerEntry.account_id == account_id)
        .order_by(LedgerEntry.id.desc())
    )
    return [
        {
            "id": entry.id,
            "transaction_id": txn.id,
            "account_id": entry.account_id,
            "amount": entry.amount,
            "kind": txn.kind,
            "sale_id": txn.sale_id,
            "refund_id": txn.refund_id,
            "actor": txn.actor,
            "memo": txn.memo,
            "created_at": txn.created_at,
        }
        for entry, txn in paginate(query, pagination)
    ]


def list_transactions(filters: dict, pagination) -> list[dict]:
    """Ledger transactions by kind and sale, newest first, each with its entries."""
    query = _where_equal(select(LedgerTransaction), LedgerTransaction, filters, ("kind", "sale_id"))
    transactions = _page_of_objects(query.order_by(LedgerTransaction.id.desc()), pagination)
    entries: dict[int, list[dict]] = {txn.id: [] for txn in transactions}
    rows = db.session.execute(
        select(LedgerEntry, LedgerAccount.kind, LedgerAccount.owner_id)
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .where(LedgerEntry.transaction_id.in_(list(entries)))
        .order_by(LedgerEntry.id)
    )
    for entry, kind, owner_id in rows:
        entries[entry.transaction_id].append(
            {
                "id": entry.id,
                "account_id": entry.account_id,
                "account_kind": kind,
                "owner_id": owner_id,
                "amount": entry.amount,
            }
        )
    names = ("id", "kind", "sale_id", "refund_id", "actor", "memo", "created_at")
    return [{**{name: getattr(txn, name) for name in names}, "entries": entries[txn.id]} for txn in transactions]


def get_staff_user(user_id: str) -> StaffUser:
    """A staff user by id."""
    user = db.session.get(StaffUser, user_id)
    if user is None:
        raise NotFound("No such staff user.", user_id=user_id)
    return user


def list_staff(filters: dict, pagination) -> list[StaffUser]:
    """Staff users by role and merchant, in the order they were created."""
    query = _where_equal(select(StaffUser), StaffUser, filters, ("role", "merchant_id"))
    return _page_of_objects(query.order_by(StaffUser.created_at, StaffUser.id), pagination)


def list_rejected_sales(filters: dict, pagination) -> list:
    """Sales terminals reported as refused by the server, newest first (open ones are the operator's to do)."""
    query = _where_equal(select(RejectedSale), RejectedSale, filters, ("merchant_id", "terminal_id", "status"))
    return _page_of_objects(query.order_by(RejectedSale.created_at.desc(), RejectedSale.id), pagination)


def member_sales_with_shops(member_id: str, limit: int = 20) -> list[tuple[Sale, str]]:
    """The member's newest sales, each with the name of the shop it was made at."""
    return db.session.execute(
        select(Sale, Merchant.name)
        .join(Merchant, Merchant.id == Sale.merchant_id)
        .where(Sale.member_id == member_id)
        .order_by(Sale.occurred_at.desc())
        .limit(limit)
    ).all()


def receipt_numbers(sale_ids) -> dict[str, str]:
    """Sale id → receipt number for the given sales (ids that are None are skipped)."""
    wanted = {sale_id for sale_id in sale_ids if sale_id}
    if not wanted:
        return {}
    return dict(db.session.execute(select(Sale.id, Sale.receipt_no).where(Sale.id.in_(wanted))).all())


def card_histories(card_ids: list[str], per_card: int = 20) -> dict[str, list[AuditLog]]:
    """Each card's audit entries, newest first, at most ``per_card`` a card."""
    histories: dict[str, list[AuditLog]] = {card_id: [] for card_id in card_ids}
    if not card_ids:
        return histories
    entries = db.session.scalars(
        select(AuditLog)
        .where(AuditLog.object_type == "card", AuditLog.object_id.in_(card_ids))
        .order_by(AuditLog.id.desc())
        .limit(per_card * len(card_ids))
    )
    for entry in entries:
        if len(histories[entry.object_id]) < per_card:
            histories[entry.object_id].append(entry)
    return histories
