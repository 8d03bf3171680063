"""Fixtures for card reader tests against a real pcscd with the vsmartcard-vpcd virtual reader."""

from __future__ import annotations

import fcntl
import itertools
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pos_client.devices.pcsc_reader import PcscCardReader
from tests.hardware.virtual_mifare import VirtualMifareClassic1K
from tests.hardware.vpcd import VPCD_HOST, VPCD_PORT, VirtualCardConnection, wait_for_reader_state
from tests.resources import unavailable

# vpcd (Debian's /etc/reader.conf.d/vpcd) gives pcscd two slots: "Virtual PCD 00 00" listening on
# port 35963 and "Virtual PCD 00 01" on port 35964.
VPCD_READER_PREFIX = "Virtual PCD 00 "
VPCD_DRIVER_CONFIG = Path("/etc/reader.conf.d/vpcd")
PCSCD_START_TIMEOUT = 10.0
READER_SETTLE_TIMEOUT = 3.0


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


@pytest.fixture(scope="session")
def pcscd_slots(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[VpcdSlot]]:
    """A pcscd with the vpcd reader (the running one, or one started here); yields its vpcd slots."""
    try:
        import smartcard.scard  # noqa: F401
    except ImportError:
        unavailable("pyscard is not installed (pip install pyscard)")
    if not VPCD_DRIVER_CONFIG.exists():
        unavailable(f"vsmartcard-vpcd is not installed ({VPCD_DRIVER_CONFIG} missing)")
    # Test runs sharing this machine (xdist workers, a second pytest) hold this lock shared while they
    # use pcscd; one at a time holds it exclusively to decide whether to start pcscd or to stop it.
    users = (Path(tempfile.gettempdir()) / "alliancecard-pcscd.lock").open("a")
    fcntl.flock(users, fcntl.LOCK_EX)
    process = None
    try:
        readers = pcscd_readers()
        if readers is None:
            process = _start_pcscd(tmp_path_factory.mktemp("pcscd") / "pcscd.log")
            readers = pcscd_readers() or []
        fcntl.flock(users, fcntl.LOCK_SH)
        slots = vpcd_slots(readers)
        if not slots:
            unavailable(f"the running pcscd has no vpcd reader (its readers: {readers})")
        yield slots
    finally:
        if process is not None:
            try:
                fcntl.flock(users, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pass  # another test run still uses this pcscd: leave it running
            else:
                _stop(process)
        users.close()


def _start_pcscd(log_path: Path) -> subprocess.Popen[bytes]:
    executable = shutil.which("pcscd") or shutil.which("pcscd", path="/usr/sbin:/sbin")
    if executable is None:
        unavailable("pcscd is not installed (apt-get install pcscd)")
    with log_path.open("wb") as log:
        process = subprocess.Popen([executable, "--foreground"], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + PCSCD_START_TIMEOUT
    while not vpcd_slots(pcscd_readers() or []):
        if process.poll() is not None or time.monotonic() > deadline:
            _stop(process)
            log_tail = log_path.read_text(errors="replace")[-2000:]
            unavailable(f"pcscd did not start with the vpcd reader; its log:\n{log_tail}")
        time.sleep(0.05)
    return process


@pytest.fixture(scope="session")
def pcscd(pcscd_slots: list[VpcdSlot]) -> str:
    """The name of the first vpcd reader ("Virtual PCD 00 00", port 35963) of a running pcscd."""
    return pcscd_slots[0].reader


_slot_turns = itertools.count()


@pytest.fixture
def vpcd_slot(pcscd_slots: list[VpcdSlot]) -> Iterator[VpcdSlot]:
    """The vpcd slot for this test; tests take the slots in turn so one settles while another runs."""
    slot = pcscd_slots[next(_slot_turns) % len(pcscd_slots)]
    # A slot holds one card: test processes sharing this pcscd (xdist workers, a second pytest run)
    # take turns on it.
    lock_path = Path(tempfile.gettempdir()) / f"alliancecard-vpcd-{slot.port}.lock"
    with lock_path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield slot
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture
def vpcd(vpcd_slot: VpcdSlot) -> Iterator[VirtualCardConnection]:
    """The empty vpcd slot; removing or swapping a card waits until pcscd has seen the reader empty."""
    if not wait_for_reader_state(vpcd_slot.reader, present=False, timeout=READER_SETTLE_TIMEOUT):
        pytest.fail(f"a card is still in {vpcd_slot.reader!r}: is another virtual card connected to vpcd?")
    connection = VirtualCardConnection(VPCD_HOST, vpcd_slot.port, reader_name=vpcd_slot.reader)
    yield connection
    # pcscd notices the removal within one poll; the next test using this slot waits for that.
    connection.remove(wait=False)
    if connection.error is not None:
        raise connection.error


@pytest.fixture
def virtual_card(vpcd: VirtualCardConnection) -> VirtualMifareClassic1K:
    """A blank MIFARE Classic 1K (transport keys) inserted into the vpcd reader."""
    card = VirtualMifareClassic1K(uid=bytes.fromhex("A1B2C3D4"))
    vpcd.insert(card)
    return card


@pytest.fixture
def reader(vpcd_slot: VpcdSlot) -> Iterator[PcscCardReader]:
    """A PcscCardReader on this test's vpcd reader, chosen by its exact name."""
    card_reader = PcscCardReader(vpcd_slot.reader)
    yield card_reader
    card_reader.close()
