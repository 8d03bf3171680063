"""Present a virtual card to pcscd through the vsmartcard-vpcd reader driver's TCP socket."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections.abc import Callable
from typing import Protocol

VPCD_HOST = "127.0.0.1"
VPCD_PORT = 35963
# pcscd asks vpcd whether a card is present every 400 ms.
PCSCD_POLL_SECONDS = 0.4

CTRL_POWER_OFF = 0
CTRL_POWER_ON = 1
CTRL_RESET = 2
CTRL_GET_ATR = 4

_TCP_QUICKACK = getattr(socket, "TCP_QUICKACK", None)  # Linux only


class VirtualCard(Protocol):
    """What vpcd needs from a card model."""

    atr: bytes

    def power_on(self) -> None: ...

    def power_off(self) -> None: ...

    def reset(self) -> None: ...

    def transmit(self, apdu: bytes) -> bytes: ...


class VpcdUnavailable(ConnectionError):
    """Nothing listens on the vpcd port: pcscd is not running with the vpcd driver."""


def wait_for_reader_state(reader: str, present: bool, timeout: float) -> bool:
    """Wait until pcscd reports a card in reader (present=True) or none (present=False)."""
    from smartcard import scard

    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hresult != scard.SCARD_S_SUCCESS:
        return False
    try:
        deadline = time.monotonic() + timeout
        state = scard.SCARD_STATE_UNAWARE
        while True:
            remaining_ms = max(0, int((deadline - time.monotonic()) * 1000))
            hresult, states = scard.SCardGetStatusChange(context, remaining_ms, [(reader, state)])
            if hresult != scard.SCARD_S_SUCCESS:
                return False
            state = states[0][1] & ~scard.SCARD_STATE_CHANGED
            if bool(state & scard.SCARD_STATE_PRESENT) == present:
                return True
            if remaining_ms == 0:
                return False
    finally:
        scard.SCardReleaseContext(context)


class VirtualCardConnection:
    """One card slot of vpcd: insert() puts a card model on the reader, remove() takes it off.

    With reader_name set, remove() returns only once pcscd reports the reader empty, so that a card
    inserted next is seen as a new card: vpcd accepts a waiting connection as soon as any failed
    I/O drops the old one, and pcscd would then never notice the swap.
    """

    def __init__(
        self,
        host: str = VPCD_HOST,
        port: int = VPCD_PORT,
        *,
        reader_name: str | None = None,
        connect_timeout: float = 2.0,
    ) -> None:
        self.host = host
        self.port = port
        self.reader_name = reader_name
        self.connect_timeout = connect_timeout
        self.card: VirtualCard | None = None
        self.error: BaseException | None = None
        self._socket: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._pull_when: Callable[[bytes], bool] | None = None
        self._seen = threading.Event()
        self._lock = threading.Lock()

    @property
    def inserted(self) -> bool:
        """True while the card is connected to vpcd."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    def insert(self, card: VirtualCard) -> None:
        """Connect card to vpcd (replacing any inserted card); pcscd sees it at its next poll."""
        self.remove()
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
        except OSError as exc:
            raise VpcdUnavailable(
                f"vpcd is not listening on {self.host}:{self.port}: is pcscd running with vsmartcard-vpcd?"
            ) from exc
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            self.card = card
            self.error = None
            self._pull_when = None
            self._seen.clear()
            self._socket = sock
            self._thread = threading.Thread(
                target=self._serve, args=(sock, card), name=f"vpcd card :{self.port}", daemon=True
            )
            self._thread.start()

    def remove(self, wait: bool = True) -> None:
        """Take the card off the reader; with wait and reader_name, until pcscd has seen it go."""
        with self._lock:
            sock, thread = self._socket, self._thread
            self._socket = self._thread = None
        if sock is None:
            return
        # A connection vpcd has not accepted yet would stay in its listen queue after close() and
        # stall the next insert() for a TCP retransmission (1 s): let pcscd pick it up first.
        if thread is not None and thread.is_alive():
            self._seen.wait(timeout=3 * PCSCD_POLL_SECONDS)
        _close(sock)
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=2)
        if (
            wait
            and self.reader_name is not None
            and not wait_for_reader_state(self.reader_name, present=False, timeout=5 * PCSCD_POLL_SECONDS)
        ):
            raise TimeoutError(f"pcscd still reports a card in {self.reader_name!r} after removal")

    def pull_card_when(self, predicate: Callable[[bytes], bool]) -> None:
        """Pull the card off the reader when it receives an APDU matching predicate, leaving it unanswered."""
        self._pull_when = predicate

    def _serve(self, sock: socket.socket, card: VirtualCard) -> None:
        try:
            while True:
                header = _receive_exactly(sock, 2)
                if header is None:
                    return
                (length,) = struct.unpack(">H", header)
                payload = _receive_exactly(sock, length)
                if payload is None:
                    return
                self._seen.set()
                if length == 1:
                    # vpcd control byte (a 1-byte APDU cannot be told apart; none is ever needed).
                    control = payload[0]
                    if control == CTRL_POWER_OFF:
                        card.power_off()
                    elif control == CTRL_POWER_ON:
                        card.power_on()
                    elif control == CTRL_RESET:
                        card.reset()
                    elif control == CTRL_GET_ATR:
                        _send(sock, card.atr)
                    continue
                pull_when = self._pull_when
                if pull_when is not None and pull_when(payload):
                    self._pull_when = None
                    return
                _send(sock, card.transmit(payload))
        except OSError:
            pass  # remove() closed the socket, or pcscd went away
        except BaseException as exc:  # surface model bugs to the test instead of hanging pcscd
            self.error = exc
        finally:
            _close(sock)
            card.power_off()  # a card taken out of the field loses power, and its authentication

    def __enter__(self) -> VirtualCardConnection:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.remove()


def _receive_exactly(sock: socket.socket, size: int) -> bytes | None:
    buffer = bytearray()
    while len(buffer) < size:
        # vpcd sends the length and the payload in two writes without TCP_NODELAY, so Nagle holds
        # the payload until the length is acknowledged: acknowledge at once instead of after the
        # 40 ms delayed-ACK timer. Linux clears TCP_QUICKACK by itself, so set it before every read.
        if _TCP_QUICKACK is not None:
            sock.setsockopt(socket.IPPROTO_TCP, _TCP_QUICKACK, 1)
        chunk = sock.recv(size - len(buffer))
        if not chunk:
            return None
        buffer += chunk
    return bytes(buffer)


def _send(sock: socket.socket, payload: bytes) -> None:
    sock.sendall(struct.pack(">H", len(payload)) + payload)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already disconnected
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
