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
