"""Production gunicorn settings for the AllianceCard server.

    gunicorn -c deploy/gunicorn.conf.py            # serves server:create_app() on 0.0.0.0:8000

Override any setting on the command line (``--bind``, ``--workers``) or with GUNICORN_CMD_ARGS.
Requests gunicorn refuses before the application sees them get the API's JSON error shape
(``server.gunicorn_worker.JsonErrorWorker``); the limits below are the contract's:

- request line (method, path, query) at most 4094 bytes, else 414 ``uri_too_long``;
- each header at most 8190 bytes and at most 100 headers, else 431 ``headers_too_large``;
- the body at most ``MAX_CONTENT_LENGTH`` (64 KiB, server/config.py), else 413 ``payload_too_large``
  (enforced by the application).
"""

import os

wsgi_app = "server:create_app()"
bind = os.environ.get("ALLIANCE_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("ALLIANCE_WORKERS", "3"))
threads = int(os.environ.get("ALLIANCE_THREADS", "4"))
worker_class = "server.gunicorn_worker.JsonErrorWorker"

limit_request_line = 4094
limit_request_fields = 100
limit_request_field_size = 8190

timeout = 60  # a 100,000-card batch takes a few seconds; nothing should take a minute
graceful_timeout = 30
keepalive = 5

# Prometheus multiprocess mode (server/observability/metrics.py, docs/operations.md): every worker writes
# its counters and histograms to files in PROMETHEUS_MULTIPROC_DIR and a scrape of /metrics adds up all
# workers'. Set here, before any worker imports prometheus_client; emptied when the master starts (stale
# files of an earlier run would count twice); a worker that exits is marked dead.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    import tempfile

    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="alliance-metrics-")


def on_starting(server):
    from pathlib import Path

    directory = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
