"""The card reader interface every reader implementation follows, and its errors."""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

CardInsertedCallback = Callable[[bytes], None]
"""Called from the monitor thread with the ATR of the card just presented."""

CardRemovedCallback = Callable[[], None]
"""Called from the monitor thread when the card left the reader."""


class CardReaderError(Exception):
    """Base of all card reader errors; str() is a message a cashier can act on."""

    default_message = "The card reader reported an error. Please try again."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.default_message)


class PcscUnavailable(CardReaderError):
    """The PC/SC service (pcscd) or the pyscard library is not available."""

    default_message = "The smart card service (pcscd) is not running. Ask the operator to start it, then try again."


class NoReaderFound(CardReaderError):
    """No card reader is connected, or none matches the configured name."""

    default_message = "No card reader is connected. Check the reader's USB cable."


class NoCardPresent(CardReaderError):
    """No card was presented to the reader in time."""

    default_message = "No card was presented. Place the card on the reader."


class CardRemoved(CardReaderError):
    """The card left the reader before the operation finished."""

    default_message = "The card was removed before the operation finished. Hold the card on the reader and try again."


class AuthenticationFailed(CardReaderError):
    """The card rejected the key (status 63 00 after authenticate)."""

    default_message = "The card rejected the key. It may not be an alliance card, or it was not issued correctly."


class WrongCardType(CardReaderError):
    """The card is not a MIFARE Classic 1K."""

    default_message = "This card type is not supported. Please use an alliance membership card."

    def __init__(self, atr: bytes = b"", message: str | None = None) -> None:
        self.atr = atr
        super().__init__(message)


class CardCommandFailed(CardReaderError):
    """The card or reader answered a command with an error status word."""

    def __init__(self, sw: int, operation: str = "command") -> None:
        self.sw = sw
        self.operation = operation
        super().__init__(
            f"The card refused the {operation} (status {sw:04X}). "
            "Try again; if it keeps failing, the card may be damaged."
        )


@dataclass(frozen=True)
class CardInfo:
    """A card the reader is connected to."""

    uid: bytes
    atr: bytes


class CardReader(ABC):
    """A reader holding at most one card; commands go to the card found by wait_for_card."""

    def __init__(self) -> None:
        self._listeners: list[tuple[CardInsertedCallback, CardRemovedCallback]] = []
        self._listeners_lock = threading.Lock()

    @abstractmethod
    def wait_for_card(self, timeout: float) -> CardInfo:
        """Wait up to timeout seconds for a card, connect to it and return its UID and ATR."""

    @abstractmethod
    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        """Send one APDU to the connected card; return (response data, status word)."""

    @abstractmethod
    def close(self) -> None:
        """Disconnect from the card, stop the monitor and release the reader."""

    def check(self) -> None:
        """Raise CardReaderError (NoReaderFound, PcscUnavailable) when the reader is not usable right now;
        the status line asks this. A reader with nothing to check is always there."""
        return None

    @abstractmethod
    def _start_monitor(self) -> None:
        """Start delivering insert/remove events (idempotent); called by add_listener."""

    def add_listener(self, on_inserted: CardInsertedCallback, on_removed: CardRemovedCallback) -> None:
        """Call on_inserted(atr) / on_removed() from the monitor thread when a card comes or goes."""
        with self._listeners_lock:
            self._listeners.append((on_inserted, on_removed))
        self._start_monitor()

    def _notify_inserted(self, atr: bytes) -> None:
        with self._listeners_lock:
            listeners = list(self._listeners)
        for on_inserted, _ in listeners:
            try:
                on_inserted(atr)
            except Exception:
                log.exception("card inserted listener failed")

    def _notify_removed(self) -> None:
        with self._listeners_lock:
            listeners = list(self._listeners)
        for _, on_removed in listeners:
            try:
                on_removed()
            except Exception:
                log.exception("card removed listener failed")

    def __enter__(self) -> CardReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
