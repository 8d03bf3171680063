"""CardReader over PC/SC (pcscd) with pyscard, which is imported only when a reader is created."""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Callable
from typing import Any

from alliance_shared.devices.card_reader import (
    CardCommandFailed,
    CardInfo,
    CardReader,
    CardReaderError,
    CardRemoved,
    NoCardPresent,
    NoReaderFound,
    PcscUnavailable,
    WrongCardType,
)
from alliance_shared.devices.mifare import require_mifare_classic_1k

GET_UID_APDU = bytes.fromhex("ffca000000")
SW_OK = 0x9000

_SERVICE_GONE = ("SCARD_E_NO_SERVICE", "SCARD_E_SERVICE_STOPPED", "SCARD_E_INVALID_HANDLE")
_READER_GONE = ("SCARD_E_NO_READERS_AVAILABLE", "SCARD_E_UNKNOWN_READER", "SCARD_E_READER_UNAVAILABLE")
# A contactless card leaving the field mid-command shows up as a transmission error before pcscd's
# presence poll notices the removal, so those count as "card removed" too.
_CARD_GONE = (
    "SCARD_W_REMOVED_CARD",
    "SCARD_E_NO_SMARTCARD",
    "SCARD_E_NOT_TRANSACTED",
    "SCARD_F_COMM_ERROR",
    "SCARD_E_COMM_DATA_LOST",
    "SCARD_W_UNRESPONSIVE_CARD",
    "SCARD_W_UNPOWERED_CARD",
)


def choose_reader(names: list[str], pattern: str | None) -> str:
    """The first reader named exactly pattern, else containing it (any case), else matching it as a regex."""
    if not names:
        raise NoReaderFound()
    if pattern is None:
        return names[0]
    if pattern in names:
        return pattern
    # Real names carry brackets and parentheses, e.g. "ACS ACR1252 1S CL Reader [ACR1252 1S CL
    # Reader PICC] 00 00", so a plain substring is tried before the pattern is read as a regex.
    for name in names:
        if pattern.lower() in name.lower():
            return name
    try:
        regex = re.compile(pattern, re.IGNORECASE)
    except re.error:
        regex = None
    if regex is not None:
        for name in names:
            if regex.search(name):
                return name
    raise NoReaderFound(
        f"No card reader matching '{pattern}' is connected "
        f"(connected: {', '.join(names)}). Check the reader's cable and the reader setting."
    )


class _Pyscard:
    """The pyscard modules this reader uses, imported on first use."""

    def __init__(self) -> None:
        try:
            from smartcard import Exceptions, scard
            from smartcard.pcsc import PCSCExceptions
            from smartcard.pcsc.PCSCReader import PCSCReader
            from smartcard.System import readers
        except ImportError as exc:
            raise PcscUnavailable(
                "The smart card library (pyscard) is not installed on this terminal. "
                "Ask the operator to install it ('pip install pyscard')."
            ) from exc
        self.scard: Any = scard
        self.exceptions: Any = Exceptions
        self.pcsc_exceptions: Any = PCSCExceptions
        self.reader_class: Any = PCSCReader
        self.readers: Callable[[], list[Any]] = readers
        self.service_gone = {self._code(name) for name in _SERVICE_GONE}
        self.reader_gone = {self._code(name) for name in _READER_GONE}
        self.card_gone = {self._code(name) for name in _CARD_GONE}

    def _code(self, name: str) -> int:
        return getattr(self.scard, name) & 0xFFFFFFFF


class PcscCardReader(CardReader):
    """A PC/SC reader chosen by exact name, or by case-insensitive substring or regex pattern."""

    def __init__(
        self,
        reader_pattern: str | None = None,
        *,
        atr_check: Callable[[bytes], None] | None = require_mifare_classic_1k,
        poll_interval: float = 0.2,
    ) -> None:
        super().__init__()
        self._pyscard = _Pyscard()
        self.reader_pattern = reader_pattern
        self._atr_check = atr_check
        self._poll_interval = poll_interval
        self._lock = threading.RLock()
        self._connection: Any = None
        self._monitor: threading.Thread | None = None
        self._stop_monitor = threading.Event()
        self._monitor_lock = threading.Lock()
        self.name = reader_pattern or ""
        self.name = self._resolve_reader()

    def wait_for_card(self, timeout: float) -> CardInfo:
        """Wait up to timeout seconds for a card, connect to it and return its UID and ATR."""
        deadline = time.monotonic() + timeout
        with self._lock:
            self._disconnect()
            context = self._establish_context()
            try:
                try:
                    return self._wait_on(self.name, context, deadline)
                except NoReaderFound:
                    # Replugged readers may come back under another name ("... 01 00"): look again, once.
                    self.name = self._resolve_reader()
                    return self._wait_on(self.name, context, deadline)
            finally:
                self._pyscard.scard.SCardReleaseContext(context)

    def _wait_on(self, name: str, context: Any, deadline: float) -> CardInfo:
        scard = self._pyscard.scard
        known_state = scard.SCARD_STATE_UNAWARE
        retry_ms: int | None = None
        while True:
            remaining_ms = max(0, int((deadline - time.monotonic()) * 1000))
            wait_ms = remaining_ms if retry_ms is None else min(remaining_ms, retry_ms)
            hresult, states = scard.SCardGetStatusChange(context, wait_ms, [(name, known_state)])
            if hresult == scard.SCARD_E_TIMEOUT:
                if wait_ms == remaining_ms:
                    raise NoCardPresent()
                event_state = known_state
            elif hresult != scard.SCARD_S_SUCCESS:
                raise self._error_for(hresult, "waiting for a card")
            else:
                event_state = states[0][1]
            if event_state & (scard.SCARD_STATE_UNKNOWN | scard.SCARD_STATE_UNAVAILABLE):
                raise NoReaderFound(f"The card reader '{name}' was disconnected.")
            if event_state & scard.SCARD_STATE_PRESENT and not event_state & scard.SCARD_STATE_MUTE:
                try:
                    return self._connect()
                except CardRemoved:
                    # The reader still reports the card that just left, or a new card arrived
                    # before the reader noticed the gap: try again shortly even without a change.
                    retry_ms = int(self._poll_interval * 1000)
            if remaining_ms == 0:
                raise NoCardPresent()
            known_state = event_state & ~scard.SCARD_STATE_CHANGED

    def check(self) -> None:
        """NoReaderFound when no reader matching the setting is connected, PcscUnavailable without pcscd."""
        choose_reader(self._list_readers(), self.reader_pattern)

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        """Send one APDU to the connected card; return (response data, status word)."""
        with self._lock:
            if self._connection is None:
                raise NoCardPresent("No card is connected. Place the card on the reader.")
            try:
                data, sw1, sw2 = self._connection.transmit(list(apdu))
            except self._pyscard.exceptions.SmartcardException as exc:
                if getattr(exc, "hresult", -1) == self._pyscard.scard.SCARD_S_SUCCESS:
                    # "Success" without even a status word: the card left the field mid-command
                    # (vpcd and some contactless readers report a lost card this way).
                    raise CardRemoved() from exc
                raise self._translate(exc, "talking to the card") from exc
            return bytes(data), (sw1 << 8) | sw2

    def close(self) -> None:
        """Disconnect from the card, stop the monitor thread and release the reader."""
        with self._monitor_lock:
            self._stop_monitor.set()
            monitor, self._monitor = self._monitor, None
        if monitor is not None and monitor is not threading.current_thread():
            monitor.join(timeout=5 * self._poll_interval + 1)
        with self._lock:
            self._disconnect()

    def _start_monitor(self) -> None:
        with self._monitor_lock:
            if self._monitor is not None and self._monitor.is_alive():
                return
            self._stop_monitor.clear()
            self._monitor = threading.Thread(target=self._monitor_loop, name=f"card monitor {self.name}", daemon=True)
            self._monitor.start()

    def _monitor_loop(self) -> None:
        scard = self._pyscard.scard
        context = None
        known_state = scard.SCARD_STATE_UNAWARE
        present = False
        while not self._stop_monitor.is_set():
            if context is None:
                hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
                if hresult != scard.SCARD_S_SUCCESS:
                    context = None
                    self._stop_monitor.wait(self._poll_interval)
                    continue
            hresult, states = scard.SCardGetStatusChange(
                context, int(self._poll_interval * 1000), [(self.name, known_state)]
            )
            if hresult == scard.SCARD_E_TIMEOUT:
                continue
            if hresult != scard.SCARD_S_SUCCESS:
                # pcscd restarted or the reader was unplugged: the card is gone, start over.
                if present:
                    present = False
                    self._notify_removed()
                scard.SCardReleaseContext(context)
                context, known_state = None, scard.SCARD_STATE_UNAWARE
                self._stop_monitor.wait(self._poll_interval)
                continue
            _, event_state, atr = states[0]
            now_present = bool(event_state & scard.SCARD_STATE_PRESENT) and not (event_state & scard.SCARD_STATE_MUTE)
            # pcsc-lite counts insertions and removals in the upper 16 bits: a changed count while a
            # card is still present means it was swapped between two polls.
            swapped = present and now_present and (event_state >> 16) != (known_state >> 16)
            if present and (not now_present or swapped):
                present = False
                self._notify_removed()
            if now_present and not present:
                present = True
                self._notify_inserted(bytes(atr))
            if event_state & (scard.SCARD_STATE_UNKNOWN | scard.SCARD_STATE_UNAVAILABLE):
                self._stop_monitor.wait(self._poll_interval)
            known_state = event_state & ~scard.SCARD_STATE_CHANGED
        if context is not None:
            scard.SCardReleaseContext(context)

    def _connect(self) -> CardInfo:
        scard = self._pyscard.scard
        connection = self._pyscard.reader_class(self.name).createConnection()
        try:
            connection.connect(mode=scard.SCARD_SHARE_SHARED, disposition=scard.SCARD_LEAVE_CARD)
            atr = bytes(connection.getATR())
        except self._pyscard.exceptions.SmartcardException as exc:
            self._release(connection)
            raise self._translate(exc, "connecting to the card") from exc
        if self._atr_check is not None:
            try:
                self._atr_check(atr)
            except WrongCardType:
                self._release(connection)
                raise
        self._connection = connection
        try:
            data, sw = self.transmit(GET_UID_APDU)
            if sw != SW_OK:
                raise CardCommandFailed(sw, "UID read")
        except CardReaderError:
            self._disconnect()
            raise
        return CardInfo(uid=data, atr=atr)

    def _disconnect(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            self._release(connection)

    def _release(self, connection: Any) -> None:
        # The card or pcscd may already be gone; there is nothing left to release then.
        with contextlib.suppress(self._pyscard.exceptions.SmartcardException):
            connection.release()

    def _establish_context(self) -> Any:
        scard = self._pyscard.scard
        hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        if hresult != scard.SCARD_S_SUCCESS:
            raise self._error_for(hresult, "connecting to the smart card service")
        return context

    def _list_readers(self) -> list[str]:
        try:
            return [str(reader) for reader in self._pyscard.readers()]
        except (
            self._pyscard.exceptions.SmartcardException,
            self._pyscard.pcsc_exceptions.BaseSCardException,
        ) as exc:
            raise self._translate(exc, "listing card readers") from exc

    def _resolve_reader(self) -> str:
        return choose_reader(self._list_readers(), self.reader_pattern)

    def _translate(self, exc: Exception, doing: str) -> CardReaderError:
        pyscard = self._pyscard
        service_errors = (
            pyscard.pcsc_exceptions.EstablishContextException,
            pyscard.exceptions.CardServiceNotFoundException,
            pyscard.exceptions.CardServiceStoppedException,
        )
        if isinstance(exc, service_errors):
            return PcscUnavailable()
        if isinstance(exc, pyscard.exceptions.NoReadersException):
            return NoReaderFound()
        if isinstance(exc, pyscard.exceptions.NoCardException):
            return CardRemoved()
        hresult = getattr(exc, "hresult", -1)
        if hresult in (-1, 0):
            return CardReaderError(f"Card reader error while {doing}: {exc}")
        return self._error_for(hresult, doing)

    def _error_for(self, hresult: int, doing: str) -> CardReaderError:
        pyscard = self._pyscard
        code = hresult & 0xFFFFFFFF
        if code in pyscard.service_gone:
            return PcscUnavailable()
        if code in pyscard.reader_gone:
            return NoReaderFound(f"The card reader '{self.name}' is not available.")
        if code in pyscard.card_gone:
            return CardRemoved()
        if code == pyscard.scard.SCARD_E_SHARING_VIOLATION & 0xFFFFFFFF:
            return CardReaderError("The card reader is in use by another program. Close it and try again.")
        message = pyscard.scard.SCardGetErrorMessage(hresult)
        return CardReaderError(f"Card reader error while {doing}: {message} (0x{code:08X}).")
