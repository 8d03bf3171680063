"""Send the outbox to the server in order, each sale with the key it was stored with."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from pos_client.messages import server_error_text, text
from pos_client.money import yuan
from pos_client.outbox import Outbox, OutboxRefund, OutboxSale
from pos_client.server_client import ApiError, ServerUnreachable, TerminalClient

# Answers about the sale itself that will never change however often it is sent again: it leaves the
# queue (kept as "failed" for review). Anything else — 401/403 (the terminal's token, not the sale),
# 5xx, 429, 409 request_in_progress — stops the replay; it is tried again later, in order.
PERMANENT_STATUSES = {400, 404, 409, 422}
EXPIRED = "identification_expired"
SUPERSEDED = "card_read_superseded"
FALLBACK_KEY_SUFFIX = "-offline"

_send_lock = threading.Lock()


@dataclass
class SyncResult:
    """What one pass over the outbox did."""

    sent: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    remaining: int = 0
    unreachable: str | None = None
    rejected: list[OutboxSale] = field(default_factory=list)  # refused in this pass after the customer paid
    refunds_done: list[int] = field(default_factory=list)


def replay(
    client: TerminalClient,
    outbox: Outbox,
    *,
    until_seq: int | None = None,
    receipt_for: Callable[[OutboxSale, dict], dict | None] | None = None,
    last_receipt_key: str | None = None,
) -> SyncResult:
    """Send pending sales oldest first (up to ``until_seq``); stop at the first one the server does not answer.

    ``receipt_for(sale, response)`` may give the receipt to keep with a sent sale (stored in the same
    commit as the server's answer, as the last receipt under ``last_receipt_key``).

    An online sale whose identification expired before it reached the server (it was never recorded:
    a recorded one would have been answered from the idempotency store) is sent as the offline sale
    it captured, under a key derived from its own, so a crash while switching cannot record it twice.
    So is a one-request card sale sent again after its answer was lost (it has an ``error`` from the
    earlier attempt) whose chip read the server finds superseded: never recorded either, and the card
    was tapped elsewhere since, so the read is behind the counter; the server refused it without
    freezing the card (``card_read_superseded``). A sale refused so on its first send is not switched:
    nothing but a clone is read twice at once.

    A sale that redeems a voucher is sent only as the sale being committed (``until_seq``): vouchers are never
    redeemed offline, so a replay later (after the customer left) never sends one; the till withdraws it.
    """
    result = SyncResult()
    with _send_lock:
        for sale in outbox.pending():
            if until_seq is not None and sale.seq > until_seq:
                break
            if sale.seq != until_seq and redeems_voucher(sale.body):
                continue
            body, key = sale.body, sale.idempotency_key
            try:
                try:
                    response = client.record_sale(body, key)
                except ApiError as exc:
                    resent_superseded = exc.code == SUPERSEDED and sale.error is not None
                    if sale.fallback is None or not (exc.code == EXPIRED or resent_superseded):
                        raise
                    key = sale.idempotency_key + FALLBACK_KEY_SUFFIX
                    outbox.switch_to_fallback(sale.seq, key)
                    response = client.record_sale(sale.fallback, key)
            except ServerUnreachable as exc:
                outbox.note_error(sale.seq, f"unreachable: {exc.reason}")
                result.unreachable = exc.reason
                break
            except ApiError as exc:
                if exc.status in PERMANENT_STATUSES and exc.code != "request_in_progress":
                    # the sale being committed right now is refused while the cashier waits: nobody is charged
                    at_till = receipt_for is not None and sale.seq == until_seq
                    outbox.mark_failed(sale.seq, f"{exc.code}: {exc.message}", at_till=at_till)
                    result.failed.append(sale.seq)
                    if not at_till:
                        result.rejected.append(outbox.sale(sale.seq))
                    continue
                outbox.note_error(sale.seq, f"{exc.code}: {exc.message}")
                result.unreachable = f"{exc.status} {exc.code}"
                break
            receipt = receipt_for(sale, response) if receipt_for is not None else None
            outbox.mark_sent(sale.seq, response, receipt, last_receipt_key)
            result.sent.append(sale.seq)
        if result.unreachable is None and until_seq is None:
            _report_rejected(client, outbox)
            _finish_refunds(client, outbox, result)
    result.remaining = outbox.pending_count()
    return result


def redeems_voucher(body: dict) -> bool:
    """Whether a sale's request redeems a voucher (by its id or a scanned code)."""
    return bool(body.get("voucher_id") or body.get("voucher_code"))


def rejected_report(sale: OutboxSale) -> dict:
    """What the server keeps of a refused sale for an operator (POST /sales/rejected)."""
    code, _, message = (sale.error or "").partition(": ")
    figures = sale.figures
    return {
        "client_sale_id": sale.client_sale_id,
        "receipt_no": figures.get("receipt_no") or sale.body.get("receipt_no") or "",
        "amount_fen": sale.body["amount_fen"],
        "payable_fen": figures.get("payable_fen", sale.body["amount_fen"]),
        "payment_method": sale.body.get("payment_method", "cash"),
        "error_code": code[:40] or "refused",
        "error_message": message[:400],
        "occurred_at": sale.body.get("occurred_at") or sale.created_at.isoformat(),
        "request": {k: v for k, v in sale.body.items() if k not in ("identification_token", "card", "voucher_code")},
    }


def rejected_lines(sales: list[OutboxSale], lang: str = "zh") -> list[str]:
    """What the cashier reads about refused sales: how many and how much, then each receipt with its reason."""
    reports = [rejected_report(sale) for sale in sales]
    total = yuan(sum(report["payable_fen"] for report in reports))
    lines = [text("sales_rejected", lang, count=len(reports), amount=total)]
    for report in reports:
        reason = server_error_text(report["error_code"], report["error_message"], lang)
        amount = yuan(report["payable_fen"])
        lines.append(text("rejected_line", lang, receipt_no=report["receipt_no"], amount=amount, reason=reason))
    return lines


def _report_rejected(client: TerminalClient, outbox: Outbox) -> None:
    """Tell the server about refused sales the customer paid for; what does not go through is sent next time."""
    for sale in outbox.unreported_rejected():
        try:
            client.report_rejected(rejected_report(sale))
        except (ServerUnreachable, ApiError):
            return
        outbox.mark_reported(sale.seq)


def send_refund(client: TerminalClient, outbox: Outbox, refund: OutboxRefund) -> dict:
    """Send one stored refund with its own key; its answer (or refusal) is stored. ServerUnreachable: still pending."""
    try:
        response = client.refund(refund.sale_id, refund.body, refund.idempotency_key)
    except ApiError as exc:
        if exc.status in PERMANENT_STATUSES | {403, 429} and exc.code != "request_in_progress":
            outbox.refund_failed(refund.seq, f"{exc.code}: {exc.message}")
        raise
    outbox.refund_done(refund.seq, response)
    return response


def _finish_refunds(client: TerminalClient, outbox: Outbox, result: SyncResult) -> None:
    """Send refunds whose answer never arrived, with their keys: the server refunds each once."""
    for refund in outbox.pending_refunds():
        try:
            send_refund(client, outbox, refund)
        except ServerUnreachable:
            return
        except ApiError:
            continue
        result.refunds_done.append(refund.seq)
