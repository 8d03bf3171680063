"""Fixtures for card reader tests against a real pcscd with the vsmartcard-vpcd virtual reader."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from alliance_shared.devices.pcsc_reader import PcscCardReader
from tests.hardware.card_tools_helpers import Alliance, make_alliance, quiet_live_server
from tests.hardware.pcscd import PcscdUnavailable, VpcdSlot, claimed_slot, running_pcscd
from tests.hardware.virtual_mifare import VirtualMifareClassic1K
from tests.hardware.vpcd import VPCD_HOST, VirtualCardConnection, wait_for_reader_state
from tests.resources import unavailable

READER_SETTLE_TIMEOUT = 3.0


@pytest.fixture(scope="session")
def pcscd_slots(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[VpcdSlot]]:
    """A pcscd with the vpcd reader (the running one, or one started here); yields its vpcd slots."""
    try:
        with running_pcscd(tmp_path_factory.mktemp("pcscd") / "pcscd.log") as (slots, _started):
            yield slots
    except PcscdUnavailable as exc:
        unavailable(str(exc))


@pytest.fixture(scope="session")
def pcscd(pcscd_slots: list[VpcdSlot]) -> str:
    """The name of the first vpcd reader ("Virtual PCD 00 00", port 35963) of a running pcscd."""
    return pcscd_slots[0].reader


_slot_turns = itertools.count()


@pytest.fixture
def vpcd_slot(pcscd_slots: list[VpcdSlot]) -> Iterator[VpcdSlot]:
    """The vpcd slot for this test; tests take the slots in turn so one settles while another runs."""
    with claimed_slot(pcscd_slots[next(_slot_turns) % len(pcscd_slots)]) as slot:
        yield slot


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


@pytest.fixture(scope="module")
def server_url(app) -> Iterator[str]:
    """A live server for the module's tests (quiet), its base URL."""
    with quiet_live_server(app) as url:
        yield url


@pytest.fixture
def alliance(app, server_url: str) -> Alliance:
    """The test alliance in the (emptied) database, reached through the live server."""
    return make_alliance(app, server_url)
