"""Structured logs: one JSON object per line on stderr, each with the request's id and no personal data.

The request id is nginx's ``X-Request-Id`` (``proxy_set_header X-Request-Id $request_id``) when it is a
plain token, else a new one; it is sent back in the response's ``X-Request-Id`` and is on every line
logged while the request runs, so one request can be followed from nginx's access log to the app.

What a line may hold: the request is logged by its Flask endpoint and URL rule (``/api/v1/identifications/
<token>/proof``), never its path or query, its headers or body, nor the client's address. Messages from the
rest of the server pass through :class:`PersonalDataFilter`'s patterns (mobile numbers, long digit runs
such as member codes, card numbers and one-time codes, and bearer tokens are replaced) before they are
written; names are never logged by the server's own code.
"""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid

from flask import Flask, g, has_request_context, request
from pythonjsonlogger.json import JsonFormatter

REQUEST_ID_HEADER = "X-Request-Id"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
REQUEST_LOGGER = "server.requests"

REDACTIONS = (
    # terminal, personal, identification, member and console session tokens (server/security/credentials.py)
    (re.compile(r"\b(?:tt|pt|id|ms|cs)_[A-Za-z0-9_-]{16,}"), "[token]"),
    (re.compile(r"(?:Bearer|Basic)\s+\S+", re.IGNORECASE), "[credentials]"),
    (re.compile(r"(?<!\d)(?:\+?86)?1[3-9]\d{9}(?!\d)"), "[phone]"),
    (re.compile(r"(?<![\d.])\d{6,}(?![\d.])"), "[digits]"),  # member codes, card numbers, one-time codes
)


def redact(value: str) -> str:
    """``value`` with anything shaped like a phone number, a code or a token replaced."""
    for pattern, replacement in REDACTIONS:
        value = pattern.sub(replacement, value)
    return value


class PersonalDataFormatter(JsonFormatter):
    """python-json-logger's formatter that redacts every string it writes (the record itself is untouched)."""

    def process_log_record(self, log_record: dict) -> dict:
        return {
            key: redact(value) if isinstance(value, str) and key not in _OWN_FIELDS else value
            for key, value in log_record.items()
        }


_OWN_FIELDS = frozenset({"time", "level", "logger", "request_id", "endpoint", "route", "method"})


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` (None outside a request) to every record the handler writes."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = g.get("request_id") if has_request_context() else None
        return True


def json_handler(stream=None) -> logging.Handler:
    """A handler writing one JSON object per line: time, level, logger, message, request id and extras."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(
        PersonalDataFormatter(
            "{asctime}{levelname}{name}{message}{request_id}",
            style="{",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            json_ensure_ascii=False,
        )
    )
    handler.addFilter(RequestIdFilter())
    handler._alliance_json = True
    return handler


def init_logs(app: Flask) -> None:
    """Request ids for every request; with ``LOG_FORMAT=json`` the server's logs become JSON lines."""
    if app.config.get("LOG_FORMAT") == "json":
        logger = logging.getLogger("server")
        for old in [h for h in logger.handlers if getattr(h, "_alliance_json", False)]:
            logger.removeHandler(old)  # an app made again in the same process (tests) replaces its handler
        logger.addHandler(json_handler())
        logger.setLevel(logging.INFO)
    app.before_request(_start)
    app.after_request(_finish)


def request_id() -> str:
    """This request's id (nginx's when it sent a well-formed one)."""
    if "request_id" not in g:
        given = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
    return g.request_id


def _start() -> None:
    request_id()
    g.request_started = time.perf_counter()


def _finish(response):
    from server.observability.metrics import REQUEST_SECONDS

    response.headers[REQUEST_ID_HEADER] = request_id()
    seconds = time.perf_counter() - g.get("request_started", time.perf_counter())
    endpoint = request.endpoint or "unmatched"
    REQUEST_SECONDS.labels(endpoint=endpoint, method=request.method).observe(seconds)
    rule = request.url_rule.rule if request.url_rule is not None else None
    logging.getLogger(REQUEST_LOGGER).info(
        "request",
        extra={
            "method": request.method,
            "endpoint": endpoint,
            "route": rule,
            "status": response.status_code,
            "duration_ms": round(seconds * 1000, 1),
        },
    )
    return response
