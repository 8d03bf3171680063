"""Hand out a card at the till: bind a new card (printed or encoded) to the identified, proven member and
print a short slip (docs/terminal-api.md, ``POST /cards/{card_no}/binding``).

The binding's Idempotency-Key is derived from the identification and the card number, so trying the same
binding again (a lost answer, a second press) replays the first answer instead of being refused as a card
already bound. Binding needs the server; a printer failure after it is only a printer failure.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from pos_client.checkout import Checkout
from pos_client.devices.printer import PrinterError
from pos_client.messages import PosError, ServerRefused, text
from pos_client.server_client import ApiError, ServerUnreachable

CARD_NUMBER_DIGITS = 16


@dataclass(frozen=True)
class BindOutcome:
    """A card the server bound: its answer, the slip's lines, and whether the slip printed."""

    binding: dict
    title: str
    lines: list[str]
    print_error: PosError | None = None

    def summary(self, lang: str = "zh") -> str:
        """One line for the cashier's screen."""
        member = self.binding["member"]
        return text(
            "bind_done",
            lang,
            card_no=self.binding["card"]["card_no_masked"],
            name=member["display_name"],
            phone=member["masked_phone"],
            level=member["level"]["name"],
        )


def card_number(typed: str) -> str:
    """The 16-digit card number in what was typed or scanned (spaces allowed); PosError when it is none."""
    digits = "".join(typed.split())
    if len(digits) != CARD_NUMBER_DIGITS or not digits.isascii() or not digits.isdigit() or not _luhn_ok(digits):
        raise PosError("bind_card_no_invalid", card_no=typed.strip())
    return digits


def _luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def binding_key(identification_token: str, card_no: str) -> str:
    """The Idempotency-Key of binding ``card_no`` to this identification's member (the same for every retry)."""
    return "bind-" + hashlib.sha256(f"{identification_token}:{card_no}".encode()).hexdigest()[:40]


def bind_card(checkout: Checkout, typed_card_no: str) -> BindOutcome:
    """Bind the card to the member identified at this till, then print the slip.

    The server refuses (``ServerRefused``) a member without proof (``binding_proof_required``: prove the
    member with the SMS code, then try again) and a card that is unknown, not issued, bound or blocked.
    """
    card_no = card_number(typed_card_no)
    member = checkout.member
    if member is None:
        raise PosError("bind_how")
    if member.offline or not member.token:
        raise PosError("bind_needs_server")
    try:
        binding = checkout.client.bind_card(card_no, member.token, binding_key(member.token, card_no))
    except ServerUnreachable as exc:
        checkout.online = False
        raise PosError("bind_needs_server") from exc
    except ApiError as exc:
        raise ServerRefused(exc.code, exc.message) from exc
    checkout.online = True
    # a card of a levelled batch may have lifted the member: the next sale is priced at the new level
    member.level_name = binding["member"]["level"]["name"]
    member.discount_bp = binding["member"]["discount_bp"]
    title, lines = slip(checkout, binding)
    print_error = None
    if checkout.printer is not None:
        try:
            checkout.printer.print_text(title, lines)
        except PrinterError as exc:
            print_error = PosError("printer_offline_bind", reason=exc)
    return BindOutcome(binding, title, lines, print_error)


def slip(checkout: Checkout, binding: dict) -> tuple[str, list[str]]:
    """The binding slip: shop, masked card number, masked member, level, time in the alliance's zone."""
    lang, member = checkout.lang, binding["member"]
    when = datetime.fromisoformat(binding["bound_at"]).astimezone(checkout.zone)
    shop = checkout.shop_header()
    lines = [
        text("bind_slip_shop", lang, shop=shop["merchant_name"]),
        text("bind_slip_card", lang, card_no=binding["card"]["card_no_masked"]),
        text("bind_slip_member", lang, name=member["display_name"], phone=member["masked_phone"]),
        text("bind_slip_level", lang, level=member["level"]["name"]),
        text("bind_slip_time", lang, when=when.strftime("%Y-%m-%d %H:%M")),
    ]
    return text("bind_slip_title", lang), lines
