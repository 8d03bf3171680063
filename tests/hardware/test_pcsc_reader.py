"""PcscCardReader and MifareClassic1K through a real pcscd, with a virtual card on the vpcd reader."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import time
from pathlib import Path

import pytest

from alliance_shared.devices.card_reader import (
    AuthenticationFailed,
    CardCommandFailed,
    CardRemoved,
    NoCardPresent,
    NoReaderFound,
    WrongCardType,
)
from alliance_shared.devices.mifare import TRANSPORT_KEY, MifareClassic1K, build_trailer
from alliance_shared.devices.pcsc_reader import PcscCardReader, choose_reader
from tests.hardware.virtual_mifare import MIFARE_CLASSIC_1K_ATR, VirtualMifareClassic1K
from tests.resources import unavailable

REPO_ROOT = Path(__file__).resolve().parents[2]
CARD_TIMEOUT = 3.0  # pcscd polls vpcd every 400 ms; a card normally shows up within 0.5 s
KEY_A = bytes.fromhex("A0A1A2A3A4A5")
KEY_B = bytes.fromhex("B0B1B2B3B4B5")
READ_A_WRITE_B = bytes.fromhex("787788")
DATA = bytes(range(0x30, 0x40))
DESFIRE_ATR = bytes.fromhex("3B8180018080")


def run_python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), **env},
        capture_output=True,
        text=True,
        timeout=30,
    )


# --- without pcscd --------------------------------------------------------------------------------


def test_module_imports_without_pyscard_and_reports_it():
    result = run_python(
        "import sys; sys.modules['smartcard'] = None\n"
        "from alliance_shared.devices.pcsc_reader import PcscCardReader\n"
        "from alliance_shared.devices.card_reader import PcscUnavailable\n"
        "try:\n    PcscCardReader()\nexcept PcscUnavailable as error:\n    print('unavailable:', error)\n"
    )
    assert result.returncode == 0, result.stderr
    assert "unavailable: The smart card library (pyscard) is not installed" in result.stdout


def test_no_pcscd_raises_pcsc_unavailable(tmp_path):
    try:
        import smartcard  # noqa: F401
    except ImportError:
        unavailable("pyscard is not installed (pip install pyscard)")
    # pcsc-lite's client library talks to the daemon socket named by PCSCLITE_CSOCK_NAME.
    result = run_python(
        "from alliance_shared.devices.pcsc_reader import PcscCardReader\n"
        "from alliance_shared.devices.card_reader import PcscUnavailable\n"
        "try:\n    PcscCardReader()\nexcept PcscUnavailable as error:\n    print('unavailable:', error)\n",
        PCSCLITE_CSOCK_NAME=str(tmp_path / "no-pcscd.comm"),
    )
    assert result.returncode == 0, result.stderr
    assert "unavailable: The smart card service (pcscd) is not running" in result.stdout


# --- reader selection -----------------------------------------------------------------------------


SHOP_READERS = [
    "ACS ACR1252 1S CL Reader [ACR1252 1S CL Reader(1)] 00 00",
    "ACS ACR1252 1S CL Reader [ACR1252 1S CL Reader(2)] 00 01",
    "ACS ACR122U PICC Interface 01 00",
]


@pytest.mark.parametrize(
    ("pattern", "chosen"),
    [
        (None, SHOP_READERS[0]),
        ("ACS ACR122U PICC Interface 01 00", SHOP_READERS[2]),
        ("acr122u", SHOP_READERS[2]),
        ("Reader(2)]", SHOP_READERS[1]),  # a substring that is not a valid regex
        (r"acr1252.*\(2\)", SHOP_READERS[1]),
        ("ACR12", SHOP_READERS[0]),  # several match: the first one
    ],
)
def test_choose_reader(pattern, chosen):
    assert choose_reader(SHOP_READERS, pattern) == chosen


def test_choose_reader_without_a_match():
    with pytest.raises(NoReaderFound, match="ACR1281.*ACR122U PICC"):
        choose_reader(SHOP_READERS, "ACR1281")
    with pytest.raises(NoReaderFound):
        choose_reader([], None)


@pytest.mark.parametrize("pattern", [None, "Virtual PCD 00 00", "virtual pcd", r"virtual\s+PCD\s+\d+ 00$"])
def test_reader_is_chosen_by_name_or_pattern(pcscd, pattern):
    with PcscCardReader(pattern) as reader:
        assert reader.name == pcscd


def test_no_reader_matching_the_pattern(pcscd):
    with pytest.raises(NoReaderFound) as error:
        PcscCardReader("ACR122U")
    assert "ACR122U" in str(error.value)
    assert pcscd in str(error.value)


# --- cards through pcscd --------------------------------------------------------------------------


def test_wait_for_card_times_out_without_a_card(reader, vpcd):
    started = time.monotonic()
    with pytest.raises(NoCardPresent):
        reader.wait_for_card(timeout=0.3)
    assert 0.25 <= time.monotonic() - started < 2
    with pytest.raises(NoCardPresent):
        reader.transmit(bytes.fromhex("FFCA000000"))


def test_wait_for_card_returns_uid_and_atr(reader, virtual_card):
    info = reader.wait_for_card(CARD_TIMEOUT)

    assert info.uid == virtual_card.uid == bytes.fromhex("A1B2C3D4")
    assert info.atr == MIFARE_CLASSIC_1K_ATR
    assert virtual_card.apdu_log[-1] == (bytes.fromhex("FFCA000000"), virtual_card.uid + b"\x90\x00")


def test_read_and_write_with_transport_key(reader, virtual_card):
    reader.wait_for_card(CARD_TIMEOUT)
    mifare = MifareClassic1K(reader)

    assert mifare.uid() == virtual_card.uid
    mifare.load_key(TRANSPORT_KEY)
    mifare.authenticate(4, "A")
    mifare.write_block(5, DATA)

    assert mifare.read_block(5) == DATA
    assert virtual_card.block(5) == DATA
    assert mifare.read_block(7) == bytes(6) + bytes.fromhex("FF078069") + TRANSPORT_KEY
    assert mifare.apdu_count == 6


def test_new_trailer_locks_out_the_transport_key(reader, virtual_card):
    reader.wait_for_card(CARD_TIMEOUT)
    mifare = MifareClassic1K(reader)
    mifare.read_sector(1, TRANSPORT_KEY)
    mifare.write_block(7, build_trailer(KEY_A, READ_A_WRITE_B, KEY_B))

    mifare.load_key(TRANSPORT_KEY)
    with pytest.raises(AuthenticationFailed):
        mifare.authenticate(4, "A")

    assert mifare.read_sector(1, KEY_A)[3] == bytes(6) + bytes.fromhex("78778869") + bytes(6)
    with pytest.raises(CardCommandFailed) as refused:
        mifare.write_block(4, DATA)
    assert refused.value.sw == 0x6300
    mifare.load_key(KEY_B, slot=1)
    mifare.authenticate(4, "B", slot=1)
    mifare.write_block(4, DATA)
    assert virtual_card.block(4) == DATA


def test_card_pulled_mid_command_raises_card_removed(reader, vpcd, virtual_card):
    reader.wait_for_card(CARD_TIMEOUT)
    mifare = MifareClassic1K(reader)
    mifare.read_sector(1, TRANSPORT_KEY)
    vpcd.pull_card_when(lambda apdu: apdu[:2] == b"\xff\xd6")

    with pytest.raises(CardRemoved):
        mifare.write_block(5, DATA)
    with pytest.raises(CardRemoved):
        mifare.read_block(5)
    assert virtual_card.block(5) == bytes(16)


def test_card_removed_between_commands_and_put_back(reader, vpcd, virtual_card):
    reader.wait_for_card(CARD_TIMEOUT)
    mifare = MifareClassic1K(reader)
    mifare.read_sector(1, TRANSPORT_KEY)

    vpcd.remove()
    with pytest.raises(CardRemoved):
        mifare.read_block(4)

    vpcd.insert(virtual_card)
    assert reader.wait_for_card(CARD_TIMEOUT).uid == virtual_card.uid
    with pytest.raises(CardCommandFailed):
        mifare.read_block(4)  # the new power-up dropped the old authentication
    assert mifare.read_sector(1, TRANSPORT_KEY)[0] == bytes(16)


def test_wrong_card_type(reader, vpcd):
    vpcd.insert(VirtualMifareClassic1K(atr=DESFIRE_ATR))

    with pytest.raises(WrongCardType) as error:
        reader.wait_for_card(CARD_TIMEOUT)
    assert error.value.atr == DESFIRE_ATR
    with pytest.raises(NoCardPresent):
        reader.transmit(bytes.fromhex("FFCA000000"))


def test_clone_shows_the_same_uid_and_data(reader, vpcd, virtual_card):
    reader.wait_for_card(CARD_TIMEOUT)
    mifare = MifareClassic1K(reader)
    mifare.read_sector(1, TRANSPORT_KEY)
    mifare.write_block(5, DATA)

    clone = VirtualMifareClassic1K.from_image(virtual_card.image())
    vpcd.insert(clone)  # swaps the original for the clone

    assert reader.wait_for_card(CARD_TIMEOUT).uid == virtual_card.uid
    assert mifare.read_sector(1, TRANSPORT_KEY)[1] == DATA
    assert clone.apdu_log, "the clone, not the original, answered"


def test_monitor_reports_insert_swap_and_remove(reader, vpcd):
    events: queue.Queue[tuple[str, bytes]] = queue.Queue()
    reader.add_listener(lambda atr: events.put(("inserted", atr)), lambda: events.put(("removed", b"")))

    def next_event() -> tuple[str, bytes]:
        try:
            return events.get(timeout=CARD_TIMEOUT)
        except queue.Empty:
            pytest.fail("no card event from the monitor thread")

    vpcd.insert(VirtualMifareClassic1K())
    assert next_event() == ("inserted", MIFARE_CLASSIC_1K_ATR)

    vpcd.insert(VirtualMifareClassic1K(uid=bytes.fromhex("01020304"), atr=DESFIRE_ATR))
    assert next_event() == ("removed", b"")
    assert next_event() == ("inserted", DESFIRE_ATR)

    vpcd.remove()
    assert next_event() == ("removed", b"")
    reader.close()
    assert events.empty()


def test_a_reader_back_under_another_name_is_found_again(vpcd_slot, virtual_card):
    # a replugged USB reader often comes back as "... 01 00": the name is resolved once more from the setting
    card_reader = PcscCardReader(vpcd_slot.reader)
    try:
        card_reader.name = "Virtual PCD 99 99"
        info = card_reader.wait_for_card(5)
        assert info.uid == virtual_card.uid and card_reader.name == vpcd_slot.reader
    finally:
        card_reader.close()
