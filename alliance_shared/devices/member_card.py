"""An alliance chip card on the reader: read the blocks the card layout names, write the server's update back.

One tap costs the fewest APDUs the layout allows: for each data sector one key load and one
authentication, then one read per named block; the write-back authenticates each sector it changes
once with the key B the server sent.
"""

from __future__ import annotations

from collections.abc import Iterable

from alliance_shared.devices.card_reader import AuthenticationFailed, CardReader
from alliance_shared.devices.mifare import BLOCKS_PER_SECTOR, MifareClassic1K, first_block
from card_layout.keys import read_key
from card_layout.layout import CARD_BLOCKS, DATA_SECTORS

DEFAULT_KEY_VERSION = 1


class Chip:
    """One presentation of a MIFARE Classic 1K: commands with the key loaded only when it changes."""

    def __init__(self, reader: CardReader, uid: bytes):
        self.card = MifareClassic1K(reader)
        self.uid = uid
        self._loaded: bytes | None = None

    @property
    def apdu_count(self) -> int:
        """APDUs sent to this chip so far."""
        return self.card.apdu_count

    def open(self, sector: int, key: bytes, key_type: str) -> None:
        """Authenticate ``sector`` with ``key``; AuthenticationFailed if the card refuses it."""
        if key != self._loaded:
            self.card.load_key(key)
            self._loaded = key
        self.card.authenticate(first_block(sector), key_type)

    def try_open(self, sector: int, candidates: Iterable[tuple[bytes, str]]) -> tuple[bytes, str] | None:
        """Authenticate with the first (key, type) the sector accepts; None if it accepts none."""
        for key, key_type in candidates:
            try:
                self.open(sector, key, key_type)
            except AuthenticationFailed:
                continue
            return key, key_type
        return None

    def read(self, block: int) -> bytes:
        """Read a block of the authenticated sector."""
        return self.card.read_block(block)

    def write(self, block: int, data: bytes) -> None:
        """Write a block of the authenticated sector."""
        self.card.write_block(block, data)


def read_card_blocks(chip: Chip, read_secret: bytes, key_version: int = DEFAULT_KEY_VERSION) -> dict[int, bytes]:
    """Blocks 4-6 and 8-10 read with the card's diversified read keys, as a terminal reads them."""
    blocks = {}
    for sector in DATA_SECTORS:
        chip.open(sector, read_key(read_secret, chip.uid, sector, key_version), "A")
        for block in CARD_BLOCKS:
            if block // BLOCKS_PER_SECTOR == sector:
                blocks[block] = chip.read(block)
    return blocks


def card_read_body(uid: bytes, blocks: dict[int, bytes]) -> dict:
    """The ``card`` object of POST /identify (and of an offline sale) for what was read."""
    return {"uid": uid.hex().upper(), "blocks": {str(block): data.hex().upper() for block, data in blocks.items()}}


def write_card_update(chip: Chip, card_update: dict) -> None:
    """Write the server's card_update (counter, maybe a re-signed record) with the key B it gives per sector."""
    blocks = {int(block): bytes.fromhex(data) for block, data in card_update["blocks"].items()}
    for sector, keys in sorted(card_update["keys"].items(), key=lambda item: int(item[0])):
        sector_blocks = [block for block in sorted(blocks) if block // BLOCKS_PER_SECTOR == int(sector)]
        if not sector_blocks:
            continue
        chip.open(int(sector), bytes.fromhex(keys["b"]), "B")
        for block in sector_blocks:
            chip.write(block, blocks[block])
