"""The card record, its Ed25519 signature bound to the chip UID, and the anti-clone counter block."""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from card_layout.layout import FORMAT_VERSION, MAGIC, RECORD_BLOCK, SIGNATURE_BLOCKS

BLOCK_SIZE = 16
SIGNATURE_DOMAIN = b"AllianceCard card record v1"
COUNTER_MAC_SIZE = 12


class CardFormatError(ValueError):
    """The card's blocks are not an alliance card record (wrong magic, version, digits, or missing)."""


@dataclass(frozen=True)
class CardRecord:
    """What the card says about itself: number, key version and the member's level rank."""

    card_no: str
    key_version: int
    level_rank: int
    format_version: int = FORMAT_VERSION

    def to_block(self) -> bytes:
        """Block 4: magic, format version, key version, level rank, card number as 8 BCD bytes, padding."""
        if len(self.card_no) != 16 or not self.card_no.isdigit():
            raise CardFormatError("card numbers are 16 digits")
        return (
            MAGIC
            + bytes([self.format_version, self.key_version, self.level_rank])
            + bytes.fromhex(self.card_no)
            + bytes(3)
        )

    @classmethod
    def from_block(cls, block: bytes) -> CardRecord:
        """Parse block 4; CardFormatError if it is not an alliance record."""
        if len(block) != BLOCK_SIZE or block[:2] != MAGIC:
            raise CardFormatError("not an alliance card record")
        if block[2] != FORMAT_VERSION:
            raise CardFormatError(f"unsupported card format version {block[2]}")
        card_no = block[5:13].hex()
        if not card_no.isdigit() or block[13:] != bytes(3):
            raise CardFormatError("the card number on the card is malformed")
        return cls(card_no=card_no, key_version=block[3], level_rank=block[4], format_version=block[2])


def _signed_message(uid: bytes, record_block: bytes) -> bytes:
    return SIGNATURE_DOMAIN + bytes([len(uid)]) + uid + record_block


def sign_record(signing_key: bytes, uid: bytes, record: CardRecord) -> dict[int, bytes]:
    """The record block and the signature blocks binding it to ``uid`` (server side)."""
    record_block = record.to_block()
    signature = Ed25519PrivateKey.from_private_bytes(signing_key).sign(_signed_message(uid, record_block))
    blocks = {RECORD_BLOCK: record_block}
    for index, block in enumerate(SIGNATURE_BLOCKS):
        blocks[block] = signature[index * BLOCK_SIZE : (index + 1) * BLOCK_SIZE]
    return blocks


def verify_record(public_key_b64: str, uid: bytes, blocks: dict[int, bytes]) -> CardRecord:
    """The record of a card whose signature matches its UID; CardFormatError otherwise (offline-capable)."""
    try:
        record_block = blocks[RECORD_BLOCK]
        signature = b"".join(blocks[block] for block in SIGNATURE_BLOCKS)
    except KeyError as exc:
        raise CardFormatError(f"block {exc.args[0]} was not read") from exc
    record = CardRecord.from_block(record_block)
    public_key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64))
    try:
        public_key.verify(signature, _signed_message(uid, record_block))
    except InvalidSignature as exc:
        raise CardFormatError("the card record's signature does not match this card") from exc
    return record


def _counter_mac(counter_key: bytes, uid: bytes, card_no: str, counter: int) -> bytes:
    message = b"counter" + bytes([len(uid)]) + uid + card_no.encode() + struct.pack(">I", counter)
    return hmac.new(counter_key, message, hashlib.sha256).digest()[:COUNTER_MAC_SIZE]


def counter_block(counter_key: bytes, uid: bytes, card_no: str, counter: int) -> bytes:
    """Block 10: the counter (big-endian u32) and a MAC only the server can make or check."""
    return struct.pack(">I", counter) + _counter_mac(counter_key, uid, card_no, counter)


def read_counter(counter_key: bytes, uid: bytes, card_no: str, block: bytes) -> int:
    """The counter in block 10 if its MAC is the server's; CardFormatError otherwise."""
    if len(block) != BLOCK_SIZE:
        raise CardFormatError("the counter block is missing")
    counter = struct.unpack(">I", block[:4])[0]
    if not hmac.compare_digest(block[4:], _counter_mac(counter_key, uid, card_no, counter)):
        raise CardFormatError("the card's counter block was not written by the alliance")
    return counter


def counter_value(block: bytes) -> int:
    """The counter in block 10 without checking its MAC (for display and offline ordering)."""
    return struct.unpack(">I", block[:4])[0]
