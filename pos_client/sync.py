"""Send the outbox to the server in order, each sale with the key it was stored with."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from pos_client.outbox import Outbox, OutboxSale
from pos_client.server_client import ApiError, ServerUnreachable, TerminalClient

# Answers about the sale itself that will never change however often it is sent again: it leaves the
# queue (kept as "failed" for review). Anything else — 401/403 (the terminal's token, not the sale),
# 5xx, 429, 409 request_in_progress — stops the replay; it is tried again later, in order.
PERMANENT_STATUSES = {400, 404, 409, 422}
EXPIRED = "identification_expired"
FALLBACK_KEY_SUFFIX = "-offline"

_send_lock = threading.Lock()


@dataclass
class SyncResult:
    """What one pass over the outbox did."""

    sent: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    remaining: int = 0
    unreachable: str | None = None


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
    """
    result = SyncResult()
    with _send_lock:
        for sale in outbox.pending():
            if until_seq is not None and sale.seq > until_seq:
                break
            body, key = sale.body, sale.idempotency_key
            try:
                try:
                    response = client.record_sale(body, key)
                except ApiError as exc:
                    if exc.code != EXPIRED or sale.fallback is None:
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
                    outbox.mark_failed(sale.seq, f"{exc.code}: {exc.message}")
                    result.failed.append(sale.seq)
                    continue
                outbox.note_error(sale.seq, f"{exc.code}: {exc.message}")
                result.unreachable = f"{exc.status} {exc.code}"
                break
            receipt = receipt_for(sale, response) if receipt_for is not None else None
            outbox.mark_sent(sale.seq, response, receipt, last_receipt_key)
            result.sent.append(sale.seq)
    result.remaining = outbox.pending_count()
    return result
