"""A real pcscd with the vsmartcard-vpcd virtual reader, shared by the hardware tests and bench/cards.py.

Processes sharing this machine (pytest runs, xdist workers, a benchmark) coordinate through lock files:
all hold the users lock shared while they use pcscd, one at a time holds it exclusively to decide
whether to start pcscd or stop it; each vpcd slot holds one card, so users take turns on a slot.
"""

from __future__ import annotations

import fcntl
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.hardware.vpcd import VPCD_PORT

# vpcd (Debian's /etc/reader.conf.d/vpcd) gives pcscd two slots: "Virtual PCD 00 00" listening on
# port 35963 and "Virtual PCD 00 01" on port 35964.
VPCD_READER_PREFIX = "Virtual PCD 00 "
VPCD_DRIVER_CONFIG = Path("/etc/reader.conf.d/vpcd")
PCSCD_START_TIMEOUT = 10.0
VPCD_PORT_RELEASE_TIMEOUT = 90.0
USERS_LOCK = Path(tempfile.gettempdir()) / "alliancecard-pcscd.lock"


class PcscdUnavailable(Exception):
    """pyscard, pcscd or the vpcd driver is missing, or pcscd did not start with the vpcd reader."""


@dataclass(frozen=True)
class VpcdSlot:
    """One vpcd card slot: the reader name pcscd shows and the TCP port a virtual card connects to."""

    reader: str
    port: int


def pcscd_readers() -> list[str] | None:
    """Reader names of the running pcscd, or None if no pcscd answers."""
    from smartcard import scard

    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hresult != scard.SCARD_S_SUCCESS:
        return None
    try:
        hresult, readers = scard.SCardListReaders(context, [])
        if hresult == scard.SCARD_E_NO_READERS_AVAILABLE:
            return []
        return list(readers) if hresult == scard.SCARD_S_SUCCESS else None
    finally:
        scard.SCardReleaseContext(context)


def vpcd_slots(readers: list[str]) -> list[VpcdSlot]:
    """The vpcd slots among pcscd's readers, with their ports."""
    slots = []
    for reader in readers:
        if reader.startswith(VPCD_READER_PREFIX) and reader[len(VPCD_READER_PREFIX) :].isdigit():
            slots.append(VpcdSlot(reader, VPCD_PORT + int(reader[len(VPCD_READER_PREFIX) :])))
    return sorted(slots, key=lambda slot: slot.port)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _start_pcscd(log_path: Path) -> subprocess.Popen[bytes]:
    """Start pcscd; while the vpcd port is still held by the connections of a pcscd stopped moments ago
    (TIME_WAIT, up to a minute: vpcd binds without SO_REUSEADDR), try again until it is free."""
    executable = shutil.which("pcscd") or shutil.which("pcscd", path="/usr/sbin:/sbin")
    if executable is None:
        raise PcscdUnavailable("pcscd is not installed (apt-get install pcscd)")
    port_free_deadline = time.monotonic() + VPCD_PORT_RELEASE_TIMEOUT
    while True:
        with log_path.open("wb") as log:
            process = subprocess.Popen([executable, "--foreground"], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + PCSCD_START_TIMEOUT
        while not vpcd_slots(pcscd_readers() or []):
            if process.poll() is not None or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        else:
            return process
        _stop(process)
        log_tail = log_path.read_text(errors="replace")[-2000:]
        if "Address already in use" not in log_tail or time.monotonic() > port_free_deadline:
            raise PcscdUnavailable(f"pcscd did not start with the vpcd reader; its log:\n{log_tail}")
        time.sleep(1.0)


@contextmanager
def running_pcscd(log_path: Path) -> Iterator[tuple[list[VpcdSlot], bool]]:
    """The running pcscd, or one started here and stopped afterwards unless another run still uses it:
    its vpcd slots, and whether it was started here."""
    try:
        import smartcard.scard  # noqa: F401
    except ImportError as exc:
        raise PcscdUnavailable("pyscard is not installed (pip install pyscard)") from exc
    if not VPCD_DRIVER_CONFIG.exists():
        raise PcscdUnavailable(f"vsmartcard-vpcd is not installed ({VPCD_DRIVER_CONFIG} missing)")
    users = USERS_LOCK.open("a")
    # Every user holds the lock shared while it uses pcscd (a test session holds it throughout); only a run
    # that must start pcscd takes it exclusively, so a benchmark started by a test session does not wait
    # for that session to end.
    fcntl.flock(users, fcntl.LOCK_SH)
    process = None
    try:
        readers = pcscd_readers()
        if readers is None:
            fcntl.flock(users, fcntl.LOCK_EX)
            readers = pcscd_readers()  # another run may have started it meanwhile
            if readers is None:
                process = _start_pcscd(log_path)
                readers = pcscd_readers() or []
            fcntl.flock(users, fcntl.LOCK_SH)
        slots = vpcd_slots(readers)
        if not slots:
            raise PcscdUnavailable(f"the running pcscd has no vpcd reader (its readers: {readers})")
        yield slots, process is not None
    finally:
        if process is not None:
            try:
                fcntl.flock(users, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pass  # another run still uses this pcscd: leave it running
            else:
                _stop(process)
        users.close()


@contextmanager
def claimed_slot(slot: VpcdSlot) -> Iterator[VpcdSlot]:
    """Hold ``slot`` while using it: a slot holds one card, other processes wait their turn."""
    with (Path(tempfile.gettempdir()) / f"alliancecard-vpcd-{slot.port}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield slot
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
