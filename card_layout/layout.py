"""Which sectors and blocks hold what, and the access conditions each sector gets when issued."""

from __future__ import annotations

FORMAT_VERSION = 1
MAGIC = b"AC"
MAX_LEVEL_RANK = 255  # the card record holds the member's level rank in one byte

RECORD_SECTOR = 1
COUNTER_SECTOR = 2
RECORD_BLOCK = 4  # sector 1: the card record
SIGNATURE_BLOCKS = (5, 6, 8, 9)  # sectors 1 and 2: the 64-byte Ed25519 signature, in order
COUNTER_BLOCK = 10  # sector 2: anti-clone counter and its server MAC
CARD_BLOCKS = (RECORD_BLOCK, *SIGNATURE_BLOCKS, COUNTER_BLOCK)
DATA_SECTORS = (RECORD_SECTOR, COUNTER_SECTOR)
SECTOR_COUNT = 16

# Access conditions (C1, C2, C3) for blocks 0, 1, 2 and the trailer (MIFARE Classic datasheet):
#   data (1,0,0): read with key A or B, write with key B only
#   data (0,1,1): read and write with key B only;  data (0,1,0): read A|B, never written (block 0)
#   trailer (0,1,1): key A and key B written with key B, access bits read A|B and written with B,
#                    key B not readable (so it can authenticate)
DATA_SECTOR_ACCESS = ((1, 0, 0), (1, 0, 0), (1, 0, 0), (0, 1, 1))
LOCKED_SECTOR_ACCESS = ((0, 1, 1), (0, 1, 1), (0, 1, 1), (0, 1, 1))
MANUFACTURER_SECTOR_ACCESS = ((0, 1, 0), (0, 1, 1), (0, 1, 1), (0, 1, 1))


def sector_access(sector: int) -> tuple[tuple[int, int, int], ...]:
    """The access conditions an issued card has in ``sector``."""
    if sector in DATA_SECTORS:
        return DATA_SECTOR_ACCESS
    return MANUFACTURER_SECTOR_ACCESS if sector == 0 else LOCKED_SECTOR_ACCESS
