"""The Tk cashier window: big keys, amount pad, member panel, redemption, device and outbox status.

Every server or card call runs on a worker thread; results come back to the Tk thread through
``after`` so the window never freezes while the server is slow or the reader waits for a card.
"""

from __future__ import annotations

import queue
import re
import threading
import time
import tkinter as tk
from collections.abc import Callable
from pathlib import Path
from tkinter import font as tkfont
from tkinter import simpledialog

from alliance_shared.devices.card_reader import CardReaderError
from alliance_shared.devices.pcsc_reader import PcscCardReader
from pos_client.card_binding import BindOutcome, card_number
from pos_client.card_binding import bind_card as bind_member_card
from pos_client.checkout import REDEEM_MAX, Checkout, meant_as_voucher
from pos_client.config import PosConfig
from pos_client.devices.printer import DummyPrinter, PrinterError
from pos_client.devices.scanner import KeyboardWedgeScanner, Scanned
from pos_client.gui.amount_pad import amount_after_key
from pos_client.gui.labels import LABELS
from pos_client.messages import PosError, ServerRefused, reader_error_key, text
from pos_client.money import AmountError, discount_text, parse_amount, yuan
from pos_client.payments import DEFAULT as DEFAULT_PAYMENT
from pos_client.payments import METHODS, method_for_key, method_name
from pos_client.refunds import find_sale, needs_authorisation, refund_by_receipt
from pos_client.shift_report import close_shift
from pos_client.sync import rejected_lines
from pos_client.terminal import build_checkout

WINDOW_CLASS = "alliance-pos"
POLL_MS = 50
SCANNER_FLUSH_MS = 20
SYNC_EVERY_MS = 30_000
PRICE_DELAY_MS = 120  # the sale is re-priced this long after the amount or redemption last changed
PROBE_EVERY_MS = 15_000  # how often the status line checks the reader and the printer
BIG = ("Noto Sans CJK SC", 15)
HUGE = ("Noto Sans CJK SC", 24, "bold")
PAYABLE = ("Noto Sans CJK SC", 44, "bold")  # 应付: the largest figure on the screen
READER_STATES = {"reader_missing": "missing", "reader_service": "service"}  # message key -> status word
MOBILE = re.compile(r"1[3-9][0-9]{9}")  # typed into the code field: a phone number, not a card number or code


class CashierWindow:
    """The cashier's window over one Checkout."""

    def __init__(self, root: tk.Tk, checkout: Checkout, lang: str = "zh", reader_factory: Callable | None = None):
        self.root, self.core, self.lang = root, checkout, lang
        self.reader_factory = reader_factory
        self.label = LABELS[lang]
        self.scanner = KeyboardWedgeScanner()
        self._key_clock = (0.0, time.monotonic())  # (X event time of the last key in s, monotonic then)
        self.results: queue.Queue = queue.Queue()
        self._jobs: queue.Queue = queue.Queue()
        self._jobs_waiting = 0
        self._charging = False
        self.busy = False
        threading.Thread(target=self._work, name="cashier worker", daemon=True).start()
        self.amount = tk.StringVar(value="")
        self.code = tk.StringVar(value="")
        self.redeem_mode = tk.StringVar(value="none")
        self.redeem_points = tk.StringVar(value="")
        self.pay_method = tk.StringVar(value=DEFAULT_PAYMENT)
        self.refund_reason = tk.StringVar(value="")
        self.refund_pin = tk.StringVar(value="")
        self.shown_vouchers: list[dict] = []  # the identified member's vouchers, as listed in the window
        self._refund_sale: dict | None = None  # the sale F7 looked up; the next F7 refunds it
        self._binding_armed = False  # F11 with the code field empty: the next scan or Enter is the card to bind
        self.message = tk.StringVar(value="")
        self.member_text = tk.StringVar(value=self.label["no_member"])
        self.quote_text = tk.StringVar(value="")
        self.payable_text = tk.StringVar(value="")
        self.status_text = tk.StringVar(value="")
        # the sale on screen: "none" (no member yet), "open" (member identified), "done" (charged)
        self.sale_state = "none"
        self.shown_for: tuple[int, int | str] | None = None  # the inputs of the 应付 on screen
        self._price_after: str | None = None
        self.reader_state = "none" if checkout.reader is None and reader_factory is None else "checking"
        self.printer_state = "none" if checkout.printer is None else "checking"
        self._probes: queue.Queue = queue.Queue()
        self._probing = False
        root.title(self.label["title"])
        root.geometry("1024x760")
        tkfont.nametofont("TkDefaultFont").configure(size=16)
        self._build()
        self._bind_keys()
        for variable in (self.amount, self.redeem_mode, self.redeem_points):
            variable.trace_add("write", lambda *_: self._inputs_changed())
        self.root.after(POLL_MS, self._poll)
        self.root.after(SCANNER_FLUSH_MS, self._flush_scanner)
        self.run_in_background(self._start_up, self._started)
        self._probe_now_and_then()

    # --- layout ----------------------------------------------------------------------------------

    def _build(self) -> None:
        label = self.label
        status = tk.Label(self.root, textvariable=self.status_text, anchor="w", font=BIG, bg="#eeeeee")
        status.pack(fill="x")
        body = tk.Frame(self.root)
        body.pack(fill="both", expand=True, padx=10, pady=(4, 0))
        left = tk.Frame(body)
        left.pack(side="left", fill="both", expand=True)
        right = tk.Frame(body)
        right.pack(side="right", fill="y")

        member = tk.LabelFrame(left, text=label["member"], font=BIG)
        member.pack(fill="x")
        top = tk.Frame(member)
        top.pack(fill="x")
        # the member's vouchers beside the member (a scanned or typed voucher code goes into the code field)
        vouchers = tk.LabelFrame(top, text=label["voucher_box"], font=BIG)
        vouchers.pack(side="right")
        self.voucher_list = tk.Listbox(vouchers, height=2, font=BIG, width=24, exportselection=False)
        self.voucher_list.pack(side="left", padx=2)
        self.voucher_list.bind("<<ListboxSelect>>", lambda event: self.pick_voucher())
        tk.Button(vouchers, text=label["voucher_remove"], font=BIG, command=self.remove_voucher).pack(side="left")
        tk.Label(top, textvariable=self.member_text, font=BIG, justify="left", anchor="w").pack(side="left", fill="x")
        ident = tk.Frame(member)
        ident.pack(fill="x", pady=5)
        self.card_button = tk.Button(ident, text=label["tap_card"], font=BIG, command=self.tap_card, height=2)
        self.card_button.pack(side="left", padx=4)
        tk.Label(ident, text=label["code"], font=BIG).pack(side="left")
        self.code_entry = tk.Entry(ident, textvariable=self.code, font=BIG, width=16)
        self.code_entry.pack(side="left", padx=4)
        self.code_entry.bind("<Return>", lambda event: self.identify_typed())
        self.code_entry.bind("<KP_Enter>", lambda event: self.identify_typed())
        self.code_entry.bind("<Linefeed>", lambda event: self.identify_typed())  # scanners set to send LF
        tk.Button(ident, text=label["phone"], font=BIG, command=self.identify_phone, height=2).pack(side="left")

        amount = tk.LabelFrame(left, text=label["amount"], font=BIG)
        amount.pack(fill="x", pady=4)
        self.amount_display = tk.Label(amount, textvariable=self.amount, font=HUGE, anchor="e", bg="white")
        self.amount_display.pack(fill="x")
        tk.Label(amount, textvariable=self.quote_text, font=BIG, anchor="w", justify="left").pack(fill="x")
        self.payable_display = tk.Label(amount, textvariable=self.payable_text, font=PAYABLE, anchor="e", fg="#b00000")
        self.payable_display.pack(fill="x")

        redeem = tk.LabelFrame(left, text=label["redeem_keys"], font=BIG)
        redeem.pack(fill="x")
        for value, key in (("none", "redeem_none"), ("max", "redeem_max"), ("some", "redeem_some")):
            tk.Radiobutton(redeem, text=label[key], variable=self.redeem_mode, value=value, font=BIG).pack(side="left")
        tk.Entry(redeem, textvariable=self.redeem_points, font=BIG, width=8).pack(side="left")

        paid_by = tk.LabelFrame(left, text=label["pay_method"], font=BIG)
        paid_by.pack(fill="x")
        for method, (_, _, key) in METHODS.items():
            name = f"{method_name(method, self.lang)} {key.upper()}"
            tk.Radiobutton(paid_by, text=name, variable=self.pay_method, value=method, font=BIG).pack(side="left")

        refund_box = tk.LabelFrame(left, text=label["refund_box"], font=BIG)
        refund_box.pack(fill="x")
        tk.Label(refund_box, text=label["reason"], font=BIG).pack(side="left")
        self.reason_entry = tk.Entry(refund_box, textvariable=self.refund_reason, font=BIG, width=14)
        self.reason_entry.pack(side="left", padx=4)
        tk.Label(refund_box, text=label["pin"], font=BIG).pack(side="left")
        self.pin_entry = tk.Entry(refund_box, textvariable=self.refund_pin, font=BIG, width=8, show="*")
        self.pin_entry.pack(side="left", padx=4)

        self.message_label = tk.Label(left, textvariable=self.message, font=BIG, wraplength=560, justify="left")
        self.message_label.pack(fill="x", pady=(2, 0))

        pad = tk.Frame(right)
        pad.pack()
        keys = ["7", "8", "9", "4", "5", "6", "1", "2", "3", "0", ".", "←"]
        for index, key in enumerate(keys):
            button = tk.Button(pad, text=key, font=HUGE, width=3, height=1, command=lambda k=key: self.press(k))
            button.grid(row=index // 3, column=index % 3, padx=3, pady=3)
        tk.Button(pad, text=label["clear"], font=BIG, command=lambda: self.press("C")).grid(
            row=4, column=0, columnspan=3, sticky="ew"
        )
        actions = tk.Frame(right)
        actions.pack(fill="x", pady=10)
        self.pay_button = tk.Button(actions, text=label["pay"], font=HUGE, bg="#2e7d32", fg="white", command=self.pay)
        self.pay_button.pack(fill="x", pady=3)
        for key, command in (
            ("quote", self.price),
            ("reprint", self.reprint),
            ("refund", self.refund),
            ("sync", self.sync),
            ("shift", self.close_shift),
            ("next", self.next_customer),
        ):
            tk.Button(actions, text=label[key], font=BIG, command=command).pack(fill="x", pady=2)

    def _bind_keys(self) -> None:
        root = self.root
        root.bind("<F2>", lambda event: self.tap_card())
        root.bind("<F3>", lambda event: self.identify_phone())
        root.bind("<F4>", lambda event: self.price())
        root.bind("<F5>", lambda event: self.pay())
        root.bind("<F6>", lambda event: self.toggle_redeem())
        root.bind("<F7>", lambda event: self.refund())
        root.bind("<F8>", lambda event: self.reprint())
        root.bind("<F9>", lambda event: self.sync())
        root.bind("<F10>", lambda event: self.close_shift())
        root.bind("<F11>", lambda event: self.bind_card())
        root.bind("<Escape>", lambda event: self.next_customer())
        # keys typed outside the entry fields: the amount, or a code when a wedge scanner typed them
        root.bind("<Key>", self._key)

    def _key(self, event) -> None:
        """Keys outside the entry fields: a wedge scanner's fast burst is a code, anything else is typing."""
        if isinstance(event.widget, tk.Entry):
            return
        if event.keysym == "BackSpace":
            self._handle_keys(self.scanner.flush(float("inf")))
            self.press("←")
            return
        char = "\r" if event.keysym in ("Return", "KP_Enter") else event.char
        if not char:
            return
        now = event.time / 1000
        self._key_clock = (now, time.monotonic())
        self._handle_keys(self.scanner.feed(char, now))

    def _flush_scanner(self) -> None:
        event_time, seen_at = self._key_clock
        self._handle_keys(self.scanner.flush(event_time + time.monotonic() - seen_at))
        self.root.after(SCANNER_FLUSH_MS, self._flush_scanner)

    def _handle_keys(self, events) -> None:
        for event in events:
            if isinstance(event, Scanned):
                if self._binding_armed:  # F11 asked for the new card's number: this scan is that card
                    self.code.set(event.text)
                    self.bind_card()
                elif self.sale_state == "open" and meant_as_voucher(event.text):  # the member's voucher
                    self.scan_voucher(event.text)
                else:
                    self.identify_code(event.text)
                continue
            for char in event.text:
                if char == "\n":
                    self.price()
                elif char in "0123456789.":
                    self.press(char)
                elif method_for_key(char):  # X 现金, W 微信, Z 支付宝, Y 银行卡, Q 其他
                    self.pay_method.set(method_for_key(char))

    # --- actions ---------------------------------------------------------------------------------

    def press(self, key: str) -> None:
        """One key of the amount pad."""
        self.amount.set(amount_after_key(self.amount.get(), key))

    def tap_card(self) -> None:
        """Wait for a card on the reader and identify its member."""
        if self.core.reader is None and self.reader_factory is not None:
            try:
                self.core.reader = self.reader_factory()
            except CardReaderError as exc:
                self.reader_state = _reader_state(exc)
                self._show_error(text(reader_error_key(exc), self.lang))
                return
        amount_fen = self._one_request_amount()
        self._new_customer()
        self.message.set(self.label["waiting_card"])
        if amount_fen is None:
            self.run_in_background(self.core.identify_card, self._identified)
            return
        payment_method = self.pay_method.get()

        def work():  # the common sale: the tap is the sale, one request (docs/terminal-api.md)
            outcome = self.core.tap_and_pay(amount_fen, payment_method)
            try:
                self.core.print_receipt()
            except PosError as exc:
                return outcome, exc
            return outcome, None

        self.run_in_background(work, self._tapped_and_paid, exclusive=True)

    def _one_request_amount(self) -> int | None:
        """The amount to sell with the tap itself, or None to identify first.

        One request whenever it can be: an amount typed for a new customer (no member or sale on screen),
        no points to redeem and the server not known to be unreachable. With points to redeem (or no
        amount yet) the cashier must see the member first: the tap identifies, F5 charges.
        """
        if self.sale_state != "none" or self.redeem_mode.get() != "none" or self.core.online is False:
            return None
        try:
            return parse_amount(self.amount.get())
        except AmountError:
            return None

    def identify_code(self, scanned: str | None = None) -> None:
        """Identify by a scanned member code or card number, or the one typed into the code field."""
        code = (scanned or self.code.get()).strip()
        if code:
            self._new_customer()
            self.run_in_background(lambda: self.core.identify_code(code), self._identified)

    def identify_phone(self) -> None:
        """F3: identify by the phone number in the code field; with the field empty, put the cursor there."""
        phone = self.code.get().strip()
        if not phone:
            self.code_entry.focus_set()
            self._info(self.label["phone_how"])
            return
        self._new_customer()
        self.run_in_background(lambda: self.core.identify_phone(phone), self._identified)

    def identify_typed(self) -> None:
        """Enter in the code field: a mobile number identifies by phone, anything else as a code or card number."""
        if self._binding_armed:  # F11 asked for the new card's number: bind it, do not look it up
            self.bind_card()
        elif self.sale_state == "open" and meant_as_voucher(self.code.get()):  # a voucher for this member
            self.scan_voucher(self.code.get())  # the field is cleared once the voucher is taken
        elif MOBILE.fullmatch(self.code.get().strip()):
            self.identify_phone()
        else:
            self.identify_code()

    def _new_customer(self) -> None:
        """An identification starts: after a member or a sale on screen it is the next customer's new sale.

        Amount, redemption and 应付 of the last customer are cleared (the core forgets its member and quote
        too); an amount typed before the very first identification is this customer's and stays.
        """
        if self.sale_state != "none":
            self.amount.set("")
            self.redeem_mode.set("none")
            self.redeem_points.set("")
        self.sale_state = "none"
        self._binding_armed = False
        self.member_text.set(self.label["no_member"])
        self._list_vouchers([])
        self.message.set("")
        self._inputs_changed()
        self.amount_display.focus_set()  # keys typed while the member is looked up are the amount

    # --- vouchers (online only) -------------------------------------------------------------------

    def _list_vouchers(self, vouchers: list[dict]) -> None:
        """Show the identified member's vouchers (name, code's last four, expiry) to pick from."""
        label = self.label
        self.shown_vouchers = list(vouchers)
        self.voucher_list.delete(0, "end")
        for voucher in self.shown_vouchers:
            until = f" {label['voucher_until']} {voucher['expires_on']}" if voucher.get("expires_on") else ""
            self.voucher_list.insert("end", f"{voucher['name']} {label['voucher_last4']}{voucher['code_last4']}{until}")

    def pick_voucher(self) -> None:
        """A voucher picked in the list: this sale redeems it (priced again at once)."""
        picked = self.voucher_list.curselection()
        if not picked or self.sale_state != "open":
            return
        voucher = self.shown_vouchers[picked[0]]
        self.run_in_background(lambda: self.core.choose_voucher(voucher["id"]), self._voucher_chosen)

    def scan_voucher(self, scanned: str | None = None) -> None:
        """A voucher code scanned while a member is on screen, or typed into the code field and Enter."""
        code = (scanned or self.code.get()).strip()
        if not code:
            self.code_entry.focus_set()
            return
        if self.sale_state != "open":
            self._show_error(text("no_member", self.lang))
            return
        self.run_in_background(lambda: self.core.scan_voucher(code), self._voucher_chosen)

    def remove_voucher(self) -> None:
        """No voucher in this sale (one that could not reach the server is withdrawn); priced again."""
        self.voucher_list.selection_clear(0, "end")
        self.run_in_background(
            self.core.remove_voucher, lambda _: self._voucher_changed(text("voucher_removed", self.lang))
        )

    def _voucher_chosen(self, choice) -> None:
        self.code.set("")
        if choice.voucher_id is None:
            self.voucher_list.selection_clear(0, "end")
            masked = "****" + choice.code[-4:]
            self._voucher_changed(text("voucher_scanned", self.lang, masked=masked))
        else:
            self._voucher_changed(text("voucher_chosen", self.lang, name=choice.name))

    def _voucher_changed(self, message: str) -> None:
        self._info(message)
        self._inputs_changed()  # the 应付 on screen was for another voucher: priced again
        self.amount_display.focus_set()

    def toggle_redeem(self) -> None:
        """F6: no redemption <-> maximum redemption (the points field stays for the mouse)."""
        self.redeem_mode.set("none" if self.redeem_mode.get() == "max" else "max")

    def _sale_inputs(self) -> tuple[int, int | str] | None:
        """The amount in fen and the redemption chosen, or None after telling the cashier what is wrong."""
        self._handle_keys(self.scanner.flush(float("inf")))  # keys typed just before the shortcut count
        amount_fen = self._typed_amount()
        if amount_fen is None:
            return None
        return self._redeem_inputs(amount_fen)

    def _redeem_inputs(self, amount_fen: int, *, quiet: bool = False) -> tuple[int, int | str] | None:
        mode = self.redeem_mode.get()
        if mode == "max":
            return amount_fen, REDEEM_MAX
        if mode == "some":
            points = self.redeem_points.get().strip()
            if not points.isdigit() or int(points) <= 0:
                if not quiet:
                    self._show_error(text("redeem_points_invalid", self.lang))
                return None
            return amount_fen, int(points)
        return amount_fen, 0

    def _typed_amount(self) -> int | None:
        """The amount typed, in fen, or None after telling the cashier what is wrong with it."""
        try:
            return parse_amount(self.amount.get())
        except AmountError as exc:
            self._show_error(exc.text(self.lang))
            return None

    def _inputs_changed(self) -> None:
        """The amount or the redemption changed: the 应付 on screen is void; price again shortly."""
        self.shown_for = None
        self.quote_text.set("")
        self.payable_text.set("")
        if self._price_after is not None:
            self.root.after_cancel(self._price_after)
            self._price_after = None
        if self.sale_state == "open" and self.amount.get():
            self._price_after = self.root.after(PRICE_DELAY_MS, self._price_quietly)

    def _price_quietly(self) -> None:
        self._price_after = None
        if self.sale_state == "open" and not self._charging:
            self.price(quiet=True)

    def price(self, *, quiet: bool = False) -> None:
        """Price the sale for the member and show 应付 (F4 / Enter; also by itself as the amount is typed)."""
        if quiet:  # re-pricing while typing: an amount still being typed is no mistake yet
            try:
                amount_fen = parse_amount(self.amount.get())
            except AmountError:
                return
            inputs = self._redeem_inputs(amount_fen, quiet=True)
        else:
            inputs = self._sale_inputs()
        if inputs is None:
            return
        amount_fen, redeem = inputs

        def work():
            try:
                return inputs, self.core.quote(amount_fen, redeem)
            except PosError as exc:
                if quiet and exc.key == "proof_needed":  # typing never texts the member: F4/F5 asks for proof
                    return inputs, exc
                raise

        self.run_in_background(work, self._priced)

    def pay(self) -> None:
        """F5: charge the 应付 on screen (a second press while charging is ignored).

        Only the figure the cashier sees can be charged: when the amount or the redemption changed since it
        was priced, or nothing is priced yet, F5 prices and shows 应付 and the cashier presses F5 again.
        """
        inputs = self._sale_inputs()
        if inputs is None:
            return
        amount_fen, redeem = inputs
        if self.sale_state == "none":  # no member yet, or still being looked up
            self._show_error(text("no_member", self.lang))
            return
        if self.sale_state == "open" and self.shown_for != inputs:
            self.price()
            self._info(self.label["confirm_payable"])
            return
        payment_method = self.pay_method.get()

        def work():
            outcome = self.core.commit(amount_fen, redeem, payment_method)
            try:
                self.core.print_receipt()
            except PosError as exc:
                return outcome, exc
            return outcome, None

        self.run_in_background(work, self._paid, exclusive=True)

    def refund(self) -> None:
        """F7: look up the sale whose receipt number is in the code field (showing the most that can still be
        refunded), then F7 again to refund the amount typed (or all that is left) for the reason given.

        A refund of this receipt that is still open (no answer yet, or its slip did not print) is continued
        at once: the server answers with the first result, nothing is refunded twice.
        """
        receipt_no = self.code.get().strip()
        if not receipt_no:
            self._show_error(self.label["refund_how"])
            return
        self._handle_keys(self.scanner.flush(float("inf")))
        amount_fen = None
        if self.amount.get():
            amount_fen = self._typed_amount()
            if amount_fen is None:
                return
        looked_up = self._refund_sale is not None and self._refund_sale["receipt_no"] == receipt_no
        if not looked_up and self.core.outbox.open_refund(receipt_no) is None:
            self.run_in_background(lambda: find_sale(self.core, receipt_no), self._refund_found)
            return
        reason = self.refund_reason.get().strip()
        if looked_up and not reason:
            self._show_error(text("refund_reason_missing", self.lang))
            self.reason_entry.focus_set()
            return
        if looked_up:
            wanted = self._refund_sale["refundable_fen"] if amount_fen is None else amount_fen
            if needs_authorisation(self.core, wanted) and not self.refund_pin.get().strip():
                limit = yuan(self.core.info["refunds"]["authorisation_above_fen"])
                self._show_error(text("refund_pin_needed", self.lang, limit=limit))
                self.pin_entry.focus_set()
                return
        pin, method = self.refund_pin.get().strip() or None, self.pay_method.get()
        self.run_in_background(
            lambda: refund_by_receipt(
                self.core, receipt_no, amount_fen, reason=reason, payment_method=method, supervisor_pin=pin
            ),
            self._refunded,
            exclusive=True,
        )

    def _refund_found(self, sale: dict) -> None:
        self._refund_sale = sale
        refundable = text(
            "refundable",
            self.lang,
            receipt_no=sale["receipt_no"],
            paid=yuan(sale["payable_fen"]),
            refunded=yuan(sale["refunded_fen"]),
            refundable=yuan(sale["refundable_fen"]),
        )
        self._info(refundable + "\n" + text("refund_confirm", self.lang))
        self.reason_entry.focus_set()

    def _refunded(self, outcome) -> None:
        refund = outcome.refund
        self.code.set("")
        self.amount.set("")
        self.refund_reason.set("")
        self.refund_pin.set("")
        self._refund_sale = None
        done = text(
            "refund_done",
            self.lang,
            amount=yuan(refund["amount_fen"]),
            method=method_name(refund.get("payment_method", DEFAULT_PAYMENT), self.lang),
            balance=refund["points_balance"],
        )
        if outcome.replayed:
            done += "\n" + text("refund_replayed", self.lang)
        restored = outcome.receipt.refund.voucher_restored if outcome.receipt.refund else None
        if restored is not None:
            done += "\n" + text("voucher_restored_yes" if restored else "voucher_restored_no", self.lang)
        if outcome.print_error is not None:
            self.printer_state = "print_failed"
            self._show_error(done + "\n" + outcome.print_error.text(self.lang))
            return
        self._printed_fine()
        self._info(done)

    def reprint(self) -> None:
        """Print the last receipt again."""
        self.run_in_background(self.core.reprint, self._reprinted)

    def _reprinted(self, receipt) -> None:
        self._printed_fine()
        self._info(text("reprinted", self.lang, receipt_no=receipt.receipt_no))

    def sync(self) -> None:
        """Send the waiting sales now."""
        self.run_in_background(self.core.sync, self._synced)

    def close_shift(self) -> None:
        """Print the shift report and start a new shift."""
        self.run_in_background(lambda: close_shift(self.core), lambda _: self._info(self.label["shift_done"]))

    def next_customer(self) -> None:
        """Clear everything for the next customer (the core resets after any job still running)."""
        self.run_in_background(self.core.reset, lambda _: None)
        self.sale_state = "none"
        self.amount.set("")
        self.code.set("")
        self.redeem_mode.set("none")
        self.redeem_points.set("")
        self.pay_method.set(DEFAULT_PAYMENT)
        self.refund_reason.set("")
        self.refund_pin.set("")
        self._refund_sale = None
        self._binding_armed = False
        self.member_text.set(self.label["no_member"])
        self._list_vouchers([])
        self._inputs_changed()
        self.message.set("")
        self.amount_display.focus_set()
        self._refresh_status()

    # --- results (Tk thread) ---------------------------------------------------------------------

    def _started(self, _info) -> None:
        self._refresh_status()

    def _identified(self, member) -> None:
        label = self.label
        points = label["unknown"] if member.points_balance is None else str(member.points_balance)
        discount = discount_text(member.discount_bp, self.lang)
        lines = [
            f"{label['name']}: {member.display_name}  {member.masked_phone}",
            f"{label['level']}: {member.level_name}   {label['discount']}: {discount}",
            f"{label['points']}: {points}" + (f"   {label['offline_member']}" if member.offline else ""),
        ]
        self.member_text.set("\n".join(lines))
        self.code.set("")
        self._list_vouchers(member.vouchers)
        self.message.set(text(member.notice, self.lang) if member.notice else "")
        if member.method == "card":
            self.reader_state = "ok"
        self.sale_state = "open"
        self.amount_display.focus_set()  # the amount typed next is the amount, never a code or phone
        self._inputs_changed()  # an amount typed before the identification is priced now
        self._refresh_status()

    def _tapped_and_paid(self, result) -> None:
        """A one-request tap: the member as the sale's answer (or the card record) shows them, then the sale."""
        self._identified(self.core.member)
        self._paid(result)

    def _priced(self, result) -> None:
        inputs, quote = result
        if self.sale_state != "open" or inputs != self._current_inputs():
            return  # priced for inputs no longer on screen: a fresh price is on its way
        if isinstance(quote, PosError):  # points need the member's proof first: say so, F5 starts it
            self._info(quote.text(self.lang))
            return
        self._show_quote(quote, quote.points_to_earn)
        self.shown_for = inputs
        if self.message.get() != self.label["confirm_payable"]:  # that prompt stays until F5
            self.message.set("")

    def _current_inputs(self) -> tuple[int, int | str] | None:
        try:
            amount_fen = parse_amount(self.amount.get())
        except AmountError:
            return None
        return self._redeem_inputs(amount_fen, quiet=True)

    def _show_quote(self, quote, points: int) -> None:
        """A Quote or the Receipt of a charged sale: its parts small (level discount, voucher, points, in the
        order they apply), 应付 the largest figure on screen."""
        label = self.label
        parts = [f"{label['member_discount']} -{yuan(quote.discount_fen)}"]
        voucher_name = quote.voucher["name"] if getattr(quote, "voucher", None) else getattr(quote, "voucher_name", "")
        if quote.voucher_fen or voucher_name:
            parts.append(f"{label['voucher_off']} {voucher_name} -{yuan(quote.voucher_fen)}")
        parts.append(f"{label['redeem']} {quote.redeem_points} (-{yuan(quote.redeem_value_fen)})")
        paid = f"{label['paid']} {yuan(quote.payable_fen)}   {label['points_to_earn']} +{points}"
        self.quote_text.set("   ".join(parts) + "\n" + paid)
        self.payable_text.set(f"{label['payable']} {yuan(quote.payable_fen)}")

    def _paid(self, result) -> None:
        outcome, print_error = result
        self.sale_state = "done"
        receipt = outcome.receipt
        self._show_quote(receipt, receipt.points_earned)  # what was charged, as the receipt says
        self.shown_for = None
        if outcome.status == "approved":
            done = text("sale_done", self.lang, receipt_no=receipt.receipt_no)
        elif outcome.status == "offline":
            done = text("sale_offline_done", self.lang, pending=outcome.pending)
        else:
            done = text("outcome_unknown", self.lang)
        if receipt.gift is not None:  # 满赠: the gift voucher the sale granted, printed with its QR code
            done += "\n" + text("gift_granted", self.lang, name=receipt.gift.name)
        if print_error is not None:
            self.printer_state = "print_failed"
            done += "\n" + print_error.text(self.lang)
        else:
            self._printed_fine()
        self.message.set(done)
        self.message_label.configure(fg="#1b5e20" if outcome.status == "approved" and not print_error else "#b00000")
        self._refresh_status()

    def _synced(self, result) -> None:
        synced = self.label["synced"].format(sent=len(result.sent), remaining=result.remaining)
        if not result.rejected:
            self._info(synced)
            return
        # sales the customer paid that the server refused: in red, each with its receipt number and amount
        lines = [synced, *rejected_lines(result.rejected, self.lang)]
        self._show_error("\n".join(lines))

    def _info(self, message: str) -> None:
        self.message_label.configure(fg="#1b5e20")
        self.message.set(message)
        self._refresh_status()

    def _show_error(self, message: str) -> None:
        self.message_label.configure(fg="#b00000")
        self.message.set(message)
        self._refresh_status()

    def _refresh_status(self) -> None:
        label = self.label
        server = {True: label["online"], False: label["offline"], None: label["unknown"]}[self.core.online]
        self.status_text.set(
            f"  {label['server']}: {server}    {label['outbox']}: {self.core.outbox.pending_count()}    "
            f"{label['reader']}: {label['reader_' + self.reader_state]}    "
            f"{label['printer']}: {label['printer_' + self.printer_state]}"
        )

    def _printed_fine(self) -> None:
        if self.printer_state != "none":
            self.printer_state = "dummy" if isinstance(self.core.printer, DummyPrinter) else "ok"

    # --- device checks for the status line (own thread: a hanging printer never delays a sale) ----

    def _probe_now_and_then(self) -> None:
        self.probe_devices()
        self.root.after(PROBE_EVERY_MS, self._probe_now_and_then)

    def probe_devices(self) -> None:
        """Check the reader and the printer now; the status line shows what is true."""
        if self._probing:
            return
        self._probing = True
        reader, printer = self.core.reader, self.core.printer
        threading.Thread(target=lambda: self._probes.put(self._probe(reader, printer)), daemon=True).start()

    def _probe(self, reader, printer) -> tuple[str, object, str]:
        """(reader state, a reader opened here or None, printer state), off the Tk thread."""
        opened, reader_state = None, "none"
        try:
            if reader is not None:
                reader.check()
                reader_state = "ok"
            elif self.reader_factory is not None:
                opened, reader_state = self.reader_factory(), "ok"
        except CardReaderError as exc:
            reader_state = _reader_state(exc)
        printer_state = "none"
        if isinstance(printer, DummyPrinter):
            printer_state = "dummy"
        elif printer is not None:
            try:
                printer.check()
                printer_state = "ok"
            except PrinterError:
                printer_state = "unreachable"
        return reader_state, opened, printer_state

    def _probed(self, reader_state: str, opened, printer_state: str) -> None:
        self._probing = False
        if opened is not None:
            if self.core.reader is None:
                self.core.reader = opened
            else:
                opened.close()
        self.reader_state = reader_state
        if not (printer_state == "ok" and self.printer_state == "print_failed"):
            self.printer_state = printer_state  # reachable after a failed print: shown failed until one prints
        self._refresh_status()

    # --- background work -------------------------------------------------------------------------

    def _start_up(self):
        return self.core.refresh()

    def run_in_background(self, work: Callable, done: Callable, *, exclusive: bool = False) -> None:
        """Queue ``work`` for the worker thread and ``done(result)`` for the Tk thread (errors become messages).

        Jobs run one at a time in order, so a scan or a charge during a slow request is not lost; an
        ``exclusive`` job (charging) is ignored while another one waits or runs, so a double press charges once.
        """
        if exclusive:
            if self._charging:
                return
            self._charging = True
        self.busy = True
        self._jobs_waiting += 1
        self._jobs.put((work, done, exclusive))

    def _work(self) -> None:
        while True:
            work, done, exclusive = self._jobs.get()
            try:
                self.results.put((done, work(), None, exclusive))
            except Exception as exc:  # every failure is shown to the cashier, none kills the window
                self.results.put((done, None, exc, exclusive))

    def _poll(self) -> None:
        self.root.after(POLL_MS, self._poll)  # first: a failing callback must not stop the window's results
        try:
            while True:
                done, result, error, exclusive = self.results.get_nowait()
                self._jobs_waiting -= 1
                if exclusive:
                    self._charging = False
                self.busy = self._jobs_waiting > 0
                if error is None:
                    done(result)
                elif isinstance(error, PosError) and error.key == "proof_needed":
                    self.prove_member()
                elif isinstance(error, PosError):
                    if error.key in READER_STATES:
                        self.reader_state = READER_STATES[error.key]
                    if error.key in ("printer_offline", "printer_offline_shift"):
                        self.printer_state = "print_failed"
                    self._show_error(error.text(self.lang))
                else:
                    self._show_error(str(error))
        except queue.Empty:
            pass
        try:
            while True:
                self._probed(*self._probes.get_nowait())
        except queue.Empty:
            pass

    # --- member proof (appended: spending points after a phone number or typed card number) --------

    def prove_member(self) -> None:
        """Have the server text the member a code, then ask the cashier for the code the member reads out."""
        self.run_in_background(self.core.request_proof_code, self._ask_proof_code)

    def _ask_proof_code(self, masked_phone: str) -> None:
        sent = text("proof_code_sent", self.lang, masked_phone=masked_phone)
        self._info(sent)
        code = simpledialog.askstring(text("proof_code_prompt", self.lang), sent, parent=self.root)
        if code and code.strip():
            self.run_in_background(lambda: self.core.confirm_proof(code), self._proven)

    def _proven(self, _member) -> None:
        """The member proved who they are: price again with the points, so F5 charges the 应付 shown."""
        confirmed = text("proof_confirmed", self.lang)
        inputs = self._current_inputs()
        if inputs is None:
            self._info(confirmed)
            return
        self.run_in_background(
            lambda: (inputs, self.core.quote(*inputs)), lambda priced: (self._priced(priced), self._info(confirmed))
        )

    # --- handing out a card (appended: F11 binds the card number in the code field to the member) -------

    def bind_card(self) -> None:
        """F11: bind the new card whose number is in the code field to the member on screen, print its slip.

        With the code field empty, F11 waits for the number: the next scan (or Enter in the code field) is
        the card to bind, not a member to identify.

        The member needs proof (a phone number is none): the server says so, the member is texted a code,
        the cashier types the code the member reads out, and the binding goes on.
        """
        typed = self.code.get().strip()
        self._binding_armed = False
        if self.core.member is None or self.sale_state == "none":
            self.code_entry.focus_set()
            self._show_error(text("bind_how", self.lang))
            return
        if not typed:  # the number comes next: scanned, or typed and Enter
            self._binding_armed = True
            self.code_entry.focus_set()
            self._info(text("bind_scan_card", self.lang))
            return
        try:
            card_number(typed)
        except PosError as exc:
            self._show_error(exc.text(self.lang))
            return
        self.run_in_background(lambda: _bind_or_proof_needed(self.core, typed), self._card_bound)

    def _card_bound(self, result) -> None:
        if isinstance(result, _ProofNeeded):
            self.run_in_background(
                self.core.request_proof_code, lambda masked_phone: self._ask_binding_proof(masked_phone, result.typed)
            )
            return
        outcome: BindOutcome = result
        self._identified(self.core.member)  # the member panel shows the level after the binding
        done = outcome.summary(self.lang)
        if outcome.print_error is not None:
            self.printer_state = "print_failed"
            self._show_error(done + "\n" + outcome.print_error.text(self.lang))
            return
        self._printed_fine()
        self._info(done)

    def _ask_binding_proof(self, masked_phone: str, typed: str, again: str = "") -> None:
        sent = text("proof_code_sent", self.lang, masked_phone=masked_phone)
        self._info(sent)
        code = simpledialog.askstring(text("proof_code_prompt", self.lang), again or sent, parent=self.root)
        if not code or not code.strip():
            return

        def prove_then_bind():
            try:
                self.core.confirm_proof(code)
            except ServerRefused as exc:
                if exc.code != "login_code_invalid":
                    raise
                return _WrongCode(exc.text(self.lang))
            return _bind_or_proof_needed(self.core, typed)

        def proven(result) -> None:
            if isinstance(result, _WrongCode):  # the member may read the code out again
                self._ask_binding_proof(masked_phone, typed, again=result.message)
            else:
                self._card_bound(result)

        self.run_in_background(prove_then_bind, proven)


class _ProofNeeded:
    """The server wants the member's proof before binding ``typed``."""

    def __init__(self, typed: str):
        self.typed = typed


class _WrongCode:
    """The code typed for the binding's proof was wrong (``message`` says so)."""

    def __init__(self, message: str):
        self.message = message


def _bind_or_proof_needed(core: Checkout, typed: str):
    """Bind the card, or say that the member must prove who they are first."""
    try:
        return bind_member_card(core, typed)
    except ServerRefused as exc:
        if exc.code != "binding_proof_required":
            raise
        return _ProofNeeded(typed)


def _reader_state(exc: CardReaderError) -> str:
    """The status line's word for a reader that failed: not connected, no pcscd, or some other fault."""
    return READER_STATES.get(reader_error_key(exc), "fault")


def run(config: PosConfig, config_path: Path) -> None:
    """Open the cashier window for this terminal and run until it is closed."""
    checkout = build_checkout(config, config_path)
    root = tk.Tk(className=WINDOW_CLASS)
    window = CashierWindow(root, checkout, config.lang, reader_factory=lambda: PcscCardReader(config.reader))

    def sync_now_and_then():
        outbox = checkout.outbox
        if not window.busy and (outbox.pending_count() or outbox.pending_refunds() or outbox.unreported_rejected()):
            window.sync()
        root.after(SYNC_EVERY_MS, sync_now_and_then)

    root.after(SYNC_EVERY_MS, sync_now_and_then)
    root.mainloop()
