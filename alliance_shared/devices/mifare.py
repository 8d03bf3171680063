"""MIFARE Classic 1K commands through any CardReader, using the PC/SC part 3 storage-card APDUs."""

from __future__ import annotations

from collections.abc import Sequence
from functools import reduce

from alliance_shared.devices.card_reader import (
    AuthenticationFailed,
    CardCommandFailed,
    CardReader,
    WrongCardType,
)

SECTOR_COUNT = 16
BLOCKS_PER_SECTOR = 4
BLOCK_COUNT = SECTOR_COUNT * BLOCKS_PER_SECTOR
BLOCK_SIZE = 16
KEY_SIZE = 6

TRANSPORT_KEY = b"\xff" * KEY_SIZE
TRANSPORT_ACCESS_BITS = bytes.fromhex("ff0780")
DEFAULT_GPB = 0x69

SW_OK = 0x9000
SW_FAILED = 0x6300

KEY_TYPE_CODES = {"A": 0x60, "B": 0x61}

# PC/SC part 3 ATR of a contactless storage card: 3B 8F 80 01 80 4F 0C, then RID A0 00 00 03 06,
# standard SS, card name NN NN, 4 RFU bytes and TCK.
_STORAGE_CARD_ATR_PREFIX = bytes.fromhex("3b8f8001804f0ca000000306")
_SS_ISO14443A_PART3 = 0x03
_NAME_MIFARE_CLASSIC_1K = bytes.fromhex("0001")

AccessCondition = tuple[int, int, int]
"""The (C1, C2, C3) access bits of one block."""


def is_mifare_classic_1k_atr(atr: bytes) -> bool:
    """True if atr is the PC/SC part 3 ATR of a MIFARE Classic 1K (ISO 14443-A part 3)."""
    return (
        len(atr) == 20
        and atr.startswith(_STORAGE_CARD_ATR_PREFIX)
        and atr[12] == _SS_ISO14443A_PART3
        and atr[13:15] == _NAME_MIFARE_CLASSIC_1K
        and reduce(lambda acc, b: acc ^ b, atr[1:], 0) == 0
    )


def require_mifare_classic_1k(atr: bytes) -> None:
    """Raise WrongCardType unless atr is a MIFARE Classic 1K's."""
    if not is_mifare_classic_1k_atr(atr):
        raise WrongCardType(atr)


def sector_of(block: int) -> int:
    """The sector that holds block."""
    _check_block(block)
    return block // BLOCKS_PER_SECTOR


def first_block(sector: int) -> int:
    """The first block of sector."""
    _check_sector(sector)
    return sector * BLOCKS_PER_SECTOR


def trailer_block(sector: int) -> int:
    """The sector trailer block (keys and access bits) of sector."""
    return first_block(sector) + BLOCKS_PER_SECTOR - 1


def is_trailer(block: int) -> bool:
    """True if block is a sector trailer."""
    _check_block(block)
    return block % BLOCKS_PER_SECTOR == BLOCKS_PER_SECTOR - 1


def encode_access_bits(conditions: Sequence[AccessCondition]) -> bytes:
    """Encode the (C1, C2, C3) of blocks 0..3 of a sector (3 = trailer) as trailer bytes 6..8."""
    if len(conditions) != BLOCKS_PER_SECTOR or any(
        len(c) != 3 or any(bit not in (0, 1) for bit in c) for c in conditions
    ):
        raise ValueError("access conditions are four (C1, C2, C3) triples of 0/1 bits")
    c1, c2, c3 = (sum(cond[i] << block for block, cond in enumerate(conditions)) for i in range(3))
    return bytes(
        [
            ((~c2 & 0xF) << 4) | (~c1 & 0xF),
            (c1 << 4) | (~c3 & 0xF),
            (c3 << 4) | c2,
        ]
    )


def parse_access_bits(access_bits: bytes) -> tuple[AccessCondition, ...]:
    """Decode trailer bytes 6..8 into (C1, C2, C3) for blocks 0..3; ValueError if malformed."""
    if len(access_bits) < 3:
        raise ValueError("access bits are 3 bytes (trailer bytes 6..8)")
    b6, b7, b8 = access_bits[:3]
    c1, c2, c3 = b7 >> 4, b8 & 0xF, b8 >> 4
    # Each bit is stored twice, once inverted; a mismatch blocks the sector forever on a real card.
    if (~c1 & 0xF) != b6 & 0xF or (~c2 & 0xF) != b6 >> 4 or (~c3 & 0xF) != b7 & 0xF:
        raise ValueError(f"inconsistent access bits {access_bits[:3].hex(' ').upper()}")
    return tuple(((c1 >> b) & 1, (c2 >> b) & 1, (c3 >> b) & 1) for b in range(BLOCKS_PER_SECTOR))


def build_trailer(key_a: bytes, access_bits: bytes, key_b: bytes, gpb: int = DEFAULT_GPB) -> bytes:
    """The 16-byte sector trailer: key A, access bits (3 bytes, or 4 with the GPB), GPB, key B."""
    if len(key_a) != KEY_SIZE or len(key_b) != KEY_SIZE:
        raise ValueError("MIFARE keys are 6 bytes")
    if len(access_bits) == 4:
        access_bits, gpb = access_bits[:3], access_bits[3]
    elif len(access_bits) != 3:
        raise ValueError("access bits are 3 bytes, or 4 with the general purpose byte")
    parse_access_bits(access_bits)
    return bytes(key_a) + bytes(access_bits) + bytes([gpb]) + bytes(key_b)


def _check_block(block: int) -> None:
    if not 0 <= block < BLOCK_COUNT:
        raise ValueError(f"block {block} is outside 0..{BLOCK_COUNT - 1}")


def _check_sector(sector: int) -> None:
    if not 0 <= sector < SECTOR_COUNT:
        raise ValueError(f"sector {sector} is outside 0..{SECTOR_COUNT - 1}")


class MifareClassic1K:
    """A MIFARE Classic 1K card on a reader, driven with PC/SC storage-card pseudo-APDUs."""

    def __init__(self, reader: CardReader) -> None:
        self.reader = reader
        self.apdu_count = 0

    def uid(self) -> bytes:
        """The card's UID (GET DATA, FF CA 00 00 00)."""
        return self._command(bytes.fromhex("ffca000000"), "UID read")

    def load_key(self, key: bytes, slot: int = 0) -> None:
        """Load a 6-byte key into the reader's volatile key slot (FF 82 00 slot 06 key)."""
        if len(key) != KEY_SIZE:
            raise ValueError("MIFARE keys are 6 bytes")
        self._command(bytes([0xFF, 0x82, 0x00, slot, KEY_SIZE]) + bytes(key), "key load")

    def authenticate(self, block: int, key_type: str = "A", slot: int = 0) -> None:
        """Authenticate the sector of block with the key in slot; AuthenticationFailed on 63 00."""
        _check_block(block)
        if key_type not in KEY_TYPE_CODES:
            raise ValueError("key_type is 'A' or 'B'")
        apdu = bytes([0xFF, 0x86, 0x00, 0x00, 0x05, 0x01, 0x00, block, KEY_TYPE_CODES[key_type], slot])
        _, sw = self._transmit(apdu)
        if sw == SW_FAILED:
            raise AuthenticationFailed(
                f"The card rejected key {key_type} for sector {sector_of(block)}. "
                "It may not be an alliance card, or it was not issued correctly."
            )
        if sw != SW_OK:
            raise CardCommandFailed(sw, "authentication")

    def read_block(self, block: int) -> bytes:
        """Read one 16-byte block of an authenticated sector (FF B0 00 block 10)."""
        _check_block(block)
        data = self._command(bytes([0xFF, 0xB0, 0x00, block, BLOCK_SIZE]), f"read of block {block}")
        if len(data) != BLOCK_SIZE:
            raise CardCommandFailed(SW_OK, f"read of block {block} ({len(data)} bytes returned)")
        return data

    def write_block(self, block: int, data: bytes) -> None:
        """Write one 16-byte block of an authenticated sector (FF D6 00 block 10 data)."""
        _check_block(block)
        if len(data) != BLOCK_SIZE:
            raise ValueError("a MIFARE block is 16 bytes")
        if is_trailer(block):
            # A trailer with inconsistent access bits makes its sector permanently unusable.
            parse_access_bits(data[6:9])
        self._command(bytes([0xFF, 0xD6, 0x00, block, BLOCK_SIZE]) + bytes(data), f"write of block {block}")

    def read_sector(self, sector: int, key: bytes, key_type: str = "A", slot: int = 0) -> list[bytes]:
        """Load key, authenticate sector and return its four blocks (trailer as the card shows it)."""
        start = first_block(sector)
        self.load_key(key, slot)
        self.authenticate(start, key_type, slot)
        return [self.read_block(block) for block in range(start, start + BLOCKS_PER_SECTOR)]

    def _transmit(self, apdu: bytes) -> tuple[bytes, int]:
        self.apdu_count += 1
        return self.reader.transmit(apdu)

    def _command(self, apdu: bytes, operation: str) -> bytes:
        data, sw = self._transmit(apdu)
        if sw != SW_OK:
            raise CardCommandFailed(sw, operation)
        return data
