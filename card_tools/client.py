"""HTTP client for the operator (staff) API the card tools use; errors arrive as ApiError with the stable code."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import requests

RETRY_STATUSES = {502, 503, 504}
DEFAULT_PAGE_SIZE = 10_000  # the most /card-batches/{id}/cards serves per page


class ServerUnreachable(Exception):
    """The server did not answer (connection refused, DNS, timeout) even after retrying."""

    def __init__(self, base_url: str, reason: str):
        super().__init__(f"{base_url}: {reason}")
        self.base_url, self.reason = base_url, reason


class ApiError(Exception):
    """The server refused the request; ``code`` is the stable error code (TERMINAL_API.md)."""

    def __init__(self, status: int, code: str, message: str, details: dict | None = None):
        super().__init__(f"{code}: {message}")
        self.status, self.code, self.message, self.details = status, code, message, details or {}


def new_idempotency_key() -> str:
    """A fresh Idempotency-Key for one state-changing request (kept for its retries)."""
    return f"cards-{uuid.uuid4()}"


class StaffClient:
    """An operator's connection to the server, authenticated with a personal token (pt_...).

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

    # --- alliance and batches ----------------------------------------------------------------------

    def alliance(self) -> dict:
        """GET /alliance: settings plus card_public_key and card_read_key (base64)."""
        return self.request("GET", "/alliance")

    def create_batch(
        self,
        count: int,
        card_type: str = "mifare-classic-1k",
        level: str | None = None,
        name: str = "",
        print_details: dict | None = None,
    ) -> dict:
        """POST /card-batches (idempotent): the new batch."""
        body = {"count": count, "card_type": card_type, "level": level, "name": name,
                "print_details": print_details or {}}
        return self._post("/card-batches", body)["batch"]

    def list_batches(self, page: int = 1, page_size: int = 50) -> list[dict]:
        """GET /card-batches, newest first."""
        return self.request("GET", "/card-batches", params={"page": page, "page_size": page_size})

    def batch(self, batch_id: str) -> dict:
        """GET /card-batches/{id}: the batch with its progress per card status."""
        return self.request("GET", f"/card-batches/{_path(batch_id)}")["batch"]

    def batch_cards(self, batch_id: str, page_size: int | None = None) -> Iterator[list[dict]]:
        """The cards of a batch in card-number order, one page (list) at a time."""
        page, page_size = 1, page_size or DEFAULT_PAGE_SIZE
        while True:
            cards = self.request(
                "GET", f"/card-batches/{_path(batch_id)}/cards", params={"page": page, "page_size": page_size}
            )
            if cards:
                yield cards
            pagination = json.loads(self.last_headers.get("X-Pagination") or "{}")
            next_page = pagination.get("next_page")
            if not cards or not next_page:
                return
            page = next_page

    def plan_chip(self, batch_id: str, uid: str) -> dict:
        """PUT /card-batches/{id}/chips/{uid}: the card this chip gets, with the blocks and keys to write."""
        return self.request("PUT", f"/card-batches/{_path(batch_id)}/chips/{_path(uid)}")

    def confirm_chip(self, batch_id: str, uid: str) -> dict:
        """PUT .../chips/{uid}/confirmation: the chip was written and verified; the card becomes issued."""
        return self.request("PUT", f"/card-batches/{_path(batch_id)}/chips/{_path(uid)}/confirmation")["card"]

    def chip_keys(self, uid: str) -> dict:
        """GET /chips/{uid}/keys: every sector key of an encoded chip (audited)."""
        return self.request("GET", f"/chips/{_path(uid)}/keys")

    # --- card lifecycle --------------------------------------------------------------------------

    def card(self, card_no: str) -> dict:
        """GET /cards/by-number/{card_no}."""
        return self.request("GET", f"/cards/by-number/{_path(card_no)}")["card"]

    def change_card(self, card_no: str, action: str, reason: str = "") -> dict:
        """POST /cards/by-number/{card_no}/{lost|freeze|unfreeze|cancel} (idempotent)."""
        if action not in {"lost", "freeze", "unfreeze", "cancel"}:
            raise ValueError(f"unknown card action {action!r}")
        return self._post(f"/cards/by-number/{_path(card_no)}/{action}", {"reason": reason})["card"]

    def replace_card(self, old_card_no: str, new_card_no: str) -> dict:
        """POST /cards/by-number/{old}/replace (idempotent): the new card, now bound to the member."""
        return self._post(f"/cards/by-number/{_path(old_card_no)}/replace", {"new_card_no": new_card_no})["card"]

    def bind_card(self, member_id: str, card_no: str) -> dict:
        """POST /members/{id}/cards (idempotent): bind an issued card to a member."""
        return self._post(f"/members/{_path(member_id)}/cards", {"card_no": card_no})["card"]


def _path(value: str) -> str:
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
