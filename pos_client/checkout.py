"""The checkout core, independent of any UI: idle → identified → quoted → committed → printed.

Front ends (Tk window, CLI) call these methods and show ``PosError`` texts; nothing here draws or prints
to a terminal. A sale is stored in the outbox with its Idempotency-Key before it is sent; the receipt
prints only after the server recorded the sale or the outbox durably holds it as an offline sale.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, tzinfo
from enum import Enum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from alliance_shared import voucher_codes
from alliance_shared.devices.card_reader import CardReader, CardReaderError
from alliance_shared.devices.member_card import Chip, card_read_body, read_card_blocks, write_card_update
from alliance_shared.pricing import SaleTerms, quote_sale
from card_layout.record import CardFormatError, verify_record
from pos_client.devices.printer import PrinterError, ReceiptPrinter
from pos_client.devices.receipt import Receipt
from pos_client.messages import PosError, ServerRefused, reader_error_key
from pos_client.money import yuan
from pos_client.outbox import Outbox
from pos_client.payments import DEFAULT as DEFAULT_PAYMENT
from pos_client.receipts import ReceiptBuilder, receipt_from_json, receipt_to_json
from pos_client.server_client import ApiError, ServerUnreachable, TerminalClient, new_idempotency_key
from pos_client.sync import replay

TERMINAL_INFO = "terminal_info"
LAST_RECEIPT = "last_receipt"
ALLIANCE_ZONE = "Asia/Shanghai"  # until the server told the terminal its alliance's zone
REDEEM_MAX = "max"
VOUCHER_WITHDRAWN = "voucher_withdrawn"
CARD_WAIT_SECONDS = 10.0


class State(Enum):
    """Where the current checkout stands."""

    IDLE = "idle"
    IDENTIFIED = "identified"
    QUOTED = "quoted"
    COMMITTED = "committed"
    PRINTED = "printed"


@dataclass
class Member:
    """The member being served, as the server (or, offline, the signed card record) describes them."""

    display_name: str
    level_name: str
    discount_bp: int
    points_balance: int | None
    masked_phone: str = ""
    method: str = "card"
    token: str | None = None
    offline: bool = False
    capture: dict = field(default_factory=dict)  # {"card": {...}} or {"code": "..."}: what an offline sale sends
    card_written: bool | None = None  # None: nothing to write; True/False: the anti-clone update was (not) written
    notice: str = ""  # something the cashier should know (card write-back failed, full price offline...)
    spend_needs_proof: bool = False  # identified by phone or typed card number: a code must prove the member
    vouchers: list[dict] = field(default_factory=list)  # identification.vouchers: usable at this merchant


@dataclass(frozen=True)
class VoucherChoice:
    """The voucher a sale redeems: one of the member's listed vouchers (by id) or a scanned or typed code."""

    voucher_id: str | None = None
    code: str | None = None  # normalised (no dashes, upper case)
    name: str = ""  # as identify listed it; a scanned code's voucher is named by the quote

    @property
    def request(self) -> dict:
        """The voucher as the quote and the sale request carry it."""
        return {"voucher_id": self.voucher_id} if self.voucher_id else {"voucher_code": self.code}

    @property
    def key(self) -> str:
        """One string per choice: what the quote was made for."""
        return f"id:{self.voucher_id}" if self.voucher_id else f"code:{self.code}"


def looks_like_voucher(text: str) -> bool:
    """Whether scanned or typed text is an alliance voucher code (16 characters of the voucher alphabet with a
    matching check character; dashes and spaces ignored), not a member code or card number (digits only)."""
    return voucher_codes.is_valid(text) and not voucher_codes.normalize(text).isdigit()


def meant_as_voucher(text: str) -> bool:
    """Whether text scanned or typed while a member is on screen is meant as a voucher code: a valid one, or
    one with a letter in it (member codes, card and phone numbers are digits), refused as mistyped."""
    return looks_like_voucher(text) or any(char.isalpha() for char in text)


@dataclass
class Quote:
    """A priced sale; vouchers and redemption only online. ``amount = discount + voucher + redeem_value + payable``:
    the level discount first, then the voucher, then points."""

    amount_fen: int
    discount_fen: int
    redeem_points: int
    redeem_value_fen: int
    payable_fen: int
    points_to_earn: int
    max_redeem_points: int
    voucher_fen: int = 0
    voucher: dict | None = None  # {id, name, kind, code_last4} of the voucher the quote applied


PRICED = ("amount_fen", "discount_fen", "redeem_points", "redeem_value_fen", "payable_fen", "points_to_earn")
PRICED += ("max_redeem_points",)


@dataclass
class SaleOutcome:
    """A committed sale: recorded by the server, queued offline, or stored with its outcome unknown."""

    seq: int
    status: str  # "approved", "offline", "unknown"
    receipt: Receipt
    sale: dict | None = None
    pending: int = 0


class Checkout:
    """One terminal's checkout: one member and one sale at a time."""

    def __init__(
        self,
        client: TerminalClient,
        outbox: Outbox,
        printer: ReceiptPrinter | None = None,
        reader: CardReader | None = None,
        *,
        width_mm: int = 58,
        lang: str = "zh",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self.client, self.outbox, self.printer, self.reader = client, outbox, printer, reader
        self.width_mm, self.lang, self.clock = width_mm, lang, clock
        self.state = State.IDLE
        self.member: Member | None = None
        self.quote_: Quote | None = None
        self.outcome: SaleOutcome | None = None
        self.online: bool | None = None
        self.last_apdus = 0
        self._info: dict | None = None
        self._priced_for: tuple[int, int | str, str] | None = None  # (amount_fen, redeem, voucher) quoted for
        self.voucher: VoucherChoice | None = None
        self._held: _HeldVoucherSale | None = None  # a voucher sale that could not reach the server
        self._chip: Chip | None = None  # the card on the reader during a one-request sale (tap and pay)

    # --- server facts ----------------------------------------------------------------------------

    def refresh(self) -> dict | None:
        """Fetch (and cache for offline use) who this terminal is; send waiting sales. None when offline."""
        try:
            info = self.client.whoami()
        except ServerUnreachable:
            self.online = False
            return None
        self.online = True
        self.outbox.put_json(TERMINAL_INFO, info)
        self._info = info
        self.sync()
        return info

    @property
    def info(self) -> dict | None:
        """The last terminal info fetched from the server (kept in the outbox for offline start-ups)."""
        if self._info is None:
            self._info = self.outbox.get_json(TERMINAL_INFO)
        return self._info

    def sync(self):
        """Send the outbox now (sales, then unfinished refunds; refused sales are reported); returns the SyncResult."""
        result = replay(self.client, self.outbox)
        self.online = result.unreachable is None
        return result

    @property
    def zone(self) -> tzinfo:
        """The alliance's time zone: times on paper are in it, as on the e-receipt."""
        name = (self.info or {}).get("alliance", {}).get("time_zone") or ALLIANCE_ZONE
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            return ZoneInfo(ALLIANCE_ZONE)

    def _next_receipt_no(self) -> str | None:
        """This terminal's next receipt number (it numbers its sales itself, so offline ones keep theirs)."""
        receipts = (self.info or {}).get("receipts")
        if not receipts:
            return None
        return f"{receipts['prefix']}-{self.outbox.next_receipt_seq(receipts['last_seq']):06d}"

    # --- identify --------------------------------------------------------------------------------

    def reset(self) -> None:
        """Back to idle for the next customer (a voucher sale that never reached the server is withdrawn)."""
        self.state, self.member, self.quote_, self.outcome = State.IDLE, None, None, None
        self._priced_for, self.voucher = None, None
        self._withdraw_voucher_sales()

    def _read_tapped_card(self, timeout: float):
        """Wait for a card and read it: (terminal info, card, chip, blocks, the read as the API takes it)."""
        if self.reader is None:
            raise PosError("reader_missing")
        info = self._require_info()
        try:
            card = self.reader.wait_for_card(timeout)
            chip = Chip(self.reader, card.uid)
            blocks = read_card_blocks(chip, base64.b64decode(info["alliance"]["card_read_key"]))
        except CardReaderError as exc:
            raise PosError(reader_error_key(exc)) from exc
        return info, card, chip, blocks, card_read_body(card.uid, blocks)

    def identify_card(self, timeout: float = CARD_WAIT_SECONDS) -> Member:
        """Wait for a card, read it, identify the member and write the anti-clone update while it is present."""
        self.reset()  # a new identification is a new customer, even when it fails
        info, card, chip, blocks, read = self._read_tapped_card(timeout)
        try:
            found = self.client.identify(card=read)
        except ServerUnreachable:
            member = self._offline_card_member(info, card.uid, blocks, read)
        except ApiError as exc:
            raise ServerRefused(exc.code, exc.message) from exc
        else:
            member = self._member(found, capture={"card": read})
            member.card_written = self._write_back(chip, found.get("card_update"))
            if member.card_written is False:
                member.notice = "card_write_failed"
        self.last_apdus = chip.apdu_count
        return self._identified(member)

    def tap_and_pay(
        self, amount_fen: int, payment_method: str = DEFAULT_PAYMENT, timeout: float = CARD_WAIT_SECONDS
    ) -> SaleOutcome:
        """The common sale in one request: the amount first, then a tap; no points redeemed.

        The chip read goes with the sale (``POST /sales`` with ``card``, no identify): the server identifies,
        prices and records it at once and answers with the member (shown after the sale, ``self.member``)
        and the chip's update, written while the card is still on the reader. Until the answer the sale is
        priced from the signed card record as an offline sale would be; that is the receipt if no answer
        comes (the outbox sends the sale again with its key). To redeem points, identify first.
        """
        self.reset()
        info, card, chip, blocks, read = self._read_tapped_card(timeout)
        self._identified(self._card_record_member(info, card.uid, blocks, read))
        self._chip = chip
        try:
            self.quote(amount_fen)
            outcome = self.commit(amount_fen, 0, payment_method)
        except (PosError, ServerRefused):
            self.reset()  # a refused tap leaves nothing to commit: the next tap is a new sale
            raise
        finally:
            self._chip = None
            self.last_apdus = chip.apdu_count
        return outcome

    def identify_code(self, code: str) -> Member:
        """Identify by a scanned or typed member code or printed card number."""
        return self._identify_text(code=code.strip())

    def identify_phone(self, phone: str) -> Member:
        """Identify by mobile number (online only)."""
        return self._identify_text(phone=phone.strip())

    def _identify_text(self, *, code: str | None = None, phone: str | None = None) -> Member:
        self.reset()  # a new identification is a new customer, even when it fails
        try:
            found = self.client.identify(code=code, phone=phone)
        except ServerUnreachable as exc:
            self.online = False
            raise PosError("offline_needs_card") from exc
        except ApiError as exc:
            raise ServerRefused(exc.code, exc.message) from exc
        self.online = True
        return self._identified(self._member(found, capture={"code": code} if code else {}))

    def _identified(self, member: Member) -> Member:
        # a new identification is a new customer: a new sale, nothing priced for anyone before survives it
        self.member, self.quote_, self.outcome, self.state = member, None, None, State.IDENTIFIED
        self._priced_for, self.voucher = None, None
        return member

    @staticmethod
    def _member(found: dict, capture: dict) -> Member:
        return Member(
            display_name=found["member"]["display_name"],
            level_name=found["member"]["level"]["name"],
            discount_bp=found["discount_bp"],
            points_balance=found["points_balance"],
            masked_phone=found["member"].get("masked_phone", ""),
            method=found["identification"]["method"],
            token=found["identification"]["token"],
            capture=capture,
            spend_needs_proof=bool(found["identification"].get("spend_needs_proof")),
            vouchers=list(found["identification"].get("vouchers") or []),
        )

    def _member_from_sale(self, member: Member, response: dict) -> None:
        """The member as the server's answer to a one-request sale shows them; the chip's update written."""
        found, sale = response["member"], response["sale"]
        member.display_name, member.masked_phone = found["display_name"], found.get("masked_phone", "")
        member.level_name, member.points_balance = sale["level"]["name"], sale["points_balance"]
        member.notice = ""
        if self._chip is not None:
            member.card_written = self._write_back(self._chip, response.get("card_update"))
            if member.card_written is False:
                member.notice = "card_write_failed"

    def _write_back(self, chip: Chip, card_update: dict | None) -> bool | None:
        if not card_update:
            return None
        try:
            write_card_update(chip, card_update)
        except CardReaderError:
            return False
        return True

    def _offline_card_member(self, info: dict, uid: bytes, blocks: dict, read: dict) -> Member:
        self.online = False
        member = self._card_record_member(info, uid, blocks, read)
        member.offline = True
        return member

    def _card_record_member(self, info: dict, uid: bytes, blocks: dict, read: dict) -> Member:
        """The member as the signed card record describes them (level and so the discount), not yet confirmed."""
        try:
            record = verify_record(info["alliance"]["card_public_key"], uid, blocks)
        except CardFormatError as exc:
            raise PosError("card_invalid_offline", reason=str(exc)) from exc
        levels = {level["rank"]: level for level in info.get("offline_pricing", {}).get("levels", [])}
        level = levels.get(record.level_rank)
        member = Member(
            display_name=f"卡号 {record.card_no[-4:]}",
            level_name=level["name"] if level else "",
            discount_bp=level["discount_bp"] if level else 10_000,
            points_balance=None,
            method="card",
            capture={"card": read},
        )
        if level is None:
            member.notice = "level_unknown_offline"
        return member

    # --- quote -----------------------------------------------------------------------------------

    def quote(self, amount_fen: int, redeem: int | str = 0) -> Quote:
        """Price the sale; ``redeem`` is a number of points or REDEEM_MAX. Offline: no redemption."""
        member = self._require_member()
        self._require_open_sale()
        self.quote_, self._priced_for = None, None  # a failed quote leaves nothing committable behind
        if self.state is State.QUOTED:
            self.state = State.IDENTIFIED
        pricing = (self.info or {}).get("offline_pricing", {})
        voucher = self.voucher
        if voucher is not None and (member.offline or member.token is None):
            raise PosError("voucher_not_offline")
        # points, or a voucher picked from the member's list, are spent only with the member's proof (a scanned
        # voucher code is its own proof: the member holds it)
        picked = voucher is not None and voucher.voucher_id is not None
        if (redeem or picked) and member.spend_needs_proof and not member.offline:
            raise PosError("proof_needed")
        if member.offline:
            if redeem:
                raise PosError("redeem_offline")
            self._check_offline_caps(amount_fen)
            quote = self._local_quote(amount_fen, member.discount_bp, pricing.get("earn_rate_bp", 0))
        elif not redeem and voucher is None and "earn_rate_bp" in pricing:
            # Without redemption the price needs nothing but the member's discount, which identify gave:
            # priced here with the server's rounding (saves a round trip per tap); the sale is the record.
            quote = self._local_quote(amount_fen, member.discount_bp, pricing["earn_rate_bp"])
        else:
            extra = voucher.request if voucher is not None else None
            try:
                priced = self.client.quote(member.token, amount_fen, 0 if redeem == REDEEM_MAX else int(redeem), extra)
                if redeem == REDEEM_MAX and priced["max_redeem_points"]:
                    # the first quote tells how many points the member may spend on this bill
                    priced = self.client.quote(member.token, amount_fen, priced["max_redeem_points"], extra)
            except ServerUnreachable as exc:
                self.online = False
                if voucher is not None:
                    raise PosError("voucher_not_offline") from exc
                raise PosError("server_unreachable", reason=exc.reason) from exc
            except ApiError as exc:
                raise _refusal(exc) from exc
            quote = Quote(
                **{name: priced[name] for name in PRICED},
                voucher_fen=priced.get("voucher_fen") or 0,
                voucher=priced.get("voucher"),
            )
        self.quote_, self.state = quote, State.QUOTED
        self._priced_for = (amount_fen, _redeem_choice(redeem), self._voucher_key())
        return quote

    def is_priced_for(self, amount_fen: int, redeem: int | str = 0) -> bool:
        """Whether the current quote was made for exactly this amount, redemption and voucher choice."""
        priced_for = (amount_fen, _redeem_choice(redeem), self._voucher_key())
        return self.quote_ is not None and self._priced_for == priced_for

    # --- vouchers (online only: never redeemed offline) -------------------------------------------

    def choose_voucher(self, voucher_id: str) -> VoucherChoice:
        """Redeem one of the identified member's vouchers (``identification.vouchers``) in this sale."""
        member = self._voucher_member()
        listed = next((found for found in member.vouchers if found.get("id") == voucher_id), None)
        if listed is None:
            raise PosError("voucher_not_listed")
        return self._set_voucher(VoucherChoice(voucher_id=voucher_id, name=listed.get("name", "")))

    def scan_voucher(self, code: str) -> VoucherChoice:
        """Redeem a scanned or typed voucher code in this sale; a mistyped code is refused before the server."""
        self._voucher_member()
        if not voucher_codes.is_valid(code):
            raise PosError("voucher_code_mistyped")
        return self._set_voucher(VoucherChoice(code=voucher_codes.normalize(code)))

    def remove_voucher(self) -> None:
        """No voucher in this sale (a voucher sale that could not reach the server is withdrawn)."""
        self._set_voucher(None)

    def _voucher_member(self) -> Member:
        member = self._require_member()
        self._require_open_sale()
        if member.offline or member.token is None:
            raise PosError("voucher_not_offline")
        return member

    def _set_voucher(self, choice: VoucherChoice | None) -> VoucherChoice | None:
        if self._held is not None and (choice is None or choice.key != self._voucher_key()):
            self._withdraw_voucher_sales()
        self.voucher, self.quote_, self._priced_for = choice, None, None
        if self.state is State.QUOTED:
            self.state = State.IDENTIFIED
        return choice

    def _voucher_key(self) -> str:
        return self.voucher.key if self.voucher is not None else ""

    def _withdraw_voucher_sales(self) -> None:
        """A voucher sale still waiting was never answered while the cashier waited: it is withdrawn (kept as
        refused at the till, so no later replay sends it: vouchers are never redeemed offline)."""
        self._held = None
        for seq in self.outbox.waiting_voucher_sales():
            reason = f"{VOUCHER_WITHDRAWN}: withdrawn at the till, vouchers are never redeemed offline"
            self.outbox.mark_failed(seq, reason, at_till=True)

    def request_proof_code(self) -> str:
        """Have the server text the member a one-time code; returns the masked phone it went to."""
        member = self._require_member()
        sent = self._call(lambda: self.client.request_proof_code(member.token))
        return sent["masked_phone"]

    def confirm_proof(self, code: str) -> Member:
        """The code the member read out: once the server accepts it, the member may spend points."""
        member = self._require_member()
        self._call(lambda: self.client.confirm_proof(member.token, code.strip()))
        member.spend_needs_proof = False
        return member

    def _call(self, request: Callable[[], dict]) -> dict:
        try:
            return request()
        except ServerUnreachable as exc:
            self.online = False
            raise PosError("server_unreachable", reason=exc.reason) from exc
        except ApiError as exc:
            raise ServerRefused(exc.code, exc.message) from exc

    def _local_quote(self, amount_fen: int, discount_bp: int, earn_rate_bp: int) -> Quote:
        """The sale without redemption priced here by the shared rule the server prices it with."""
        terms = SaleTerms(
            discount_bp, earn_rate_bp, max_redeem_bp=0, point_value_fen=self.info["alliance"]["point_value_fen"]
        )
        local = quote_sale(amount_fen, 0, 0, terms)
        return Quote(**{name: getattr(local, name) for name in PRICED})

    def _check_offline_caps(self, amount_fen: int) -> None:
        limits = self._require_info()["offline_limits"]
        if amount_fen > limits["max_sale_fen"]:
            raise PosError("offline_over_sale_cap", limit=yuan(limits["max_sale_fen"]))
        if self.outbox.offline_sales_in_shift() >= limits["max_sales_per_shift"]:
            raise PosError("offline_over_shift_cap", limit=limits["max_sales_per_shift"])
        oldest = self.outbox.oldest_pending_offline()
        if oldest is not None and self.clock() - oldest > timedelta(hours=limits["max_age_hours"]):
            raise PosError("offline_too_old", hours=limits["max_age_hours"])

    # --- commit and print ------------------------------------------------------------------------

    def commit(self, amount_fen: int, redeem: int | str = 0, payment_method: str = DEFAULT_PAYMENT) -> SaleOutcome:
        """Store the sale in the outbox, then send it (after any older waiting sales).

        ``amount_fen`` and ``redeem`` are what the cashier's screen holds now: the sale is committed only when
        the quote was made for exactly those, so a figure priced for other inputs can never be charged.
        """
        member, quote = self._require_member(), self.quote_
        self._require_open_sale()
        if quote is None or self.state is not State.QUOTED:
            raise PosError("no_quote")
        if not self.is_priced_for(amount_fen, redeem):
            raise PosError("quote_stale")
        voucher = self.voucher
        if voucher is not None and (member.offline or member.token is None):
            raise PosError("voucher_not_offline")
        held = self._held if self._held is not None and self._held.priced_for == self._priced_for else None
        if held is None and self._held is not None:  # the sale changed since it could not be sent
            self._withdraw_voucher_sales()
        if held is not None:  # sent again as stored: how the customer pays is what the stored sale says
            payment_method = self.outbox.sale(held.seq).body.get("payment_method", payment_method)
        now = held.when if held else self.clock()
        client_sale_id = str(uuid.uuid4())
        key = new_idempotency_key()
        number = held.number if held else self._next_receipt_no()
        common = {
            "amount_fen": quote.amount_fen,
            "client_sale_id": client_sale_id,
            "occurred_at": now.isoformat(),
            "payment_method": payment_method,
            **({"receipt_no": number} if number else {}),
        }
        offline_body = {**common, "redeem_points": 0, "offline": True, "card_update_written": None, **member.capture}
        if member.offline:
            body, fallback = offline_body, None
        elif member.token is None:  # one request (tap and pay): the chip read goes with the sale
            body = {**common, **member.capture, "redeem_points": 0, "offline": False}
            # Sent again after a lost answer with the same key: a recorded sale is answered from the server's
            # idempotency store; one never recorded, whose chip read a tap elsewhere has since made stale, is
            # refused card_read_superseded (the card is not frozen) and goes as this offline capture instead.
            fallback = offline_body
        else:
            body = {
                **common,
                "identification_token": member.token,
                "redeem_points": quote.redeem_points,
                "offline": False,
                "card_update_written": member.card_written,
                **(voucher.request if voucher is not None else {}),
            }
            # Without points redeemed, a sale whose token expired before it reached the server is sent as an
            # offline sale replaying that identification (a member code cannot be used twice; a phone has none).
            # A voucher sale never goes offline: it has no fallback.
            replayed = {**common, "redeem_points": 0, "offline": True, "identification_token": member.token}
            fallback = replayed if not quote.redeem_points and voucher is None else None
        receipt = self.receipts.quoted_sale(
            member, quote, now, offline=member.offline, number=number, paid_by=payment_method
        )
        if held is not None:  # sent again as it was stored: the same key, the same sale
            seq = held.seq
        else:
            seq = self.outbox.add_sale(key, client_sale_id, body, offline=member.offline, fallback=fallback)
        self.state = State.COMMITTED
        if member.offline:
            outcome = SaleOutcome(seq, "offline", receipt, pending=self.outbox.pending_count())
        else:
            printed: dict = {}

            def receipt_for(sent, response):
                if sent.seq != seq:
                    return None
                if member.token is None and response.get("member"):  # sold in one request: now we know who
                    self._member_from_sale(member, response)
                gift = response.get("gift") or response["sale"].get("gift")
                printed["receipt"] = self.receipts.recorded_sale(
                    member, response["sale"], now, payment_method, gift=gift
                )
                return receipt_to_json(printed["receipt"])

            result = replay(
                self.client, self.outbox, until_seq=seq, receipt_for=receipt_for, last_receipt_key=LAST_RECEIPT
            )
            sale = self.outbox.sale(seq)
            self._held = None
            if sale.state == "pending" and voucher is not None:
                # not answered: the voucher is not redeemed offline. F5 sends the same sale again (same key);
                # removing the voucher withdraws it and the sale goes on without it.
                self._held = _HeldVoucherSale(seq, self._priced_for, now, number)
                self.online, self.state = False, State.QUOTED
                raise PosError("voucher_offline_unreachable")
            if sale.state == "sent":
                self.online = True
                sold = sale.response["sale"]
                outcome = SaleOutcome(seq, "approved", printed["receipt"], sale=sold, pending=result.remaining)
            elif sale.state == "failed":
                self.state = State.QUOTED
                code, _, message = (sale.error or "").partition(": ")
                raise ServerRefused(code, message)
            else:
                self.online = False
                receipt = self.receipts.quoted_sale(
                    member, quote, now, offline=True, number=number, paid_by=payment_method
                )
                outcome = SaleOutcome(seq, "unknown", receipt, pending=result.remaining)
        if outcome.status != "approved":  # approved: kept with the server's answer
            # points spent on an unconfirmed sale may yet be refused: kept, but never reprinted as the last receipt
            last = None if quote.redeem_points else LAST_RECEIPT
            self.outbox.keep_receipt(seq, receipt_to_json(outcome.receipt), last)
        self.outcome = outcome
        return outcome

    def print_receipt(self) -> None:
        """Print the committed sale's receipt; PosError (sale kept) when the printer fails."""
        if self.outcome is None:
            raise PosError("nothing_to_reprint")
        if self.outcome.status == "unknown" and self.outcome.receipt.redeem_points:
            # points spent on an unconfirmed sale may yet be refused: no receipt may promise them
            raise PosError("outcome_unknown_redeem")
        self.print_slip(self.outcome.receipt)
        self.state = State.PRINTED

    def reprint(self, receipt_no: str | None = None) -> Receipt:
        """Print the last receipt (or the last slip of ``receipt_no``: the sale's or its latest refund's) again."""
        stored = self.outbox.receipt_of(receipt_no.strip()) if receipt_no else self.outbox.get_json(LAST_RECEIPT)
        if stored is None:
            raise PosError("nothing_to_reprint")
        receipt = replace(receipt_from_json(stored), reprint=True)
        self.print_slip(receipt)
        if receipt.refund is not None:
            self.outbox.refund_slips_printed(receipt.receipt_no)
        return receipt

    def print_slip(self, receipt: Receipt) -> None:
        """Print one receipt or refund slip on this till's printer; PosError ``printer_offline`` when it fails."""
        if self.printer is None:
            return
        try:
            self.printer.print_receipt(receipt, self.width_mm, self.lang)
        except PrinterError as exc:
            raise PosError("printer_offline", reason=exc) from exc

    def shop_header(self) -> dict:
        """The receipt's shop lines from the terminal info: merchant name and address, terminal name."""
        info = self.info or {}
        return {
            "merchant_name": info.get("merchant", {}).get("name", ""),
            "merchant_address": info.get("merchant", {}).get("address", ""),
            "terminal_name": info.get("terminal", {}).get("name", ""),
        }

    @property
    def receipts(self) -> ReceiptBuilder:
        """The builder of this till's receipts and refund slips (shop lines and time zone as known now)."""
        return ReceiptBuilder(self.shop_header(), self.zone, self.client.base_url)

    def _require_open_sale(self) -> None:
        # One identification is one sale: charging again needs the member identified again.
        if self.state in (State.COMMITTED, State.PRINTED):
            raise PosError("sale_already_done")

    def _require_member(self) -> Member:
        if self.member is None:
            raise PosError("no_member")
        return self.member

    def _require_info(self) -> dict:
        info = self.info
        if info is None:
            info = self.refresh()
        if info is None:
            raise PosError("offline_no_info")
        return info


@dataclass(frozen=True)
class _HeldVoucherSale:
    """A voucher sale stored and sent, not answered: sent again with its key only while the cashier waits."""

    seq: int
    priced_for: tuple
    when: datetime
    number: str | None


def _refusal(exc: ApiError) -> PosError:
    """The server's refusal in the cashier's words (a voucher's minimum spend with its amount)."""
    minimum = (exc.details or {}).get("min_spend_fen")
    if exc.code == "voucher_min_spend" and isinstance(minimum, int):
        return PosError("voucher_min_spend_amount", minimum=yuan(minimum))
    return ServerRefused(exc.code, exc.message)


def _redeem_choice(redeem: int | str | None) -> int | str:
    """A redemption choice in one form: REDEEM_MAX, or a number of points (0: none)."""
    return REDEEM_MAX if redeem == REDEEM_MAX else int(redeem or 0)
