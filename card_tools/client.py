"""The operator (staff) API calls the card tools make, over the shared API client."""

from __future__ import annotations

import json
from collections.abc import Iterator

from alliance_shared.http_client import ApiClient, ApiError, ServerUnreachable, path_part

DEFAULT_PAGE_SIZE = 10_000  # the most /card-batches/{id}/cards serves per page

__all__ = ["ApiError", "ServerUnreachable", "StaffClient"]


class StaffClient(ApiClient):
    """An operator's connection to the server, authenticated with a personal token (pt_...)."""

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
        kind: str = "chip",
    ) -> dict:
        """POST /card-batches (idempotent): the new batch (kind chip: to encode; printed: no chip)."""
        body = {
            "count": count,
            "kind": kind,
            "card_type": card_type,
            "level": level,
            "name": name,
            "print_details": print_details or {},
        }
        return self._post("/card-batches", body)["batch"]

    def list_batches(self, page: int = 1, page_size: int = 50) -> list[dict]:
        """GET /card-batches, newest first."""
        return self.request("GET", "/card-batches", params={"page": page, "page_size": page_size})

    def batch(self, batch_id: str) -> dict:
        """GET /card-batches/{id}: the batch with its progress per card status."""
        return self.request("GET", f"/card-batches/{path_part(batch_id)}")["batch"]

    def batch_cards(
        self, batch_id: str, page_size: int | None = None, status: str | None = None
    ) -> Iterator[list[dict]]:
        """The cards of a batch (optionally only those in ``status``) in card-number order, a page at a time."""
        page, page_size = 1, page_size or DEFAULT_PAGE_SIZE
        while True:
            params = {"page": page, "page_size": page_size} | ({"status": status} if status else {})
            cards = self.request("GET", f"/card-batches/{path_part(batch_id)}/cards", params=params)
            if cards:
                yield cards
            pagination = json.loads(self.last_headers.get("X-Pagination") or "{}")
            next_page = pagination.get("next_page")
            if not cards or not next_page:
                return
            page = next_page

    def plan_chip(self, batch_id: str, uid: str) -> dict:
        """PUT /card-batches/{id}/chips/{uid}: the card this chip gets, with the blocks and keys to write."""
        return self.request("PUT", f"/card-batches/{path_part(batch_id)}/chips/{path_part(uid)}")

    def confirm_chip(self, batch_id: str, uid: str) -> dict:
        """PUT .../chips/{uid}/confirmation: the chip was written and verified; the card becomes issued."""
        return self.request("PUT", f"/card-batches/{path_part(batch_id)}/chips/{path_part(uid)}/confirmation")["card"]

    def chip_keys(self, uid: str) -> dict:
        """GET /chips/{uid}/keys: every sector key of an encoded chip (audited)."""
        return self.request("GET", f"/chips/{path_part(uid)}/keys")

    # --- card lifecycle --------------------------------------------------------------------------

    def card(self, card_no: str) -> dict:
        """GET /cards/by-number/{card_no}."""
        return self.request("GET", f"/cards/by-number/{path_part(card_no)}")["card"]

    def change_card(self, card_no: str, action: str, reason: str = "") -> dict:
        """POST /cards/by-number/{card_no}/{lost|freeze|unfreeze|cancel} (idempotent)."""
        if action not in {"lost", "freeze", "unfreeze", "cancel"}:
            raise ValueError(f"unknown card action {action!r}")
        return self._post(f"/cards/by-number/{path_part(card_no)}/{action}", {"reason": reason})["card"]

    def replace_card(self, old_card_no: str, new_card_no: str) -> dict:
        """POST /cards/by-number/{old}/replace (idempotent): the new card, now bound to the member."""
        return self._post(f"/cards/by-number/{path_part(old_card_no)}/replace", {"new_card_no": new_card_no})["card"]

    def bind_card(self, member_id: str, card_no: str) -> dict:
        """POST /members/{id}/cards (idempotent): bind an issued card to a member."""
        return self._post(f"/members/{path_part(member_id)}/cards", {"card_no": card_no})["card"]
