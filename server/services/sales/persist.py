"""Persist steps: the receipt number and the sale row; the refund row."""

from __future__ import annotations

from sqlalchemy import bindparam, insert, update
from sqlalchemy.orm import make_transient_to_detached

from server.domain import payments
from server.domain.errors import InvalidRequest, ReceiptNumberTaken
from server.extensions import db
from server.hot_sql import HotStatement
from server.models import Refund, Sale, Terminal
from server.models.base import new_id
from server.observability.metrics import count_on_commit
from server.services import till_vouchers
from server.services.sales import attribution
from server.services.sales.context import RefundDraft, SaleDraft

_terminals = Terminal.__table__
_NEXT_RECEIPT_SEQ = HotStatement(
    update(_terminals)
    .where(_terminals.c.id == bindparam("terminal"))
    .values(receipt_seq=_terminals.c.receipt_seq + 1)
    .returning(_terminals.c.receipt_seq)
)
_RECEIPT_SEQ_AT_LEAST = HotStatement(  # a number the terminal gave (offline) is never handed out again by the server
    update(_terminals)
    .where(_terminals.c.id == bindparam("terminal"), _terminals.c.receipt_seq < bindparam("seq"))
    .values(receipt_seq=bindparam("seq"))
)


def ask_receipt_seq(draft: SaleDraft) -> None:
    """Ask now for the next number of the terminal's sequence, unless the terminal numbered the sale itself: sent
    ahead, it rides in the round trip of the member's read (``number_receipt`` reads the answer). A refusal
    before the sale is written rolls it back with the rest."""
    if draft.request.receipt_no is None:
        draft.receipt_seq = _NEXT_RECEIPT_SEQ.send({"terminal": draft.request.terminal.id})


def number_receipt(draft: SaleDraft) -> None:
    """The terminal's own receipt number (checked against its prefix and unique), or the next of its sequence."""
    terminal, number = draft.request.terminal, draft.request.receipt_no
    if number:
        draft.receipt_no = _terminal_receipt_no(terminal, number, draft.receipt_no_taken)
    else:
        draft.receipt_no = payments.receipt_no(_receipt_prefix(terminal), draft.receipt_seq.scalar())


def _receipt_prefix(terminal: Terminal) -> str:
    return terminal.receipt_prefix or terminal.code


def _terminal_receipt_no(terminal: Terminal, number: str, taken: bool) -> str:
    """Accept the receipt number a terminal printed (it numbers its sales itself, offline too); ``taken``: a sale
    holds it already (looked up with the terminal's earlier sales: ``resolve.refuse_repeated_client_sale``)."""
    seq = payments.receipt_seq_of(_receipt_prefix(terminal), number)
    if seq is None:
        raise InvalidRequest(
            "The receipt number is not one of this terminal's.", field="receipt_no", prefix=_receipt_prefix(terminal)
        )
    if taken:
        raise ReceiptNumberTaken(receipt_no=number)
    _RECEIPT_SEQ_AT_LEAST.defer({"terminal": terminal.id, "seq": seq})
    return number


_sales = Sale.__table__
_INSERT_SALE = HotStatement(insert(_sales))  # built once: no unit of work, no flush, no identity map


def write_sale(draft: SaleDraft) -> None:
    """The ``Sale`` row as priced, inserted at once (one Core statement) so the posting steps can refer to it.

    ``draft.sale`` is the ``Sale`` holding the same values, put in the session as a row already loaded:
    the session never inserts it again, tracks a later change to it like any loaded row, and hands out
    this very object to a later read of the sale in the same transaction.
    """
    request, who, priced, buyer = draft.request, draft.who, draft.priced, draft.buyer
    values = {
        "id": new_id("sal"),
        "merchant_id": request.terminal.merchant_id,
        "terminal_id": request.terminal.id,
        "member_id": buyer.member_id,
        "card_id": buyer.card_id,
        "level_id": who.level.id,
        "method": buyer.method,
        "receipt_no": draft.receipt_no,
        "client_sale_id": request.client_sale_id,
        "amount_fen": priced.amount_fen,
        "discount_bp": who.discount_bp,
        "discount_fen": priced.discount_fen,
        "redeem_points": priced.redeem_points,
        "redeem_value_fen": priced.redeem_value_fen,
        "payable_fen": priced.payable_fen,
        "voucher_fen": priced.voucher_fen,
        "points_earned": priced.points_to_earn,
        "refunded_fen": 0,
        "points_reversed": 0,
        "points_restored": 0,
        "offline": request.offline,
        "payment_method": request.payment_method,
        "occurred_at": draft.occurred_at,
        "created_at": draft.now,
        **attribution.sale_columns(draft),
    }
    _INSERT_SALE.defer(values)  # sent with the next statement needing an answer (server/hot_sql.py)
    count_on_commit(db.session, "sale", priced.amount_fen)
    draft.sale = sale = Sale(**values)
    make_transient_to_detached(sale)  # the row exists: the session holds the object as loaded, with nothing
    db.session.add(sale)  # to insert, so a later read of this sale in the transaction gets this very object


def redeem_voucher(draft: SaleDraft) -> None:
    """Consume the sale's voucher (guarded UPDATE, exactly once) and link it to the sale."""
    if draft.voucher is not None:
        till_vouchers.redeem_in_sale(draft.voucher, draft.sale, draft.now)


def write_refund(draft: RefundDraft) -> None:
    """The ``Refund`` row; the shortfall of earned points the member no longer holds is recorded on it."""
    request, sale, split = draft.request, draft.sale, draft.split
    draft.refund = refund = Refund(
        id=new_id("rfd"),
        sale_id=sale.id,
        merchant_id=sale.merchant_id,
        actor=request.actor,
        amount_fen=split.amount_fen,
        points_reversed=draft.recoverable,
        points_restored=split.points_restored,
        points_unrecovered=split.points_reversed - draft.recoverable,
        reason=request.reason,
        payment_method=request.payment_method,
        authorised_by=draft.authorised_by,
        created_at=draft.now,
    )
    db.session.add(refund)
    count_on_commit(db.session, "refund", split.amount_fen)
    db.session.flush()
