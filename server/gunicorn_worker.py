"""A gunicorn worker that answers the requests gunicorn refuses itself in the API's JSON error shape.

Gunicorn reads the request line and headers before the application sees anything; a URL longer than
``limit_request_line`` (414), a header longer than ``limit_request_field_size`` or more than
``limit_request_fields`` headers (431), or a malformed request (400) is answered by the worker's
``handle_error`` with an HTML page. This worker lets gunicorn classify, log and count the error as it
always does, then sends the project's ``{"error", "message", "status", "details"}`` body instead of the
page. ``deploy/gunicorn.conf.py`` selects it.
"""

from __future__ import annotations

import json

from gunicorn import util
from gunicorn.workers.gthread import ThreadWorker

from server.api.base import HTTP_ERROR_CODES


class _ErrorPageCapture:
    """Stands in for the client socket while gunicorn writes its error page: keeps the bytes, so the
    worker learns the status gunicorn chose; everything else is the real socket's."""

    def __init__(self, sock):
        self._sock = sock
        self.data = bytearray()

    def gettimeout(self) -> float:
        return 0.0  # gunicorn then writes without touching the socket's blocking mode

    def sendall(self, data: bytes) -> None:
        self.data += data

    def __getattr__(self, name):
        return getattr(self._sock, name)


def error_message(status: int, cfg) -> str:
    """What the person reading the error learns, with the configured limit where one applies."""
    if status == 414:
        return f"The request line (method, path and query) is longer than {cfg.limit_request_line} bytes."
    if status == 431:
        return (
            f"A request header is longer than {cfg.limit_request_field_size} bytes "
            f"or the request has more than {cfg.limit_request_fields} headers."
        )
    if status >= 500:
        return "Internal server error."
    return "The request is not valid HTTP."


def json_error(status: int, reason: str, cfg) -> bytes:
    """A complete HTTP response in the project's error shape (the connection closes after it)."""
    code = HTTP_ERROR_CODES.get(status, "internal_error" if status >= 500 else "invalid_request")
    body = json.dumps({"error": code, "message": error_message(status, cfg), "status": status, "details": {}}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


class JsonErrorWorker(ThreadWorker):
    """gunicorn's threaded worker (``gthread``) with JSON error responses."""

    def handle_error(self, req, client, addr, exc):
        capture = _ErrorPageCapture(client)
        super().handle_error(req, capture, addr, exc)
        if not capture.data:
            return
        status_line = bytes(capture.data).split(b"\r\n", 1)[0].decode("latin-1")
        _, status, reason = status_line.split(" ", 2)
        try:
            util.write_nonblock(client, json_error(int(status), reason, self.cfg))
        except Exception:  # noqa: BLE001 - the client may be gone, as gunicorn itself allows
            self.log.debug("Failed to send error message.")
