"""HTTP transport to the AllianceCard API shared by the POS and the card tools.

Errors arrive as ApiError carrying the stable error code of docs/terminal-api.md; a server that does not
answer raises ServerUnreachable (the POS then works offline).
"""

from __future__ import annotations

import json
import os
import time
import urllib.request
import uuid
from urllib.parse import quote, urlencode, urlsplit

import certifi
import urllib3

RETRY_STATUSES = {502, 503, 504}


class ServerUnreachable(Exception):
    """The server did not answer (connection refused, DNS, timeout) even after retrying."""

    def __init__(self, base_url: str, reason: str):
        super().__init__(f"{base_url}: {reason}")
        self.base_url, self.reason = base_url, reason


class ApiError(Exception):
    """The server refused the request; ``code`` is the stable error code (docs/terminal-api.md)."""

    def __init__(self, status: int, code: str, message: str, details: dict | None = None):
        super().__init__(f"{code}: {message}")
        self.status, self.code, self.message, self.details = status, code, message, details or {}


def new_idempotency_key() -> str:
    """A fresh Idempotency-Key for one state-changing request (kept for its retries)."""
    return str(uuid.uuid4())


class ApiClient:
    """A connection to the AllianceCard API with a bearer token (terminal tt_... or staff pt_...).

    Every request is retried on connection failures, 502/503/504 and 409 ``request_in_progress``;
    a POST keeps its Idempotency-Key across the retries, so a lost response never does a thing twice.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 15.0,
        retries: int = 2,
        backoff: float = 0.3,
        pool: urllib3.PoolManager | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.timeout, self.retries, self.backoff = timeout, retries, backoff
        self.pool = pool or pool_for(self.base_url)
        # sent with every request; a caller may add one (the POS: Accept-Language)
        self.headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        self.last_headers: dict[str, str] = {}

    # --- transport -------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: dict | None = None,
        params: dict | None = None,
        idempotency_key: str | None = None,
    ):
        """Send one API request (with retries) and return the decoded JSON body."""
        headers = dict(self.headers)
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        body = None
        if json_body is not None:
            body = json.dumps(json_body, allow_nan=False).encode()
            headers["Content-Type"] = "application/json"
        url = f"{self.base_url}/api/v1{path}" + (f"?{urlencode(params, doseq=True)}" if params else "")
        attempt = 0
        while True:
            try:
                # urllib3 itself never retries here (retries=False): the loop below decides, keeping the key
                response = self.pool.request(
                    method, url, body=body, headers=headers, timeout=self.timeout, retries=False
                )
            except urllib3.exceptions.HTTPError as exc:  # refused, reset, DNS, TLS, timeout
                if attempt < self.retries:
                    attempt += 1
                    time.sleep(self.backoff * attempt)
                    continue
                raise ServerUnreachable(self.base_url, _reason(exc)) from exc
            error = _error_of(response)
            retryable = response.status in RETRY_STATUSES or (error and error.code == "request_in_progress")
            if retryable and attempt < self.retries:
                attempt += 1
                time.sleep(self.backoff * attempt)
                continue
            if error is not None:
                raise error
            self.last_headers = dict(response.headers)
            try:
                return json.loads(response.data)
            except ValueError as exc:
                raise ApiError(response.status, "bad_response", "The server answered without JSON.") from exc

    def _post(self, path: str, body: dict):
        return self.request("POST", path, json_body=body, idempotency_key=new_idempotency_key())


def pool_for(base_url: str) -> urllib3.PoolManager:
    """Kept-alive connections to ``base_url``, through the environment's proxy for it, if any.

    The environment is read once, here: the proxy for this server (``HTTP_PROXY``/``HTTPS_PROXY``,
    ``NO_PROXY`` honoured; on Windows the system's settings) and the CA bundle (``REQUESTS_CA_BUNDLE``,
    ``CURL_CA_BUNDLE``, else certifi's, as requests had it). urllib3 rather than requests: a request costs
    the till about half the CPU (bench/pos_latency.py), and the token is the only credential (no ``.netrc``,
    whose entry would replace the Authorization header).
    """
    parts = urlsplit(base_url)
    ca_certs = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or certifi.where()
    proxies = {} if urllib.request.proxy_bypass(parts.hostname or "") else urllib.request.getproxies()
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if proxy:
        return urllib3.ProxyManager(proxy, ca_certs=ca_certs)
    return urllib3.PoolManager(ca_certs=ca_certs)


def path_part(value: str) -> str:
    """``value`` escaped for use as one URL path segment."""
    return quote(str(value), safe="")


def _reason(exc: Exception) -> str:
    # urllib3's NewConnectionError (refused, DNS...) is a ConnectTimeoutError too: it is no timeout here
    timeout = isinstance(exc, urllib3.exceptions.TimeoutError) and not isinstance(
        exc, urllib3.exceptions.NewConnectionError
    )
    if timeout:
        return "no answer in time (timeout)"
    text = str(exc)
    for marker in ("Connection refused", "Name or service not known", "No route to host", "Network is unreachable"):
        if marker in text:
            return marker
    return exc.__class__.__name__


def _error_of(response: urllib3.BaseHTTPResponse) -> ApiError | None:
    if response.status < 400:
        return None
    try:
        body = json.loads(response.data)
    except ValueError:
        body = None
    if not isinstance(body, dict) or "error" not in body:
        return ApiError(response.status, "http_error", f"HTTP {response.status} {response.reason}")
    return ApiError(response.status, body["error"], body.get("message", ""), body.get("details"))
