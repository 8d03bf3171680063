"""gunicorn settings for the checkout benchmark (``gunicorn -c bench/_gunicorn_counters.py``).

Each worker counts what it sends to PostgreSQL, per request path: SQL statements (psycopg's execute and
executemany, the pool's pre-ping included) and round trips (those plus psycopg's BEGIN, COMMIT and
ROLLBACK commands), and the requests themselves. At exit each worker writes its counts to
``$BENCH_SQL_COUNTS_DIR/<pid>.json``; ``bench.checkout`` adds them up. Only the hooks below are gunicorn
settings; the application code is not touched.
"""

from __future__ import annotations

import json
import os
import threading
from collections import Counter
from pathlib import Path

_local = threading.local()
_lock = threading.Lock()
_counts: Counter = Counter()  # "path|kind" -> count, kind: requests, statements, round_trips


def _add(kind: str, path: str | None = None) -> None:
    path = path or getattr(_local, "path", None) or "(outside requests)"
    with _lock:
        _counts[f"{path}|{kind}"] += 1


def _install() -> None:
    import psycopg

    execute, executemany = psycopg.Cursor.execute, psycopg.Cursor.executemany
    command = psycopg.Connection._exec_command

    def counted_execute(self, *args, **kwargs):
        _add("statements")
        _add("round_trips")
        return execute(self, *args, **kwargs)

    def counted_executemany(self, *args, **kwargs):
        _add("statements")
        _add("round_trips")  # pipelined: one round trip for the batch
        return executemany(self, *args, **kwargs)

    def counted_command(self, *args, **kwargs):
        _add("round_trips")
        return command(self, *args, **kwargs)

    psycopg.Cursor.execute = counted_execute
    psycopg.Cursor.executemany = counted_executemany
    psycopg.Connection._exec_command = counted_command


def post_fork(server, worker):
    _install()


def pre_request(worker, req):
    _local.path = req.path


def post_request(worker, req, environ, resp):
    _add("requests", req.path)
    _local.path = None


def worker_exit(server, worker):
    directory = os.environ.get("BENCH_SQL_COUNTS_DIR")
    if directory:
        with _lock:
            Path(directory, f"{os.getpid()}.json").write_text(json.dumps(dict(_counts)))
