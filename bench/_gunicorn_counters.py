"""gunicorn settings for the checkout benchmark (``gunicorn -c bench/_gunicorn_counters.py``).

Each worker counts what it sends to PostgreSQL, per request path: SQL statements (psycopg's execute and
executemany, the pool's pre-ping included) and round trips (those plus psycopg's BEGIN, COMMIT and
ROLLBACK commands; what is queued in pipeline mode counts once, at the pipeline's sync), and the requests
themselves. A request with the ``X-Bench-Probe`` header (bench.checkout's request-layer probes) is counted
under ``probe <path>``, apart from the sales. At exit each worker writes its counts to
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


def _add(kind: str) -> None:
    path = getattr(_local, "path", None) or "(outside requests)"
    with _lock:
        _counts[f"{path}|{kind}"] += 1


def _install() -> None:
    import psycopg

    execute, executemany = psycopg.Cursor.execute, psycopg.Cursor.executemany
    command = psycopg.Connection._exec_command
    pipeline_exit, pipeline_sync = psycopg.Pipeline.__exit__, psycopg.Pipeline.sync

    def counted_execute(self, query, *args, **kwargs):
        if not (isinstance(query, str) and query.strip().upper() in ("BEGIN", "COMMIT", "ROLLBACK")):
            _add("statements")  # a COMMIT sent as a query (server/hot_sql.py) is a command, as psycopg's own
        if self._conn._pipeline is None:
            _add("round_trips")
        return execute(self, query, *args, **kwargs)

    def counted_executemany(self, *args, **kwargs):
        _add("statements")  # psycopg pipelines the batch: its round trip is counted at the pipeline's exit
        return executemany(self, *args, **kwargs)

    def counted_command(self, *args, **kwargs):
        if self._pipeline is None:
            _add("round_trips")
        return command(self, *args, **kwargs)

    def counted_exit(self, *args):
        _add("round_trips")
        return pipeline_exit(self, *args)

    def counted_sync(self):
        _add("round_trips")
        return pipeline_sync(self)

    psycopg.Cursor.execute = counted_execute
    psycopg.Cursor.executemany = counted_executemany
    psycopg.Connection._exec_command = counted_command
    psycopg.Pipeline.__exit__ = counted_exit
    psycopg.Pipeline.sync = counted_sync


def post_fork(server, worker):
    _install()


PROBE_HEADER = "X-Bench-Probe"  # bench.checkout's request-layer probes: counted apart from the sales


def pre_request(worker, req):
    probe = any(name == PROBE_HEADER.upper() for name, _ in req.headers)
    _local.path = f"probe {req.path}" if probe else req.path


def post_request(worker, req, environ, resp):
    _add("requests")
    _local.path = None


def worker_exit(server, worker):
    directory = os.environ.get("BENCH_SQL_COUNTS_DIR")
    if directory:
        with _lock:
            Path(directory, f"{os.getpid()}.json").write_text(json.dumps(dict(_counts)))
