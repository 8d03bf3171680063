"""Per-card MIFARE keys, diversified from secrets by UID, sector and key version.

Key A of the data sectors (1, 2) comes from the terminal read secret, so a terminal can read any
card offline and nothing else; every other key (key B everywhere, key A of sectors 0 and 3-15) comes
from the master key, which never leaves the server. No two cards share a key.
"""

from __future__ import annotations

import hashlib
import hmac

from card_layout.layout import DATA_SECTORS

KEY_SIZE = 6


def diversify(secret: bytes, uid: bytes, sector: int, key_type: str, key_version: int) -> bytes:
    """A 6-byte key: HMAC-SHA256(secret, label | version | sector | type | uid), truncated."""
    message = b"AllianceCard key" + bytes([key_version, sector]) + key_type.encode() + uid
    return hmac.new(secret, message, hashlib.sha256).digest()[:KEY_SIZE]


def read_key(read_secret: bytes, uid: bytes, sector: int, key_version: int) -> bytes:
    """Key A of a data sector, which terminals derive from the read secret."""
    if sector not in DATA_SECTORS:
        raise ValueError(f"sector {sector} holds no data terminals read")
    return diversify(read_secret, uid, sector, "A", key_version)


def sector_keys(
    master_key: bytes, read_secret: bytes, uid: bytes, sector: int, key_version: int
) -> tuple[bytes, bytes]:
    """(key A, key B) of ``sector`` on an issued card (server side)."""
    key_b = diversify(master_key, uid, sector, "B", key_version)
    if sector in DATA_SECTORS:
        return read_key(read_secret, uid, sector, key_version), key_b
    return diversify(master_key, uid, sector, "A", key_version), key_b
