"""Fixed test vectors for what is written on a card (docs/card-layout.md), bytes written down here.

Each value is computed twice: once independently from the documented layout with the primitives
themselves (hmac, hashlib, cryptography's Ed25519, HKDF), and once pinned as a literal, so that a
change of the format — which would make every issued card unreadable — fails here, not in the field.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from card_layout.keys import diversify, read_key, sector_keys
from card_layout.layout import COUNTER_BLOCK, RECORD_BLOCK, SIGNATURE_BLOCKS
from card_layout.record import (
    CardFormatError,
    CardRecord,
    counter_block,
    counter_value,
    read_counter,
    sign_record,
    verify_record,
)
from server.security.keys import KeyRing

SIGNING_KEY = bytes(range(0, 32))
MASTER_KEY = bytes(range(32, 64))
READ_SECRET = bytes(range(64, 96))
UID = bytes.fromhex("04a1b2c3d4e5f6")  # a 7-byte UID (MIFARE Classic EV1); 4-byte UIDs work the same
CARD_NO = "8860000000000010"
RECORD = CardRecord(card_no=CARD_NO, key_version=1, level_rank=2)

RECORD_BLOCK_HEX = "41430101028860000000000010000000"
SIGNED_MESSAGE_HEX = (
    "416c6c69616e6365436172642063617264207265636f7264207631"  # "AllianceCard card record v1"
    "07"  # len(UID)
    "04a1b2c3d4e5f6"  # UID
    "41430101028860000000000010000000"  # block 4
)
SIGNATURE_HEX = (
    "639e0ce51d7c33a5f12e3384321b0785a767fc663b1ca29013977d7d6a52d442"
    "f2173e66adc716d8e7cbc29c9112c705d695cab12d25bc8e9c585e70730d4104"
)
PUBLIC_KEY_B64 = "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg="
COUNTER_KEY_HEX = "5450deb0db718e4f12ada496b1eeab686ebd00a283878016defe5b49809a6758"
COUNTER_BLOCK_HEX = "000000071b7b3d1fad6fd19cacdcabe4"  # counter 7, then the 12-byte MAC
SECTOR_KEYS_HEX = {  # key version 1: (key A, key B)
    0: ("67aa02a993cd", "a5e39114ab71"),
    1: ("ed8b8448eee4", "4f17e80ae0c5"),
    2: ("979834d710fc", "f1c565090f68"),
    3: ("ca53f658bd93", "8a914a70c1d9"),
    15: ("5b6b8f3fd235", "a523d9d79aa5"),
}


def keyring() -> KeyRing:
    return KeyRing(bytes(32), bytes(32), SIGNING_KEY, MASTER_KEY, READ_SECRET)


def test_the_card_record_block_is_the_documented_16_bytes():
    documented = (
        b"AC"  # magic
        + bytes([1, 1, 2])  # format version 1, key version, level rank
        + bytes([0x88, 0x60, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10])  # the 16 digits as 8 BCD bytes
        + bytes(3)
    )
    assert documented.hex() == RECORD_BLOCK_HEX
    assert RECORD.to_block() == documented
    assert CardRecord.from_block(bytes.fromhex(RECORD_BLOCK_HEX)) == RECORD


@pytest.mark.parametrize(
    ("block_hex", "reason"),
    [
        ("41440101028860000000000010000000", "not an alliance card record"),  # magic "AD"
        ("41430201028860000000000010000000", "unsupported card format version 2"),
        ("414301010288600000000000a0000000", "malformed"),  # a BCD nibble that is no digit
        ("41430101028860000000000010000001", "malformed"),  # padding not zero
        ("414301010288600000000000100000", "not an alliance card record"),  # 15 bytes
    ],
)
def test_blocks_off_the_layout_are_refused(block_hex, reason):
    with pytest.raises(CardFormatError, match=reason):
        CardRecord.from_block(bytes.fromhex(block_hex))


def test_the_signature_covers_domain_uid_length_uid_and_record_block():
    documented = b"AllianceCard card record v1" + bytes([len(UID)]) + UID + bytes.fromhex(RECORD_BLOCK_HEX)
    assert documented.hex() == SIGNED_MESSAGE_HEX
    signature = Ed25519PrivateKey.from_private_bytes(SIGNING_KEY).sign(documented)  # Ed25519 is deterministic
    assert signature.hex() == SIGNATURE_HEX

    blocks = sign_record(SIGNING_KEY, UID, RECORD)
    assert sorted(blocks) == [RECORD_BLOCK, *SIGNATURE_BLOCKS] == [4, 5, 6, 8, 9]
    assert blocks[4].hex() == RECORD_BLOCK_HEX
    # blocks 5, 6 (sector 1) then 8, 9 (sector 2) hold the signature's four 16-byte quarters, in order
    assert [blocks[n] for n in (5, 6, 8, 9)] == [signature[i : i + 16] for i in range(0, 64, 16)]


def test_a_terminal_verifies_the_written_blocks_with_the_public_key_only():
    public = Ed25519PrivateKey.from_private_bytes(SIGNING_KEY).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert base64.b64encode(public).decode() == PUBLIC_KEY_B64 == keyring().card_public_key
    signature = bytes.fromhex(SIGNATURE_HEX)
    blocks = {
        4: bytes.fromhex(RECORD_BLOCK_HEX),
        **{n: signature[i * 16 : i * 16 + 16] for i, n in enumerate((5, 6, 8, 9))},
    }
    assert verify_record(PUBLIC_KEY_B64, UID, blocks) == RECORD
    with pytest.raises(CardFormatError, match="does not match"):
        verify_record(PUBLIC_KEY_B64, bytes.fromhex("04a1b2c3d4e5f7"), blocks)  # the same blocks on another chip


def test_the_counter_block_is_a_big_endian_counter_and_a_truncated_hmac():
    counter_key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"card counter mac").derive(MASTER_KEY)
    assert counter_key.hex() == COUNTER_KEY_HEX == keyring().card_counter_key.hex()
    message = b"counter" + bytes([len(UID)]) + UID + CARD_NO.encode("ascii") + struct.pack(">I", 7)
    documented = struct.pack(">I", 7) + hmac.new(counter_key, message, hashlib.sha256).digest()[:12]
    assert documented.hex() == COUNTER_BLOCK_HEX
    assert counter_block(counter_key, UID, CARD_NO, 7) == documented
    assert read_counter(counter_key, UID, CARD_NO, documented) == 7 == counter_value(documented)
    assert COUNTER_BLOCK == 10
    with pytest.raises(CardFormatError, match="not written by the alliance"):
        read_counter(counter_key, UID, CARD_NO, bytes.fromhex("00000008" + COUNTER_BLOCK_HEX[8:]))


@pytest.mark.parametrize("sector", sorted(SECTOR_KEYS_HEX))
def test_sector_keys_are_diversified_as_documented(sector):
    def documented(secret: bytes, key_type: str) -> bytes:
        message = b"AllianceCard key" + bytes([1, sector]) + key_type.encode() + UID
        return hmac.new(secret, message, hashlib.sha256).digest()[:6]

    # key A of the data sectors 1 and 2 comes from the terminal read secret, every other key from the master key
    key_a = documented(READ_SECRET if sector in (1, 2) else MASTER_KEY, "A")
    key_b = documented(MASTER_KEY, "B")
    assert (key_a.hex(), key_b.hex()) == SECTOR_KEYS_HEX[sector]
    assert sector_keys(MASTER_KEY, READ_SECRET, UID, sector, 1) == (key_a, key_b)
    assert diversify(MASTER_KEY, UID, sector, "B", 1) == key_b
    if sector in (1, 2):
        assert read_key(READ_SECRET, UID, sector, 1) == key_a


def test_keys_differ_per_card_and_per_key_version():
    other_uid = bytes.fromhex("deadbeef")
    assert diversify(MASTER_KEY, other_uid, 3, "B", 1).hex() != SECTOR_KEYS_HEX[3][1]
    assert diversify(MASTER_KEY, UID, 3, "B", 2).hex() != SECTOR_KEYS_HEX[3][1]
    with pytest.raises(ValueError):
        read_key(READ_SECRET, UID, 3, 1)  # terminals get no key outside the data sectors
