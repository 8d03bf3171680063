"""HTTP transport to the AllianceCard API shared by the POS and the card tools.

Errors arrive as ApiError carrying the stable error code of docs/terminal-api.md; a server that does not
answer raises ServerUnreachable (the POS then works offline).
"""

from __future__ import annotations

import time
import uuid
from urllib.parse import quote

import requests

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
        session: requests.Session | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.timeout, self.retries, self.backoff = timeout, retries, backoff
        self.session = session or requests.Session()
        self.session.headers.update({"Authorization": f"Bearer {token}", "Accept": "application/json"})
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
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        url = f"{self.base_url}/api/v1{path}"
        attempt = 0
        while True:
            try:
                response = self.session.request(
                    method, url, json=json_body, params=params, headers=headers, timeout=self.timeout
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                if attempt < self.retries:
                    attempt += 1
                    time.sleep(self.backoff * attempt)
                    continue
                raise ServerUnreachable(self.base_url, _reason(exc)) from exc
            error = _error_of(response)
            retryable = response.status_code in RETRY_STATUSES or (error and error.code == "request_in_progress")
            if retryable and attempt < self.retries:
                attempt += 1
                time.sleep(self.backoff * attempt)
                continue
            if error is not None:
                raise error
            self.last_headers = dict(response.headers)
            try:
                return response.json()
            except ValueError as exc:
                raise ApiError(response.status_code, "bad_response", "The server answered without JSON.") from exc

    def _post(self, path: str, body: dict):
        return self.request("POST", path, json_body=body, idempotency_key=new_idempotency_key())


def path_part(value: str) -> str:
    """``value`` escaped for use as one URL path segment."""
    return quote(str(value), safe="")


def _reason(exc: Exception) -> str:
    if isinstance(exc, requests.Timeout):
        return "no answer in time (timeout)"
    text = str(exc)
    for marker in ("Connection refused", "Name or service not known", "No route to host", "Network is unreachable"):
        if marker in text:
            return marker
    return exc.__class__.__name__


def _error_of(response: requests.Response) -> ApiError | None:
    if response.status_code < 400:
        return None
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or "error" not in body:
        return ApiError(response.status_code, "http_error", f"HTTP {response.status_code} {response.reason}")
    return ApiError(response.status_code, body["error"], body.get("message", ""), body.get("details"))
