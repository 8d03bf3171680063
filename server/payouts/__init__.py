"""Payout channels: how approved withdrawals reach the agents (a plug-in interface, like the SMS senders).

A channel receives :class:`PayoutOrder`s — one per withdrawal, each with our unique reference
``out_detail_no`` — and answers a :class:`PayoutResult` per order: ``succeeded``, ``failed`` (with the
channel's reason) or ``pending`` (sent, the answer comes later). The service records every result
(``server/services/withdrawals.py``); an order whose reference the channel already knows is never paid
twice: the bank file lists a reference once, WeChat Pay refuses a second transfer with the same
``out_detail_no`` and we send the same ``out_batch_no`` again only to read its state.

Channels (setting ``PAYOUT_CHANNEL``):

- ``bank_file`` (:mod:`server.payouts.bank_file`): a CSV batch file for the bank's 批量代付 upload; every
  order stays pending until the bank's answer is imported;
- ``wechat`` (:mod:`server.payouts.wechat_pay`): WeChat Pay's 商家转账到零钱 (API v3 transfer batches),
  signed requests and verified answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

SUCCEEDED = "succeeded"
FAILED = "failed"
PENDING = "pending"


@dataclass(frozen=True)
class PayoutOrder:
    """One payment to one agent: the net amount in fen to its bank account or WeChat openid."""

    out_detail_no: str  # our reference, unique per withdrawal (letters and digits, ≤ 32)
    amount_fen: int
    account_name: str  # the payee's real name (户名)
    account_number: str  # bank account number, or the WeChat openid
    bank: str = ""  # the bank's name (bank file only)
    purpose: str = "佣金提现"


@dataclass(frozen=True)
class PayoutResult:
    out_detail_no: str
    status: str  # SUCCEEDED, FAILED or PENDING
    fail_reason: str = ""
    channel_reference: str = ""  # the channel's own id (WeChat detail_id), when it gives one


class PayoutUnavailable(Exception):
    """The channel could not take the orders now (unreachable, rate limited, its own error, not enough
    funds in the merchant account): nothing was paid, the orders stay approved for a later run."""

    def __init__(self, code: str, message: str = ""):
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code


class PayoutChannel(Protocol):
    name: str

    @classmethod
    def from_config(cls, config) -> PayoutChannel: ...

    def submit(self, orders: list[PayoutOrder]) -> list[PayoutResult]:
        """Send the orders (a resend of a known reference only reads its state); one result per order."""
        ...


def channels() -> dict[str, type]:
    from server.payouts.bank_file import BankFileChannel
    from server.payouts.wechat_pay import WeChatPayChannel

    return {BankFileChannel.name: BankFileChannel, WeChatPayChannel.name: WeChatPayChannel}


def channel_named(name: str, config) -> PayoutChannel:
    known = channels()
    if name not in known:
        raise RuntimeError(f"unknown payout channel {name!r}; known: {', '.join(sorted(known))}")
    return known[name].from_config(config)
