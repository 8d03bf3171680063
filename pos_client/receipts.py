"""The one place the POS builds what it prints: a sale's receipt (as quoted or as recorded) and a refund slip.

``ReceiptBuilder`` fills a ``Receipt`` (``pos_client/devices/receipt.py`` lays it out) from the terminal's
shop lines, the alliance's time zone and the server's answers; ``receipt_to_json`` / ``receipt_from_json``
are the form the outbox keeps a receipt in, so a reprint prints the same receipt again.
"""

from __future__ import annotations

from dataclasses import asdict, fields
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING

from pos_client.devices.receipt import GiftInfo, Receipt, RefundInfo

if TYPE_CHECKING:
    from pos_client.checkout import Member, Quote

OFFLINE_RECEIPT_NO = "离线"  # an offline sale's receipt without a number of its own (no receipt prefix yet)


class ReceiptBuilder:
    """Builds the receipts of one terminal: its shop lines, its alliance's time zone and its server's address."""

    def __init__(self, shop_header: dict, zone: tzinfo, base_url: str):
        self.shop_header, self.zone, self.base_url = shop_header, zone, base_url

    def quoted_sale(
        self, member: Member, quote: Quote, when: datetime, *, offline: bool, number: str | None, paid_by: str
    ) -> Receipt:
        """A sale as the till priced it: offline, or with its outcome not known yet (no balance after it)."""
        return Receipt(
            **self._head(when),
            receipt_no=number or (OFFLINE_RECEIPT_NO if offline else ""),
            payment_method=paid_by,
            # the sale has no id yet: the e-receipt is found by its (alliance-wide) number once uploaded
            ereceipt_url=f"{self.base_url}/m/receipts/{number}" if number else "",
            amount_fen=quote.amount_fen,
            discount_fen=quote.discount_fen,
            redeem_points=quote.redeem_points,
            redeem_value_fen=quote.redeem_value_fen,
            payable_fen=quote.payable_fen,
            points_earned=quote.points_to_earn,
            points_balance=None,
            level_name=member.level_name,
            member_name=member.display_name,
            member_phone=member.masked_phone,
            offline=offline,
            **_voucher_lines(quote.voucher_fen, quote.voucher),
        )

    def recorded_sale(
        self, member: Member, sale: dict, when: datetime, paid_by: str, gift: dict | None = None
    ) -> Receipt:
        """A sale as the server recorded it (``sale`` from its answer): the balance and level after it, the
        voucher it redeemed and the gift voucher it granted (满赠, ``gift`` from the answer)."""
        return Receipt(
            **self._head(when),
            receipt_no=sale["receipt_no"],
            payment_method=sale.get("payment_method", paid_by),
            amount_fen=sale["amount_fen"],
            discount_fen=sale["discount_fen"],
            redeem_points=sale["redeem_points"],
            redeem_value_fen=sale["redeem_value_fen"],
            payable_fen=sale["payable_fen"],
            points_earned=sale["points_earned"],
            points_balance=sale["points_balance"],
            level_name=sale["level"]["name"],
            member_name=member.display_name,
            member_phone=member.masked_phone,
            ereceipt_url=f"{self.base_url}/m/sales/{sale['id']}",
            gift=GiftInfo(gift["name"], gift["code"], gift.get("expires_on") or "") if gift else None,
            **_voucher_lines(sale.get("voucher_fen") or 0, sale.get("voucher")),
        )

    def refund_slip(self, sale: dict, refund: dict, when: datetime, paid_by: str) -> Receipt:
        """The slip of a refund the server made: the sale it refunds and ``refund``, the server's answer."""
        return Receipt(
            **self._head(when),
            receipt_no=sale["receipt_no"],
            amount_fen=sale["amount_fen"],
            discount_fen=sale["discount_fen"],
            redeem_points=sale["redeem_points"],
            redeem_value_fen=sale["redeem_value_fen"],
            payable_fen=sale["payable_fen"],
            points_balance=refund["points_balance"],
            level_name=sale["level"]["name"],
            refund=RefundInfo(
                refund["amount_fen"],
                refund["points_reversed"],
                refund["points_restored"],
                refund.get("reason", ""),
                voucher_restored=refund.get("voucher_restored") if sale.get("voucher") else None,
            ),
            payment_method=refund.get("payment_method", paid_by),
            **_voucher_lines(sale.get("voucher_fen") or 0, sale.get("voucher")),
        )

    def _head(self, when: datetime) -> dict:
        """What every receipt starts with: the shop lines and the time in the alliance's zone."""
        return {**self.shop_header, "time": when.astimezone(self.zone)}


def _voucher_lines(voucher_fen: int, voucher: dict | None) -> dict:
    """The receipt's voucher line: its name, the last four characters of its code and what it took off."""
    if not voucher:
        return {}
    return {
        "voucher_fen": voucher_fen,
        "voucher_name": voucher.get("name", ""),
        "voucher_last4": voucher.get("code_last4") or "",
    }


def receipt_to_json(receipt: Receipt) -> dict:
    """A receipt as the outbox keeps it (one level deep: ``asdict`` would deep-copy every scalar, at every tap)."""
    data = {name: getattr(receipt, name) for name in _RECEIPT_FIELDS}
    data["time"] = receipt.time.isoformat()
    for name in ("refund", "gift"):
        if data[name] is not None:
            data[name] = asdict(data[name])
    return data


_RECEIPT_FIELDS = tuple(field.name for field in fields(Receipt))


def receipt_from_json(data: dict) -> Receipt:
    """A receipt kept by the outbox."""
    values = dict(data)
    values["time"] = datetime.fromisoformat(values["time"])
    if values.get("refund"):
        values["refund"] = RefundInfo(**values["refund"])
    if values.get("gift"):
        values["gift"] = GiftInfo(**values["gift"])
    return Receipt(**values)
