"""A virtual MIFARE Classic 1K as seen behind an ACR122U-class reader (PC/SC storage-card APDUs)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import reduce
from pathlib import Path

from alliance_shared.devices.card_reader import CardInfo, CardReader, CardRemoved, NoCardPresent
from alliance_shared.devices.mifare import require_mifare_classic_1k

MIFARE_CLASSIC_1K_ATR = bytes.fromhex("3B8F8001804F0CA000000306030001000000006A")
DEFAULT_UID = bytes.fromhex("A1B2C3D4")
IMAGE_SIZE = 1024
BLOCK_SIZE = 16
BLOCK_COUNT = 64
KEY_SLOTS = 2

TRANSPORT_KEY = b"\xff" * 6
TRANSPORT_TRAILER = TRANSPORT_KEY + bytes.fromhex("FF078069") + TRANSPORT_KEY
SAK_CLASSIC_1K = 0x08
ATQA_CLASSIC_1K = bytes.fromhex("0400")
MANUFACTURER_DATA = bytes.fromhex("6263646566676869")

SW_OK = bytes.fromhex("9000")
SW_FAILED = bytes.fromhex("6300")
SW_WRONG_LENGTH = bytes.fromhex("6700")
SW_FUNCTION_NOT_SUPPORTED = bytes.fromhex("6A81")
SW_INS_NOT_SUPPORTED = bytes.fromhex("6D00")
SW_CLA_NOT_SUPPORTED = bytes.fromhex("6E00")

KEY_TYPES = {0x60: "A", 0x61: "B"}

Condition = tuple[int, int, int]

# MIFARE Classic datasheet (MF1S50yyX), data blocks: (C1, C2, C3) -> (keys that may read, write).
DATA_BLOCK_ACCESS: dict[Condition, tuple[str, str]] = {
    (0, 0, 0): ("AB", "AB"),
    (0, 1, 0): ("AB", ""),
    (1, 0, 0): ("AB", "B"),
    (1, 1, 0): ("AB", "B"),
    (0, 0, 1): ("AB", ""),
    (0, 1, 1): ("B", "B"),
    (1, 0, 1): ("B", ""),
    (1, 1, 1): ("", ""),
}


@dataclass(frozen=True)
class TrailerAccess:
    """Keys allowed to access each part of a sector trailer (key A itself is never readable)."""

    key_a_write: str
    access_bits_read: str
    access_bits_write: str
    key_b_read: str
    key_b_write: str


# Same datasheet, sector trailer: (C1, C2, C3) of block 3 -> permissions.
TRAILER_ACCESS: dict[Condition, TrailerAccess] = {
    (0, 0, 0): TrailerAccess("A", "A", "", "A", "A"),
    (0, 1, 0): TrailerAccess("", "A", "", "A", ""),
    (1, 0, 0): TrailerAccess("B", "AB", "", "", "B"),
    (1, 1, 0): TrailerAccess("", "AB", "", "", ""),
    (0, 0, 1): TrailerAccess("A", "A", "A", "A", "A"),
    (0, 1, 1): TrailerAccess("B", "AB", "B", "", "B"),
    (1, 0, 1): TrailerAccess("", "AB", "B", "", ""),
    (1, 1, 1): TrailerAccess("", "AB", "", "", ""),
}

# Datasheet figure "access conditions": (byte, bit) of each Cx of a block in trailer bytes 6..8,
# first the plain copy, then the inverted one.
_BIT_POSITIONS: dict[tuple[str, int], tuple[tuple[int, int], tuple[int, int]]] = {}
for _block in range(4):
    _BIT_POSITIONS["C1", _block] = ((1, 4 + _block), (0, _block))
    _BIT_POSITIONS["C2", _block] = ((2, _block), (0, 4 + _block))
    _BIT_POSITIONS["C3", _block] = ((2, 4 + _block), (1, _block))


def decode_access_bits(access_bits: bytes) -> tuple[Condition, ...] | None:
    """(C1, C2, C3) of blocks 0..3 from trailer bytes 6..8, or None if the inverted copies disagree."""
    conditions = []
    for block in range(4):
        condition = []
        for name in ("C1", "C2", "C3"):
            (byte, bit), (inverted_byte, inverted_bit) = _BIT_POSITIONS[name, block]
            value = (access_bits[byte] >> bit) & 1
            if value == (access_bits[inverted_byte] >> inverted_bit) & 1:
                return None
            condition.append(value)
        conditions.append((condition[0], condition[1], condition[2]))
    return tuple(conditions)


def manufacturer_block(uid: bytes) -> bytes:
    """Block 0 of a card with a 4-byte UID: UID, BCC, SAK, ATQA, manufacturer data."""
    if len(uid) != 4:
        raise ValueError("this card model has a 4-byte UID")
    bcc = reduce(lambda acc, b: acc ^ b, uid, 0)
    return uid + bytes([bcc, SAK_CLASSIC_1K]) + ATQA_CLASSIC_1K + MANUFACTURER_DATA


class _ApduError(Exception):
    def __init__(self, sw: bytes) -> None:
        self.sw = sw


@dataclass(frozen=True)
class _Session:
    sector: int
    key_type: str


class VirtualMifareClassic1K:
    """16 sectors x 4 blocks with keys and access bits enforced as on a real card."""

    def __init__(
        self,
        uid: bytes = DEFAULT_UID,
        *,
        atr: bytes = MIFARE_CLASSIC_1K_ATR,
        block0_writable: bool = False,
    ) -> None:
        self.atr = bytes(atr)
        # "Magic" clone cards (gen1a/CUID) accept writes to the manufacturer block; genuine ones do not.
        self.block0_writable = block0_writable
        self._lock = threading.RLock()
        self._memory = bytearray(IMAGE_SIZE)
        self._memory[0:BLOCK_SIZE] = manufacturer_block(bytes(uid))
        for sector in range(16):
            start = (sector * 4 + 3) * BLOCK_SIZE
            self._memory[start : start + BLOCK_SIZE] = TRANSPORT_TRAILER
        # The reader's volatile key slots, modelled together with the card.
        self._key_slots: list[bytes | None] = [None] * KEY_SLOTS
        self._session: _Session | None = None
        self.powered = False
        self.apdu_log: list[tuple[bytes, bytes]] = []

    @classmethod
    def from_image(cls, image: bytes, **kwargs: object) -> VirtualMifareClassic1K:
        """A card whose 1024 bytes (UID included) are a copy of image: a perfect clone."""
        if len(image) != IMAGE_SIZE:
            raise ValueError(f"a MIFARE Classic 1K image is {IMAGE_SIZE} bytes, got {len(image)}")
        card = cls(uid=bytes(image[0:4]), **kwargs)  # type: ignore[arg-type]
        card._memory[:] = image
        return card

    @classmethod
    def load(cls, path: str | Path, **kwargs: object) -> VirtualMifareClassic1K:
        """A card cloned from an image file written by save()."""
        return cls.from_image(Path(path).read_bytes(), **kwargs)

    def image(self) -> bytes:
        """The raw 1024-byte memory, keys included (what a cloning tool dumps)."""
        with self._lock:
            return bytes(self._memory)

    def save(self, path: str | Path) -> None:
        """Write the memory image to path."""
        Path(path).write_bytes(self.image())

    @property
    def uid(self) -> bytes:
        """The UID stored in the manufacturer block."""
        with self._lock:
            return bytes(self._memory[0:4])

    @property
    def authenticated_sector(self) -> int | None:
        """The sector of the current authentication, if any."""
        with self._lock:
            return self._session.sector if self._session else None

    def block(self, number: int) -> bytes:
        """Raw content of a block, bypassing access control."""
        with self._lock:
            return bytes(self._memory[number * BLOCK_SIZE : (number + 1) * BLOCK_SIZE])

    def set_block(self, number: int, data: bytes) -> None:
        """Overwrite a block, bypassing access control (test set-up only)."""
        if len(data) != BLOCK_SIZE:
            raise ValueError("a block is 16 bytes")
        with self._lock:
            self._memory[number * BLOCK_SIZE : (number + 1) * BLOCK_SIZE] = data

    def power_on(self) -> None:
        """Field on: the card starts unauthenticated."""
        with self._lock:
            self.powered = True
            self._session = None

    def power_off(self) -> None:
        """Field off: authentication is lost."""
        with self._lock:
            self.powered = False
            self._session = None

    def reset(self) -> None:
        """Warm reset: authentication is lost."""
        self.power_on()

    def transmit(self, apdu: bytes) -> bytes:
        """Answer one command APDU with response data and status word."""
        with self._lock:
            try:
                response = self._execute(bytes(apdu))
            except _ApduError as error:
                if error.sw == SW_FAILED:
                    # A real card halts after a NAK or failed authentication: the session is gone.
                    self._session = None
                response = error.sw
            self.apdu_log.append((bytes(apdu), response))
            return response

    def _execute(self, apdu: bytes) -> bytes:
        if len(apdu) < 4:
            raise _ApduError(SW_WRONG_LENGTH)
        cla, ins, p1, p2 = apdu[:4]
        if cla != 0xFF:
            raise _ApduError(SW_CLA_NOT_SUPPORTED)
        data, le = _split_body(apdu[4:])
        if ins == 0xCA:
            return self._get_data(p1, p2, data, le)
        if ins == 0x82:
            return self._load_key(p1, p2, data)
        if ins == 0x86:
            return self._general_authenticate(p1, p2, data)
        if ins == 0xB0:
            return self._read_binary(p1, p2, data, le)
        if ins == 0xD6:
            return self._update_binary(p1, p2, data)
        raise _ApduError(SW_INS_NOT_SUPPORTED)

    def _get_data(self, p1: int, p2: int, data: bytes, le: int | None) -> bytes:
        if p1 != 0x00 or p2 != 0x00:
            raise _ApduError(SW_FUNCTION_NOT_SUPPORTED)  # P1=01 (ATS) does not exist on MIFARE Classic
        if data:
            raise _ApduError(SW_WRONG_LENGTH)
        uid = self.uid
        if le not in (None, 0) and le < len(uid):
            raise _ApduError(bytes([0x6C, len(uid)]))
        return uid + SW_OK

    def _load_key(self, p1: int, slot: int, data: bytes) -> bytes:
        if p1 != 0x00 or slot >= KEY_SLOTS:
            raise _ApduError(SW_FAILED)  # only volatile slots 00 and 01, as on an ACR122U
        if len(data) != 6:
            raise _ApduError(SW_WRONG_LENGTH)
        self._key_slots[slot] = data
        return SW_OK

    def _general_authenticate(self, p1: int, p2: int, data: bytes) -> bytes:
        self._session = None
        if len(data) != 5:
            raise _ApduError(SW_WRONG_LENGTH)
        version, address_msb, block, key_code, slot = data
        if p1 or p2 or version != 0x01 or address_msb or block >= BLOCK_COUNT:
            raise _ApduError(SW_FAILED)
        if key_code not in KEY_TYPES or slot >= KEY_SLOTS or self._key_slots[slot] is None:
            raise _ApduError(SW_FAILED)
        key_type = KEY_TYPES[key_code]
        sector = block // 4
        trailer = self.block(sector * 4 + 3)
        if decode_access_bits(trailer[6:9]) is None:
            raise _ApduError(SW_FAILED)  # malformed access bits block the sector for good
        stored_key = trailer[0:6] if key_type == "A" else trailer[10:16]
        if stored_key != self._key_slots[slot]:
            raise _ApduError(SW_FAILED)
        self._session = _Session(sector, key_type)
        return SW_OK

    def _session_for(self, block: int) -> tuple[str, tuple[Condition, ...]]:
        """The key type of a usable session covering block, and the sector's access conditions."""
        session = self._session
        if session is None or session.sector != block // 4:
            raise _ApduError(SW_FAILED)
        conditions = decode_access_bits(self.block(session.sector * 4 + 3)[6:9])
        if conditions is None:
            raise _ApduError(SW_FAILED)
        # Datasheet: where key B is readable it cannot serve for authentication; the card accepts
        # the authentication but refuses every memory access that follows.
        if session.key_type == "B" and TRAILER_ACCESS[conditions[3]].key_b_read:
            raise _ApduError(SW_FAILED)
        return session.key_type, conditions

    def _read_binary(self, p1: int, block: int, data: bytes, le: int | None) -> bytes:
        if data:
            raise _ApduError(SW_WRONG_LENGTH)
        if p1 or block >= BLOCK_COUNT:
            raise _ApduError(SW_FAILED)
        if le not in (0, BLOCK_SIZE):
            raise _ApduError(bytes([0x6C, BLOCK_SIZE]))
        key_type, conditions = self._session_for(block)
        content = self.block(block)
        if block % 4 != 3:
            if key_type not in DATA_BLOCK_ACCESS[conditions[block % 4]][0]:
                raise _ApduError(SW_FAILED)
            return content + SW_OK
        access = TRAILER_ACCESS[conditions[3]]
        if key_type not in access.access_bits_read:
            raise _ApduError(SW_FAILED)
        key_b = content[10:16] if key_type in access.key_b_read else bytes(6)
        return bytes(6) + content[6:10] + key_b + SW_OK

    def _update_binary(self, p1: int, block: int, data: bytes) -> bytes:
        if len(data) != BLOCK_SIZE:
            raise _ApduError(SW_WRONG_LENGTH)
        if p1 or block >= BLOCK_COUNT:
            raise _ApduError(SW_FAILED)
        key_type, conditions = self._session_for(block)
        if block == 0 and not self.block0_writable:
            raise _ApduError(SW_FAILED)
        if block % 4 != 3:
            if key_type not in DATA_BLOCK_ACCESS[conditions[block % 4]][1]:
                raise _ApduError(SW_FAILED)
            self.set_block(block, data)
            return SW_OK
        access = TRAILER_ACCESS[conditions[3]]
        new = bytearray(self.block(block))
        writable = False
        # Parts the key may not write keep their old value; the GPB follows the access bits.
        for allowed, part in (
            (access.key_a_write, slice(0, 6)),
            (access.access_bits_write, slice(6, 10)),
            (access.key_b_write, slice(10, 16)),
        ):
            if key_type in allowed:
                new[part] = data[part]
                writable = True
        if not writable:
            raise _ApduError(SW_FAILED)
        self.set_block(block, bytes(new))
        return SW_OK


def _split_body(body: bytes) -> tuple[bytes, int | None]:
    """Split a short APDU body into (command data, Le or None)."""
    if not body:
        return b"", None
    if len(body) == 1:
        return b"", body[0]
    lc = body[0]
    if len(body) == 1 + lc:
        return body[1:], None
    if len(body) == 2 + lc:
        return body[1:-1], body[-1]
    raise _ApduError(SW_WRONG_LENGTH)


class DirectCardReader(CardReader):
    """A CardReader wired straight to a virtual card in this process (no pcscd), for unit tests."""

    def __init__(self, card: VirtualMifareClassic1K | None = None) -> None:
        super().__init__()
        self.card = card
        self._connected = False

    def insert(self, card: VirtualMifareClassic1K) -> None:
        """Put a card on the reader."""
        self.remove()
        self.card = card
        card.power_on()
        self._notify_inserted(card.atr)

    def remove(self) -> None:
        """Take the card off the reader."""
        if self.card is not None:
            self.card.power_off()
            self.card = None
            self._connected = False
            self._notify_removed()

    def wait_for_card(self, timeout: float) -> CardInfo:
        """Connect to the card on the reader (no waiting: it is there or not)."""
        if self.card is None:
            raise NoCardPresent()
        require_mifare_classic_1k(self.card.atr)
        self._connected = True
        self.card.power_on()
        return CardInfo(uid=self.card.uid, atr=self.card.atr)

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        """Send one APDU to the virtual card."""
        if self.card is None:
            raise CardRemoved()
        if not self._connected:
            raise NoCardPresent("No card is connected. Place the card on the reader.")
        response = self.card.transmit(apdu)
        return response[:-2], int.from_bytes(response[-2:], "big")

    def close(self) -> None:
        """Forget the connection."""
        self._connected = False

    def _start_monitor(self) -> None:
        pass  # insert() and remove() notify listeners directly
