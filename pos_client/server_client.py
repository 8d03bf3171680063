"""HTTP client for the terminal API (TERMINAL_API.md); errors arrive as ApiError with the stable code."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import requests


class ServerUnreachable(Exception):
    """The server did not answer in time (the POS then works offline)."""


class ApiError(Exception):
    """The server refused the request; ``code`` is the stable error code of TERMINAL_API.md."""

    def __init__(self, status: int, code: str, message: str, details: dict | None = None):
        super().__init__(f"{code}: {message}")
        self.status, self.code, self.message, self.details = status, code, message, details or {}


@dataclass
class TerminalClient:
    """A terminal's connection to the server, authenticated with its bearer token."""

    base_url: str
    token: str
    timeout: float = 5.0

    def __post_init__(self):
        self.base_url = self.base_url.rstrip("/")
        self._session = requests.Session()
        self._session.headers.update({"Authorization": f"Bearer {self.token}", "Accept": "application/json"})

    def _call(
        self, method: str, path: str, json: dict | None = None, idempotency_key: str | None = None
    ) -> dict:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        try:
            response = self._session.request(
                method, f"{self.base_url}/api/v1{path}", json=json, headers=headers, timeout=self.timeout
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise ServerUnreachable(str(exc)) from exc
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code >= 400:
            body = body if isinstance(body, dict) else {}
            raise ApiError(
                response.status_code,
                body.get("error", "http_error"),
                body.get("message", response.reason),
                body.get("details"),
            )
        if body is None:
            raise ApiError(response.status_code, "bad_response", "The server answered without JSON.")
        return body

    def whoami(self) -> dict:
        """GET /terminal: the terminal, merchant, alliance and offline limits."""
        return self._call("GET", "/terminal")

    def identify(
        self, *, card: dict | None = None, code: str | None = None, phone: str | None = None
    ) -> dict:
        """POST /identify with exactly one of card, code, phone."""
        body = {
            name: value
            for name, value in (("card", card), ("code", code), ("phone", phone))
            if value is not None
        }
        return self._call("POST", "/identify", body)

    def quote(self, identification_token: str, amount_fen: int, redeem_points: int = 0) -> dict:
        """POST /sales/quote."""
        return self._call(
            "POST",
            "/sales/quote",
            {
                "identification_token": identification_token,
                "amount_fen": amount_fen,
                "redeem_points": redeem_points,
            },
        )

    def record_sale(self, sale: dict, idempotency_key: str) -> dict:
        """POST /sales with the key the outbox stored before sending."""
        return self._call("POST", "/sales", sale, idempotency_key)

    def refund(self, sale_id: str, amount_fen: int | None, idempotency_key: str) -> dict:
        """POST /sales/{id}/refunds (None: the whole rest)."""
        body = {} if amount_fen is None else {"amount_fen": amount_fen}
        return self._call("POST", f"/sales/{sale_id}/refunds", body, idempotency_key)

    def find_sale(self, receipt_no: str) -> dict | None:
        """GET /sales?receipt_no=...: the sale with this receipt number at this merchant, if any."""
        sales = self._call("GET", f"/sales?receipt_no={requests.utils.quote(receipt_no)}")
        return sales[0] if sales else None


def new_idempotency_key() -> str:
    """A fresh Idempotency-Key."""
    return str(uuid.uuid4())
