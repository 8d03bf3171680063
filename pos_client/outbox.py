"""The terminal's durable local store: the sale outbox, refunds, the shift, the last receipt and cached server facts.

A sale is written here with its Idempotency-Key *before* it is sent, in its own committed transaction
(SQLite WAL with synchronous=FULL, so a commit survives power loss and ``kill -9``). Rows are sent in
the order they were written; a row is only marked sent once the server's answer is stored, so after a
crash the same request is sent again with the same key and the server answers with the stored result.
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
        self._db.executescript(SCHEMA)

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        # One write transaction under the lock, rolled back on any error.
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

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
        """The server recorded the sale; keep its answer (and the receipt it printed as the last one), in one commit."""
        with self._transaction():
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

    def mark_failed(self, seq: int, error: str) -> None:
        """The server refused the sale for good (e.g. the card was blocked): it leaves the queue, kept for review."""
        with self._lock:
            self._db.execute("UPDATE sales SET state = 'failed', error = ? WHERE seq = ?", (error, seq))

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

    def keep_receipt(self, seq: int, receipt: dict, last_key: str) -> None:
        """Store a sale's receipt and make it the last receipt (for reprint), in one commit."""
        text = json.dumps(receipt, ensure_ascii=False)
        with self._transaction():
            self._db.execute("UPDATE sales SET receipt = ? WHERE seq = ?", (text, seq))
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

    def add_refund(self, idempotency_key: str, receipt_no: str, sale_id: str, amount_fen: int | None) -> int:
        """Store a refund request before it is sent."""
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO refunds (idempotency_key, receipt_no, sale_id, amount_fen, shift_no, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (idempotency_key, receipt_no, sale_id, amount_fen, self.shift_no(), _now()),
            )
            return cursor.lastrowid

    def refund_done(self, seq: int, response: dict) -> None:
        """Keep the server's answer to a refund."""
        with self._lock:
            self._db.execute(
                "UPDATE refunds SET response = ? WHERE seq = ?", (json.dumps(response, ensure_ascii=False), seq)
            )

    def shift_refunds(self, shift_no: int) -> list[dict]:
        """The refunds the server confirmed in a shift."""
        with self._lock:
            rows = self._db.execute(
                "SELECT response FROM refunds WHERE shift_no = ? AND response IS NOT NULL ORDER BY seq", (shift_no,)
            ).fetchall()
        return [json.loads(row[0])["refund"] for row in rows]

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
    )
