"""A local HTTP stand-in for an outside service (SMS provider, WeChat OAuth): answers come from a function."""

from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


@contextmanager
def stand_in(handler_func):
    """A local HTTP server whose GET/POST answers come from ``handler_func(method, path, query, body, headers)``.

    The function returns ``(status, payload)`` or ``(status, payload, extra_headers)`` (e.g. a signature over
    the answer, as WeChat Pay sends); the payload is sent as JSON.
    """
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, method):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            url = urlparse(self.path)
            seen.append((method, url.path, parse_qs(url.query), body, dict(self.headers)))
            status, payload, *extra = handler_func(method, url.path, parse_qs(url.query), body, self.headers)
            data = payload if isinstance(payload, bytes) else json.dumps(payload, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (extra[0] if extra else {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            self._answer("GET")

        def do_POST(self):
            self._answer("POST")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", seen
    finally:
        server.shutdown()
        server.server_close()
