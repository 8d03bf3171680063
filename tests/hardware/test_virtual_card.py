"""The virtual MIFARE Classic 1K model and the MifareClassic1K commands, without pcscd."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from alliance_shared.devices.card_reader import (
    AuthenticationFailed,
    CardCommandFailed,
    NoCardPresent,
    WrongCardType,
)
from alliance_shared.devices.mifare import (
    TRANSPORT_ACCESS_BITS,
    TRANSPORT_KEY,
    MifareClassic1K,
    build_trailer,
    encode_access_bits,
    first_block,
    is_mifare_classic_1k_atr,
    parse_access_bits,
    sector_of,
    trailer_block,
)
from tests.hardware.virtual_mifare import (
    MIFARE_CLASSIC_1K_ATR,
    DirectCardReader,
    VirtualMifareClassic1K,
    decode_access_bits,
)

UID = bytes.fromhex("0A0B0C0D")
KEY_A = bytes.fromhex("A0A1A2A3A4A5")
KEY_B = bytes.fromhex("B0B1B2B3B4B5")
DESFIRE_ATR = bytes.fromhex("3B8180018080")
DATA = bytes(range(0x10, 0x20))

# Trailer condition 011: keys writable with key B, key B not readable, so key B authenticates.
TRAILER_KEY_B_USABLE = (0, 1, 1)
READ_A_WRITE_B = bytes.fromhex("787788")  # data blocks 100, trailer 011


def apdu(hex_string: str) -> bytes:
    return bytes.fromhex(hex_string.replace(" ", ""))


def load_key(card: VirtualMifareClassic1K, key: bytes, slot: int = 0) -> bytes:
    return card.transmit(bytes([0xFF, 0x82, 0x00, slot, 0x06]) + key)


def authenticate(card: VirtualMifareClassic1K, block: int, key_type: str, key: bytes) -> bytes:
    assert load_key(card, key) == apdu("9000")
    return card.transmit(bytes([0xFF, 0x86, 0, 0, 5, 1, 0, block, 0x60 if key_type == "A" else 0x61, 0]))


def read(card: VirtualMifareClassic1K, block: int) -> bytes:
    return card.transmit(bytes([0xFF, 0xB0, 0x00, block, 0x10]))


def write(card: VirtualMifareClassic1K, block: int, data: bytes) -> bytes:
    return card.transmit(bytes([0xFF, 0xD6, 0x00, block, 0x10]) + data)


def card_with_sector_1(conditions: tuple[tuple[int, int, int], ...]) -> VirtualMifareClassic1K:
    card = VirtualMifareClassic1K(UID)
    card.set_block(7, KEY_A + encode_access_bits(conditions) + b"\x69" + KEY_B)
    return card


# --- card layout and the reader's pseudo-APDUs -------------------------------------------------


def test_blank_card_has_manufacturer_block_and_transport_trailers():
    card = VirtualMifareClassic1K(UID)

    assert card.block(0)[:8] == UID + bytes([0x0A ^ 0x0B ^ 0x0C ^ 0x0D, 0x08, 0x04, 0x00])
    for sector in range(16):
        assert card.block(sector * 4 + 3) == apdu("FFFFFFFFFFFF FF078069 FFFFFFFFFFFF")
        for block in range(sector * 4, sector * 4 + 3):
            if block:
                assert card.block(block) == bytes(16)
    assert len(card.image()) == 1024
    assert card.atr == MIFARE_CLASSIC_1K_ATR


def test_get_data_returns_the_uid():
    card = VirtualMifareClassic1K(UID)

    assert card.transmit(apdu("FFCA000000")) == UID + apdu("9000")
    assert card.transmit(apdu("FFCA0000")) == UID + apdu("9000")
    assert card.transmit(apdu("FFCA000002")) == apdu("6C04")
    assert card.transmit(apdu("FFCA010000")) == apdu("6A81")


@pytest.mark.parametrize(
    ("command", "status"),
    [
        ("00A4040000", "6E00"),  # not the reader's class
        ("FF00000000", "6D00"),  # unknown instruction
        ("FF8200000501020304", "6700"),  # Lc says 5, 4 bytes follow
        ("FF82000206FFFFFFFFFFFF", "6300"),  # key slot 2 does not exist
        ("FF82200006FFFFFFFFFFFF", "6300"),  # non-volatile key memory not supported
        ("FFB0000140", "6C10"),  # wrong Le
        ("FFB0004010", "6300"),  # block 64 does not exist
    ],
)
def test_reader_errors_for_bad_commands(command, status):
    assert VirtualMifareClassic1K(UID).transmit(apdu(command)) == apdu(status)


def test_read_and_write_need_authentication():
    card = VirtualMifareClassic1K(UID)

    assert read(card, 1) == apdu("6300")
    assert write(card, 1, DATA) == apdu("6300")
    assert card.block(1) == bytes(16)


def test_authentication_needs_a_loaded_key_slot():
    card = VirtualMifareClassic1K(UID)

    assert card.transmit(apdu("FF860000050100016000")) == apdu("6300")
    assert card.authenticated_sector is None


def test_transport_key_reads_and_writes_data_blocks():
    card = VirtualMifareClassic1K(UID)

    assert authenticate(card, 4, "A", TRANSPORT_KEY) == apdu("9000")
    assert write(card, 5, DATA) == apdu("9000")
    assert read(card, 5) == DATA + apdu("9000")
    assert card.block(5) == DATA


def test_wrong_key_fails_and_drops_the_session():
    card = VirtualMifareClassic1K(UID)
    assert authenticate(card, 4, "A", TRANSPORT_KEY) == apdu("9000")

    assert authenticate(card, 4, "A", KEY_A) == apdu("6300")
    assert card.authenticated_sector is None
    assert read(card, 5) == apdu("6300")


def test_authentication_covers_one_sector():
    card = VirtualMifareClassic1K(UID)
    assert authenticate(card, 1, "A", TRANSPORT_KEY) == apdu("9000")

    assert read(card, 4) == apdu("6300")
    assert card.authenticated_sector is None
    assert read(card, 1) == apdu("6300")


def test_trailer_reads_with_key_a_masked():
    card = VirtualMifareClassic1K(UID)
    assert authenticate(card, 7, "A", TRANSPORT_KEY) == apdu("9000")

    assert read(card, 7) == apdu("000000000000 FF078069 FFFFFFFFFFFF 9000")


def test_readable_key_b_cannot_be_used():
    card = VirtualMifareClassic1K(UID)  # transport access: key B readable with key A

    assert authenticate(card, 4, "B", TRANSPORT_KEY) == apdu("9000")
    assert read(card, 4) == apdu("6300")
    assert authenticate(card, 4, "B", TRANSPORT_KEY) == apdu("9000")
    assert write(card, 4, DATA) == apdu("6300")
    assert card.block(4) == bytes(16)


def test_block_0_is_read_only_unless_magic():
    genuine = VirtualMifareClassic1K(UID)
    magic = VirtualMifareClassic1K(UID, block0_writable=True)
    new_block0 = bytes.fromhex("11223344") + bytes(12)

    for card, expected in ((genuine, "6300"), (magic, "9000")):
        assert authenticate(card, 0, "A", TRANSPORT_KEY) == apdu("9000")
        assert write(card, 0, new_block0) == apdu(expected)
    assert genuine.uid == UID
    assert magic.uid == bytes.fromhex("11223344")


@pytest.mark.parametrize("event", ["power_off", "reset"])
def test_power_off_and_reset_drop_authentication(event):
    card = VirtualMifareClassic1K(UID)
    assert authenticate(card, 4, "A", TRANSPORT_KEY) == apdu("9000")

    getattr(card, event)()

    assert card.authenticated_sector is None
    assert read(card, 4) == apdu("6300")


# --- access conditions, MIFARE Classic datasheet tables -----------------------------------------

# Data blocks: (C1, C2, C3) -> (who may read, who may write).
DATASHEET_DATA = {
    "000": ("AB", "AB"),
    "010": ("AB", "-"),
    "100": ("AB", "B"),
    "110": ("AB", "B"),
    "001": ("AB", "-"),
    "011": ("B", "B"),
    "101": ("B", "-"),
    "111": ("-", "-"),
}


@pytest.mark.parametrize("bits", sorted(DATASHEET_DATA))
@pytest.mark.parametrize("key_type", ["A", "B"])
def test_data_block_access_conditions(bits, key_type):
    condition = tuple(int(bit) for bit in bits)
    card = card_with_sector_1((condition, (0, 0, 0), (0, 0, 0), TRAILER_KEY_B_USABLE))
    card.set_block(4, DATA)
    may_read, may_write = DATASHEET_DATA[bits]
    key = KEY_A if key_type == "A" else KEY_B

    assert authenticate(card, 4, key_type, key) == apdu("9000")
    assert read(card, 4) == (DATA + apdu("9000") if key_type in may_read else apdu("6300"))
    assert authenticate(card, 4, key_type, key) == apdu("9000")
    new = bytes(reversed(DATA))
    assert write(card, 4, new) == apdu("9000" if key_type in may_write else "6300")
    assert card.block(4) == (new if key_type in may_write else DATA)


# Trailer: (C1, C2, C3) -> key A write, access bits read, access bits write, key B read, key B write.
DATASHEET_TRAILER = {
    "000": ("A", "A", "-", "A", "A"),
    "010": ("-", "A", "-", "A", "-"),
    "100": ("B", "AB", "-", "-", "B"),
    "110": ("-", "AB", "-", "-", "-"),
    "001": ("A", "A", "A", "A", "A"),
    "011": ("B", "AB", "B", "-", "B"),
    "101": ("-", "AB", "B", "-", "-"),
    "111": ("-", "AB", "-", "-", "-"),
}


@pytest.mark.parametrize("bits", sorted(DATASHEET_TRAILER))
@pytest.mark.parametrize("key_type", ["A", "B"])
def test_trailer_access_conditions(bits, key_type):
    condition = tuple(int(bit) for bit in bits)
    conditions = ((0, 0, 0), (0, 0, 0), (0, 0, 0), condition)
    card = card_with_sector_1(conditions)
    old = card.block(7)
    write_a, read_access, write_access, read_b, write_b = DATASHEET_TRAILER[bits]
    key_b_usable = read_b == "-"
    key = KEY_A if key_type == "A" else KEY_B
    usable = key_type == "A" or key_b_usable

    assert authenticate(card, 7, key_type, key) == apdu("9000")
    expected_read = bytes(6) + old[6:10] + (KEY_B if key_type in read_b else bytes(6)) + apdu("9000")
    assert read(card, 7) == (expected_read if usable and key_type in read_access else apdu("6300"))

    # Same access bits with a new GPB, so only the parts' permissions decide what changes.
    new_key_a, new_key_b = bytes.fromhex("111111111111"), bytes.fromhex("222222222222")
    assert authenticate(card, 7, key_type, key) == apdu("9000")
    may_write_any = usable and key_type in write_a + write_access + write_b
    assert write(card, 7, new_key_a + old[6:9] + b"\x42" + new_key_b) == apdu("9000" if may_write_any else "6300")
    after = card.block(7)
    assert after[0:6] == (new_key_a if usable and key_type in write_a else KEY_A)
    assert after[9] == (0x42 if usable and key_type in write_access else 0x69)
    assert after[10:16] == (new_key_b if usable and key_type in write_b else KEY_B)


def test_malformed_access_bits_block_the_sector():
    card = VirtualMifareClassic1K(UID)
    card.set_block(7, TRANSPORT_KEY + bytes.fromhex("FF078169") + TRANSPORT_KEY)

    assert authenticate(card, 4, "A", TRANSPORT_KEY) == apdu("6300")
    assert authenticate(card, 8, "A", TRANSPORT_KEY) == apdu("9000")


def test_new_trailer_replaces_transport_keys():
    card = VirtualMifareClassic1K(UID)
    assert authenticate(card, 4, "A", TRANSPORT_KEY) == apdu("9000")
    assert write(card, 7, build_trailer(KEY_A, READ_A_WRITE_B, KEY_B)) == apdu("9000")

    assert authenticate(card, 4, "A", TRANSPORT_KEY) == apdu("6300")
    assert authenticate(card, 4, "A", KEY_A) == apdu("9000")
    assert read(card, 4) == bytes(16) + apdu("9000")
    assert write(card, 4, DATA) == apdu("6300")
    assert authenticate(card, 4, "B", KEY_B) == apdu("9000")
    assert write(card, 4, DATA) == apdu("9000")


# --- access bit encoding: pos_client's encoder against the card's own decoder -------------------


@pytest.mark.parametrize(
    ("access_bits", "conditions"),
    [
        ("FF0780", ((0, 0, 0), (0, 0, 0), (0, 0, 0), (0, 0, 1))),
        ("787788", ((1, 0, 0), (1, 0, 0), (1, 0, 0), (0, 1, 1))),
        ("7F0788", ((0, 0, 0), (0, 0, 0), (0, 0, 0), (0, 1, 1))),
        ("08778F", ((1, 1, 0), (1, 1, 0), (1, 1, 0), (0, 1, 1))),
    ],
)
def test_known_access_bit_values(access_bits, conditions):
    assert parse_access_bits(bytes.fromhex(access_bits)) == conditions
    assert encode_access_bits(conditions) == bytes.fromhex(access_bits)
    assert decode_access_bits(bytes.fromhex(access_bits)) == conditions


def test_every_access_condition_combination_round_trips():
    triples = list(itertools.product((0, 1), repeat=3))
    for conditions in itertools.product(triples, repeat=4):
        encoded = encode_access_bits(conditions)
        assert decode_access_bits(encoded) == conditions
        assert parse_access_bits(encoded) == conditions


@pytest.mark.parametrize("access_bits", ["FF0781", "FF0680", "000000", "FFFFFF"])
def test_inconsistent_access_bits_are_rejected(access_bits):
    with pytest.raises(ValueError):
        parse_access_bits(bytes.fromhex(access_bits))
    with pytest.raises(ValueError):
        build_trailer(KEY_A, bytes.fromhex(access_bits), KEY_B)
    assert decode_access_bits(bytes.fromhex(access_bits)) is None


def test_build_trailer_layout():
    assert build_trailer(KEY_A, TRANSPORT_ACCESS_BITS, KEY_B) == KEY_A + apdu("FF078069") + KEY_B
    assert build_trailer(KEY_A, apdu("78778800"), KEY_B) == KEY_A + apdu("78778800") + KEY_B
    with pytest.raises(ValueError):
        build_trailer(KEY_A[:5], TRANSPORT_ACCESS_BITS, KEY_B)


def test_block_and_sector_arithmetic():
    assert [sector_of(b) for b in (0, 3, 4, 63)] == [0, 0, 1, 15]
    assert [first_block(s) for s in (0, 1, 15)] == [0, 4, 60]
    assert [trailer_block(s) for s in (0, 1, 15)] == [3, 7, 63]
    with pytest.raises(ValueError):
        sector_of(64)
    with pytest.raises(ValueError):
        trailer_block(16)


def test_mifare_classic_1k_atr_recognition():
    assert is_mifare_classic_1k_atr(MIFARE_CLASSIC_1K_ATR)
    assert not is_mifare_classic_1k_atr(DESFIRE_ATR)
    # MIFARE Classic 4K (card name 00 02), TCK adjusted.
    assert not is_mifare_classic_1k_atr(apdu("3B8F8001804F0CA0000003060300020000000069"))
    assert not is_mifare_classic_1k_atr(MIFARE_CLASSIC_1K_ATR[:-1] + b"\x00")  # bad TCK


# --- clone images ---------------------------------------------------------------------------------


def test_image_clone_has_same_uid_and_bytes(tmp_path: Path):
    original = VirtualMifareClassic1K(UID)
    assert authenticate(original, 4, "A", TRANSPORT_KEY) == apdu("9000")
    assert write(original, 5, DATA) == apdu("9000")
    assert write(original, 7, build_trailer(KEY_A, READ_A_WRITE_B, KEY_B)) == apdu("9000")

    original.save(tmp_path / "card.bin")
    clone = VirtualMifareClassic1K.load(tmp_path / "card.bin")

    assert (tmp_path / "card.bin").stat().st_size == 1024
    assert clone.uid == UID
    assert clone.image() == original.image()
    assert clone.transmit(apdu("FFCA000000")) == UID + apdu("9000")
    assert authenticate(clone, 4, "A", KEY_A) == apdu("9000")
    assert read(clone, 5) == DATA + apdu("9000")


def test_image_must_be_1024_bytes():
    with pytest.raises(ValueError):
        VirtualMifareClassic1K.from_image(bytes(1023))


# --- MifareClassic1K against the in-process reader ------------------------------------------------


def test_mifare_commands_and_apdu_count():
    card = VirtualMifareClassic1K(UID)
    mifare = MifareClassic1K(DirectCardReader(card))
    mifare.reader.wait_for_card(0)

    assert mifare.uid() == UID
    blocks = mifare.read_sector(1, TRANSPORT_KEY)
    assert blocks[:3] == [bytes(16)] * 3
    assert blocks[3] == bytes(6) + apdu("FF078069") + TRANSPORT_KEY
    mifare.write_block(5, DATA)
    assert mifare.read_block(5) == DATA
    assert mifare.apdu_count == 1 + 6 + 2
    assert len(card.apdu_log) == mifare.apdu_count


def test_mifare_errors_map_to_card_reader_errors():
    card = VirtualMifareClassic1K(UID)
    mifare = MifareClassic1K(DirectCardReader(card))
    mifare.reader.wait_for_card(0)
    mifare.load_key(KEY_A)

    with pytest.raises(AuthenticationFailed):
        mifare.authenticate(4, "A")
    with pytest.raises(CardCommandFailed) as failure:
        mifare.read_block(4)
    assert failure.value.sw == 0x6300
    with pytest.raises(CardCommandFailed) as failure:
        mifare.load_key(KEY_A, slot=5)
    assert failure.value.sw == 0x6300


def test_mifare_refuses_to_write_a_trailer_that_would_brick_the_sector():
    card = VirtualMifareClassic1K(UID)
    mifare = MifareClassic1K(DirectCardReader(card))
    mifare.reader.wait_for_card(0)
    mifare.read_sector(1, TRANSPORT_KEY)
    sent = mifare.apdu_count

    with pytest.raises(ValueError):
        mifare.write_block(7, KEY_A + apdu("FF078169") + KEY_B)
    assert mifare.apdu_count == sent
    assert card.block(7) == TRANSPORT_KEY + apdu("FF078069") + TRANSPORT_KEY


def test_direct_reader_checks_the_card_type():
    reader = DirectCardReader()
    with pytest.raises(NoCardPresent):
        reader.wait_for_card(0)
    reader.insert(VirtualMifareClassic1K(UID, atr=DESFIRE_ATR))
    with pytest.raises(WrongCardType):
        reader.wait_for_card(0)
