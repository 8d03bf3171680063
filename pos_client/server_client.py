"""The terminal API (docs/terminal-api.md) as the POS calls it, over the shared API client."""

from __future__ import annotations

from alliance_shared.http_client import ApiClient, ApiError, ServerUnreachable, new_idempotency_key, path_part

__all__ = ["ApiError", "ServerUnreachable", "TerminalClient", "new_idempotency_key"]


class TerminalClient(ApiClient):
    """A terminal's connection to the server, authenticated with its bearer token (tt_...)."""

    def whoami(self) -> dict:
        """GET /terminal: the terminal, merchant, alliance and offline limits."""
        return self.request("GET", "/terminal")

    def identify(self, *, card: dict | None = None, code: str | None = None, phone: str | None = None) -> dict:
        """POST /identify with exactly one of card, code, phone."""
        body = {name: value for name, value in (("card", card), ("code", code), ("phone", phone)) if value is not None}
        return self.request("POST", "/identify", json_body=body)

    def request_proof_code(self, identification_token: str) -> dict:
        """POST /identifications/{token}/proof-code: text the member a one-time code."""
        return self.request("POST", f"/identifications/{path_part(identification_token)}/proof-code", json_body={})

    def confirm_proof(self, identification_token: str, code: str) -> dict:
        """POST /identifications/{token}/proof: the code the member read out upgrades the identification."""
        path = f"/identifications/{path_part(identification_token)}/proof"
        return self.request("POST", path, json_body={"code": code})

    def quote(
        self, identification_token: str, amount_fen: int, redeem_points: int = 0, voucher: dict | None = None
    ) -> dict:
        """POST /sales/quote; ``voucher`` is ``{"voucher_id": ...}`` or ``{"voucher_code": ...}`` (or None)."""
        body = {"identification_token": identification_token, "amount_fen": amount_fen, "redeem_points": redeem_points}
        return self.request("POST", "/sales/quote", json_body={**body, **(voucher or {})})

    def record_sale(self, sale: dict, idempotency_key: str) -> dict:
        """POST /sales with the key the outbox stored before sending."""
        return self.request("POST", "/sales", json_body=sale, idempotency_key=idempotency_key)

    def refund(self, sale_id: str, body: dict, idempotency_key: str) -> dict:
        """POST /sales/{id}/refunds with the request the outbox stored (no amount_fen: the whole rest)."""
        return self.request(
            "POST", f"/sales/{path_part(sale_id)}/refunds", json_body=body, idempotency_key=idempotency_key
        )

    def report_rejected(self, report: dict) -> dict:
        """POST /sales/rejected: a sale the server refused after the customer paid, kept for an operator."""
        return self.request("POST", "/sales/rejected", json_body=report)

    def find_sale(self, receipt_no: str) -> dict | None:
        """GET /sales?receipt_no=...: the sale with this receipt number at this merchant, if any."""
        sales = self.request("GET", "/sales", params={"receipt_no": receipt_no})
        return sales[0] if sales else None

    def bind_card(self, card_no: str, identification_token: str, idempotency_key: str) -> dict:
        """POST /cards/{card_no}/binding: hand out a card to the identified (and proven) member."""
        return self.request(
            "POST",
            f"/cards/{path_part(card_no)}/binding",
            json_body={"identification_token": identification_token},
            idempotency_key=idempotency_key,
        )
