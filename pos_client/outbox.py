"""The terminal's durable local store: the sale outbox, refunds, the shift, the last receipt and cached server facts.

A sale is written here with its Idempotency-Key *before* it is sent, in its own committed transaction
(SQLite WAL with synchronous=FULL, so a commit survives power loss and ``kill -9``). Rows are sent in
the order they were written; a row is only marked sent once the server's answer is stored, so after a
crash the same request is sent again with the same key and the server answers with the stored result.
That mark alone is committed without waiting for the disk (synchronous=NORMAL for its commit): if power
fails before the next synced commit writes it out, the sale is pending again and is answered from the
server's store, as after any crash, so the wait for the disk is spent once per sale, before sending.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS sales (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    idempotency_key TEXT NOT NULL UNIQUE,
    client_sale_id TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL,
    fallback TEXT,
    offline INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'failed')),
    shift_no INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    receipt TEXT,
    response TEXT,
    error TEXT,
    sent_at TEXT
);
CREATE INDEX IF NOT EXISTS sales_state ON sales (state, seq);
CREATE TABLE IF NOT EXISTS refunds (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    idempotency_key TEXT NOT NULL UNIQUE,
    receipt_no TEXT NOT NULL,
    sale_id TEXT,
    amount_fen INTEGER,
    shift_no INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    response TEXT
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

# Columns added after the first release: an existing outbox file gets them when it is opened.
ADDED_COLUMNS = {
    "sales": {
        "reported_at": "TEXT",  # a refused sale was reported to the server for an operator
        "refused_at_till": "INTEGER NOT NULL DEFAULT 0",  # refused while the cashier waited: never charged
    },
    "refunds": {
        "body": "TEXT",  # the request as sent (the supervisor PIN is removed once the server answered)
        "state": "TEXT NOT NULL DEFAULT 'done'",  # pending (outcome unknown), done, failed
        "error": "TEXT",
        "sale": "TEXT",  # the sale as looked up before refunding
        "receipt": "TEXT",  # the refund slip
        "printed": "INTEGER NOT NULL DEFAULT 1",
    },
}
REFUND_PENDING, REFUND_DONE, REFUND_FAILED = "pending", "done", "failed"

PENDING, SENT, FAILED = "pending", "sent", "failed"


@dataclass(frozen=True)
class OutboxSale:
    """One sale in the outbox."""

    seq: int
    idempotency_key: str
    client_sale_id: str
    body: dict
    fallback: dict | None
    offline: bool
    state: str
    shift_no: int
    created_at: datetime
    receipt: dict | None
    response: dict | None
    error: str | None
    reported_at: str | None = None
    refused_at_till: bool = False

    @property
    def figures(self) -> dict:
        """The sale's money as the server recorded it once sent, else as the receipt printed it."""
        return (self.response or {}).get("sale") or self.receipt or {}


@dataclass(frozen=True)
class OutboxRefund:
    """One refund in the outbox: stored with its key before it is sent."""

    seq: int
    idempotency_key: str
    receipt_no: str
    sale_id: str
    body: dict
    state: str
    shift_no: int
    sale: dict | None
    response: dict | None
    receipt: dict | None
    printed: bool
    error: str | None


def _now() -> str:
    return datetime.now(UTC).isoformat()


class Outbox:
    """The SQLite file beside the configuration; safe to use from the UI thread and a sync thread."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA secure_delete=ON")  # a supervisor PIN removed from a row leaves no copy behind
        self._db.executescript(SCHEMA)
        self._add_columns()

    def _add_columns(self) -> None:
        for table, columns in ADDED_COLUMNS.items():
            present = {row["name"] for row in self._db.execute(f"PRAGMA table_info({table})")}
            for name, kind in columns.items():
                if name not in present:
                    self._db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")

    @contextmanager
    def _transaction(self, *, synced: bool = True) -> Iterator[None]:
        # One write transaction under the lock, rolled back on any error; ``synced=False``: its commit does
        # not wait for the disk (the WAL still keeps it atomic; the next synced commit makes it durable).
        with self._lock:
            if not synced:
                self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            finally:
                if not synced:
                    self._db.execute("PRAGMA synchronous=FULL")

    def close(self) -> None:
        """Close the database file."""
        with self._lock:
            self._db.close()

    # --- sales -----------------------------------------------------------------------------------

    def add_sale(
        self,
        idempotency_key: str,
        client_sale_id: str,
        body: dict,
        *,
        offline: bool,
        fallback: dict | None = None,
    ) -> int:
        """Store a sale durably before it is sent; returns its sequence number."""
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO sales (idempotency_key, client_sale_id, body, fallback, offline, shift_no, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    idempotency_key,
                    client_sale_id,
                    json.dumps(body, ensure_ascii=False),
                    json.dumps(fallback, ensure_ascii=False) if fallback is not None else None,
                    int(offline),
                    self.shift_no(),
                    _now(),
                ),
            )
            return cursor.lastrowid

    def mark_sent(self, seq: int, response: dict, receipt: dict | None = None, last_key: str | None = None) -> None:
        """The server recorded the sale; keep its answer (and the receipt it printed as the last one), in one commit
        (not waiting for the disk: a mark lost to a power cut only sends the sale again, answered from the store)."""
        with self._transaction(synced=False):
            self._db.execute(
                "UPDATE sales SET state = 'sent', response = ?, error = NULL, sent_at = ?,"
                " receipt = coalesce(?, receipt) WHERE seq = ?",
                (
                    json.dumps(response, ensure_ascii=False),
                    _now(),
                    json.dumps(receipt, ensure_ascii=False) if receipt is not None else None,
                    seq,
                ),
            )
            if receipt is not None and last_key is not None:
                self._put(last_key, json.dumps(receipt, ensure_ascii=False))

    def mark_failed(self, seq: int, error: str, *, at_till: bool = False) -> None:
        """The server refused the sale for good (e.g. the card was blocked): it leaves the queue, kept for review.

        ``at_till``: refused while the cashier waited for the answer (nothing printed, nobody charged).
        """
        with self._lock:
            self._db.execute(
                "UPDATE sales SET state = 'failed', error = ?, refused_at_till = ? WHERE seq = ?",
                (error, int(at_till), seq),
            )

    def waiting_voucher_sales(self) -> list[int]:
        """Pending sales that redeem a voucher: sent only while the cashier waits (never replayed later)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq FROM sales WHERE state = 'pending' AND (json_extract(body, '$.voucher_id') IS NOT NULL"
                " OR json_extract(body, '$.voucher_code') IS NOT NULL) ORDER BY seq"
            ).fetchall()
        return [row[0] for row in rows]

    def note_error(self, seq: int, error: str) -> None:
        """Remember why the last attempt to send a still-pending sale did not go through."""
        with self._lock:
            self._db.execute("UPDATE sales SET error = ? WHERE seq = ?", (error, seq))

    def switch_to_fallback(self, seq: int, idempotency_key: str) -> None:
        """Replace an expired online request by its offline capture, under a new key (stored before sending)."""
        with self._lock:
            self._db.execute(
                "UPDATE sales SET body = fallback, fallback = NULL, offline = 1, idempotency_key = ? WHERE seq = ?",
                (idempotency_key, seq),
            )

    def keep_receipt(self, seq: int, receipt: dict, last_key: str | None) -> None:
        """Store a sale's receipt and make it the last receipt (for reprint, unless None), in one commit."""
        text = json.dumps(receipt, ensure_ascii=False)
        with self._transaction():
            self._db.execute("UPDATE sales SET receipt = ? WHERE seq = ?", (text, seq))
            if last_key is not None:
                self._put(last_key, text)

    def sale(self, seq: int) -> OutboxSale:
        """One sale by sequence number."""
        with self._lock:
            row = self._db.execute("SELECT * FROM sales WHERE seq = ?", (seq,)).fetchone()
        return _sale(row)

    def pending(self) -> list[OutboxSale]:
        """Sales waiting to be sent, oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT * FROM sales WHERE state = 'pending' ORDER BY seq").fetchall()
        return [_sale(row) for row in rows]

    def pending_count(self) -> int:
        """How many sales wait to be sent."""
        with self._lock:
            return self._db.execute("SELECT count(*) FROM sales WHERE state = 'pending'").fetchone()[0]

    def failed(self) -> list[OutboxSale]:
        """Sales the server refused for good, oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT * FROM sales WHERE state = 'failed' ORDER BY seq").fetchall()
        return [_sale(row) for row in rows]

    def oldest_pending_offline(self) -> datetime | None:
        """When the oldest offline sale still waiting was made."""
        with self._lock:
            row = self._db.execute(
                "SELECT min(created_at) FROM sales WHERE state = 'pending' AND offline = 1"
            ).fetchone()
        return datetime.fromisoformat(row[0]) if row[0] else None

    def offline_sales_in_shift(self) -> int:
        """Offline sales made in the current shift (the per-shift cap counts them)."""
        with self._lock:
            return self._db.execute(
                "SELECT count(*) FROM sales WHERE offline = 1 AND shift_no = ?", (self.shift_no(),)
            ).fetchone()[0]

    def shift_sales(self, shift_no: int) -> list[OutboxSale]:
        """Every sale of a shift, in order."""
        with self._lock:
            rows = self._db.execute("SELECT * FROM sales WHERE shift_no = ? ORDER BY seq", (shift_no,)).fetchall()
        return [_sale(row) for row in rows]

    # --- refunds ---------------------------------------------------------------------------------

    def add_refund(self, idempotency_key: str, sale: dict, body: dict) -> int:
        """Store a refund request with its key before it is sent (one logical refund, however often it is sent)."""
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO refunds (idempotency_key, receipt_no, sale_id, amount_fen, shift_no, created_at,"
                " body, state, sale, printed) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, 0)",
                (
                    idempotency_key,
                    sale["receipt_no"],
                    sale["id"],
                    body.get("amount_fen"),
                    self.shift_no(),
                    _now(),
                    json.dumps(body, ensure_ascii=False),
                    json.dumps(sale, ensure_ascii=False),
                ),
            )
            return cursor.lastrowid

    def refund(self, seq: int) -> OutboxRefund:
        """One refund by sequence number."""
        with self._lock:
            return _refund(self._db.execute("SELECT * FROM refunds WHERE seq = ?", (seq,)).fetchone())

    def open_refund(self, receipt_no: str) -> OutboxRefund | None:
        """The refund of this receipt still in progress: sent with its outcome unknown, or done but not printed.

        A cashier retrying it (after a timeout, a crash or a printer error) continues this one refund.
        """
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM refunds WHERE receipt_no = ? AND (state = 'pending' OR (state = 'done' AND printed = 0))"
                " ORDER BY seq DESC LIMIT 1",
                (receipt_no,),
            ).fetchone()
        return _refund(row) if row is not None else None

    def pending_refunds(self) -> list[OutboxRefund]:
        """Refunds sent without an answer yet, oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT * FROM refunds WHERE state = 'pending' ORDER BY seq").fetchall()
        return [_refund(row) for row in rows]

    def refund_done(self, seq: int, response: dict) -> None:
        """Keep the server's answer to a refund (and forget the supervisor PIN it carried)."""
        self._settle_refund(seq, "done", None, response)

    def refund_failed(self, seq: int, error: str) -> None:
        """The server refused the refund (nothing was refunded): a new attempt is a new refund."""
        self._settle_refund(seq, "failed", error, None)

    def _settle_refund(self, seq: int, state: str, error: str | None, response: dict | None) -> None:
        with self._lock:
            body = self.refund(seq).body
            had_pin = body.pop("supervisor_pin", None) is not None
            self._db.execute(
                "UPDATE refunds SET state = ?, error = ?, response = coalesce(?, response), body = ? WHERE seq = ?",
                (
                    state,
                    error,
                    json.dumps(response, ensure_ascii=False) if response is not None else None,
                    json.dumps(body, ensure_ascii=False),
                    seq,
                ),
            )
            if had_pin:  # the write-ahead log still holds the row with the PIN: fold it in and empty it
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def keep_refund_receipt(self, seq: int, receipt: dict, last_key: str) -> None:
        """Store a refund's slip and make it the last receipt (for reprint), in one commit."""
        text = json.dumps(receipt, ensure_ascii=False)
        with self._transaction():
            self._db.execute("UPDATE refunds SET receipt = ? WHERE seq = ?", (text, seq))
            self._put(last_key, text)

    def refund_slips_printed(self, receipt_no: str) -> None:
        """A refund slip of this receipt was (re)printed: its refund is finished, the next one is a new refund."""
        with self._lock:
            self._db.execute(
                "UPDATE refunds SET printed = 1 WHERE receipt_no = ? AND state = 'done' AND receipt IS NOT NULL",
                (receipt_no,),
            )

    def refund_printed(self, seq: int) -> None:
        """The refund slip came out of the printer."""
        with self._lock:
            self._db.execute("UPDATE refunds SET printed = 1 WHERE seq = ?", (seq,))

    def shift_refunds(self, shift_no: int) -> list[dict]:
        """The refunds the server confirmed in a shift."""
        with self._lock:
            rows = self._db.execute(
                "SELECT response FROM refunds WHERE shift_no = ? AND response IS NOT NULL ORDER BY seq", (shift_no,)
            ).fetchall()
        return [json.loads(row[0])["refund"] for row in rows]

    def receipt_of(self, receipt_no: str) -> dict | None:
        """The last slip printed for this receipt number (the sale's, or its latest refund's)."""
        with self._lock:
            refund = self._db.execute(
                "SELECT receipt FROM refunds WHERE receipt_no = ? AND receipt IS NOT NULL ORDER BY seq DESC LIMIT 1",
                (receipt_no,),
            ).fetchone()
            if refund is not None:
                return json.loads(refund[0])
            sale = self._db.execute(
                "SELECT receipt FROM sales WHERE json_extract(receipt, '$.receipt_no') = ? ORDER BY seq DESC LIMIT 1",
                (receipt_no,),
            ).fetchone()
        return json.loads(sale[0]) if sale is not None else None

    def waiting_with_receipt(self, receipt_no: str) -> bool:
        """True when a sale with this receipt number still waits to be uploaded."""
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM sales WHERE state = 'pending' AND json_extract(body, '$.receipt_no') = ?", (receipt_no,)
            ).fetchone()
        return row is not None

    # --- receipt numbers -------------------------------------------------------------------------

    def next_receipt_seq(self, server_last_seq: int) -> int:
        """The next receipt sequence of this terminal: after the last it used and the last the server knows."""
        with self._transaction():
            row = self._db.execute("SELECT value FROM meta WHERE key = 'receipt_seq'").fetchone()
            seq = max(int(row[0]) if row else 0, server_last_seq) + 1
            self._put("receipt_seq", str(seq))
            return seq

    # --- refused sales ---------------------------------------------------------------------------

    def rejected(self) -> list[OutboxSale]:
        """Sales committed at the till (printed, or paid for) that the server refused later, oldest first.

        The customer paid and left: an operator has to resolve each one (they are reported to the server).
        """
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM sales WHERE state = 'failed' AND refused_at_till = 0 ORDER BY seq"
            ).fetchall()
        return [_sale(row) for row in rows]

    def unreported_rejected(self) -> list[OutboxSale]:
        """Refused sales not yet reported to the server."""
        return [sale for sale in self.rejected() if sale.reported_at is None]

    def mark_reported(self, seq: int) -> None:
        """The server keeps the refused sale for an operator."""
        with self._lock:
            self._db.execute("UPDATE sales SET reported_at = ? WHERE seq = ?", (_now(), seq))

    # --- shift and cached facts ------------------------------------------------------------------

    def shift_no(self) -> int:
        """The current shift's number (1 for a new terminal)."""
        return int(self.get("shift_no", "1"))

    def shift_opened_at(self) -> datetime:
        """When the current shift began (its first use)."""
        opened = self.get("shift_opened_at")
        if opened is None:
            opened = _now()
            self.put("shift_opened_at", opened)
        return datetime.fromisoformat(opened)

    def close_shift(self) -> int:
        """Start the next shift; returns the number of the one closed."""
        with self._lock:
            closed = self.shift_no()
            with self._transaction():
                self._put("shift_no", str(closed + 1))
                self._put("shift_opened_at", _now())
            return closed

    def get(self, key: str, default: str | None = None) -> str | None:
        """A stored setting or cached fact."""
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def put(self, key: str, value: str) -> None:
        """Store a setting or cached fact."""
        with self._lock:
            self._put(key, value)

    def _put(self, key: str, value: str) -> None:
        self._db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def get_json(self, key: str) -> dict | None:
        """A cached JSON fact (the terminal info, the last receipt)."""
        value = self.get(key)
        return json.loads(value) if value is not None else None

    def put_json(self, key: str, value: dict) -> None:
        """Cache a JSON fact."""
        self.put(key, json.dumps(value, ensure_ascii=False))


def _refund(row: sqlite3.Row) -> OutboxRefund:
    def load(text):
        return json.loads(text) if text is not None else None

    return OutboxRefund(
        seq=row["seq"],
        idempotency_key=row["idempotency_key"],
        receipt_no=row["receipt_no"],
        sale_id=row["sale_id"],
        body=load(row["body"]) or ({} if row["amount_fen"] is None else {"amount_fen": row["amount_fen"]}),
        state=row["state"],
        shift_no=row["shift_no"],
        sale=load(row["sale"]),
        response=load(row["response"]),
        receipt=load(row["receipt"]),
        printed=bool(row["printed"]),
        error=row["error"],
    )


def _sale(row: sqlite3.Row) -> OutboxSale:
    def load(text):
        return json.loads(text) if text is not None else None

    return OutboxSale(
        seq=row["seq"],
        idempotency_key=row["idempotency_key"],
        client_sale_id=row["client_sale_id"],
        body=json.loads(row["body"]),
        fallback=load(row["fallback"]),
        offline=bool(row["offline"]),
        state=row["state"],
        shift_no=row["shift_no"],
        created_at=datetime.fromisoformat(row["created_at"]),
        receipt=load(row["receipt"]),
        response=load(row["response"]),
        error=row["error"],
        reported_at=row["reported_at"],
        refused_at_till=bool(row["refused_at_till"]),
    )
