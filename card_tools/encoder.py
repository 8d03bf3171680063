"""Encode, verify and format alliance cards on a MIFARE Classic 1K, one card at a time.

A card is encoded in this order so an interruption at any point can be resumed with the same card
number: ask the server for the plan (which binds the chip to one card number), write the data blocks
of sectors 1 and 2, then every sector trailer (new keys and access bits), read everything back with
the new keys and check it against the plan and the signature, and only then confirm to the server.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from alliance_shared.devices.card_reader import AuthenticationFailed, CardReader, CardReaderError
from alliance_shared.devices.member_card import DEFAULT_KEY_VERSION, Chip, read_card_blocks
from alliance_shared.devices.mifare import (
    TRANSPORT_ACCESS_BITS,
    TRANSPORT_KEY,
    build_trailer,
    encode_access_bits,
    first_block,
    trailer_block,
)
from card_layout.keys import read_key
from card_layout.layout import CARD_BLOCKS, COUNTER_BLOCK, DATA_SECTORS, SECTOR_COUNT, sector_access
from card_layout.record import CardFormatError, CardRecord, counter_value, verify_record
from card_tools.client import ApiError

GET_UID_APDU = bytes.fromhex("ffca000000")
TRANSPORT_TRAILER = build_trailer(TRANSPORT_KEY, TRANSPORT_ACCESS_BITS, TRANSPORT_KEY)


class EncodeError(Exception):
    """A card could not be encoded, verified or formatted; str() tells the operator what to do."""

    def __init__(self, message: str, *, uid: str = "", card_no: str | None = None):
        super().__init__(message)
        self.uid, self.card_no = uid, card_no


class CardState(Enum):
    """What a chip on the reader holds."""

    BLANK = "blank"  # transport keys on every sector
    ALLIANCE = "alliance"  # a record signed by this alliance for this chip
    UNKNOWN = "unknown"  # neither: another system's card, or a card whose encoding was interrupted


@dataclass(frozen=True)
class CardSecrets:
    """What the tools need to read and check cards: the alliance public key and the terminal read secret."""

    public_key_b64: str
    read_secret: bytes

    @classmethod
    def from_alliance(cls, alliance: dict) -> CardSecrets:
        """From GET /alliance."""
        return cls(alliance["card_public_key"], base64.b64decode(alliance["card_read_key"]))


@dataclass
class Inspection:
    """The outcome of looking at a chip: its state and, for an alliance card, its record and blocks."""

    uid: bytes
    state: CardState
    record: CardRecord | None = None
    blocks: dict[int, bytes] = field(default_factory=dict)
    problem: str = ""

    @property
    def counter(self) -> int | None:
        """The anti-clone counter on the card (not checked: only the server can check its MAC)."""
        block = self.blocks.get(COUNTER_BLOCK)
        return counter_value(block) if block else None


@dataclass(frozen=True)
class EncodeOutcome:
    """What happened to one chip in an encode run."""

    uid: str
    card_no: str | None
    result: str  # "encoded", "resumed" (an interrupted encoding finished) or "skipped"
    apdu_count: int
    seconds: float
    message: str = ""


# --- looking at a card ----------------------------------------------------------------------------


def is_blank(chip: Chip) -> bool:
    """True if the transport key A opens every sector (a new card, or one whose encoding never got to the keys)."""
    return all(chip.try_open(sector, [(TRANSPORT_KEY, "A")]) for sector in range(SECTOR_COUNT))


def inspect(chip: Chip, secrets: CardSecrets, key_version: int = DEFAULT_KEY_VERSION) -> Inspection:
    """Tell a blank card from an alliance card (record signed for this UID) and from anything else."""
    if is_blank(chip):
        return Inspection(chip.uid, CardState.BLANK)
    try:
        blocks = read_card_blocks(chip, secrets.read_secret, key_version)
    except AuthenticationFailed:
        problem = "neither the transport key nor the alliance read key opens it"
        return Inspection(chip.uid, CardState.UNKNOWN, problem=problem)
    try:
        record = verify_record(secrets.public_key_b64, chip.uid, blocks)
    except CardFormatError as exc:
        return Inspection(chip.uid, CardState.UNKNOWN, blocks=blocks, problem=str(exc))
    return Inspection(chip.uid, CardState.ALLIANCE, record=record, blocks=blocks)


# --- writing a plan ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class EncodePlan:
    """What the server asked to write on one chip (PUT /card-batches/{id}/chips/{uid})."""

    card_no: str
    uid: bytes
    key_version: int
    blocks: dict[int, bytes]
    keys: dict[int, tuple[bytes, bytes]]

    @classmethod
    def from_json(cls, plan: dict) -> EncodePlan:
        """Decode the hex plan of the API and check it covers what the layout needs."""
        blocks = {int(block): bytes.fromhex(data) for block, data in plan["blocks"].items()}
        keys = keys_from_json(plan["keys"])
        if sorted(blocks) != sorted(CARD_BLOCKS) or sorted(keys) != list(range(SECTOR_COUNT)):
            raise EncodeError("The server's encoding plan is incomplete; the card was not written.")
        return cls(plan["card_no"], bytes.fromhex(plan["uid"]), plan["key_version"], blocks, keys)

    def trailer(self, sector: int) -> bytes:
        """The new trailer of ``sector``: its keys and the issued card's access bits."""
        key_a, key_b = self.keys[sector]
        return build_trailer(key_a, encode_access_bits(sector_access(sector)), key_b)


def write_plan(chip: Chip, plan: EncodePlan) -> None:
    """Write the data blocks of sectors 1 and 2, then every trailer; sectors already done are kept.

    Each sector opens with the transport key A, or else with the plan's key B (written by an earlier,
    interrupted run), so running this again on a half-written card finishes it.
    """
    for sector in DATA_SECTORS:
        _open_for_writing(chip, plan, sector)
        for block in range(first_block(sector), trailer_block(sector)):
            chip.write(block, plan.blocks[block])
    for sector in range(SECTOR_COUNT):
        opened = _open_for_writing(chip, plan, sector)
        if opened[1] == "A":  # still on transport keys; with key B the trailer is written already
            chip.write(trailer_block(sector), plan.trailer(sector))


def _open_for_writing(chip: Chip, plan: EncodePlan, sector: int) -> tuple[bytes, str]:
    opened = chip.try_open(sector, [(TRANSPORT_KEY, "A"), (plan.keys[sector][1], "B")])
    if opened is None:
        raise EncodeError(
            f"扇区 {sector} 既不接受出厂密钥也不接受新密钥 (sector {sector} accepts neither the transport key "
            "nor its new key): this is not a blank card. Put it aside.",
            uid=plan.uid.hex().upper(),
            card_no=plan.card_no,
        )
    return opened


def verify_plan(chip: Chip, plan: EncodePlan, secrets: CardSecrets) -> CardRecord:
    """Read the card back with its new keys: blocks, access bits and signature must be exactly the plan's."""
    uid_text = plan.uid.hex().upper()

    def fail(what: str) -> EncodeError:
        return EncodeError(f"写后校验失败 (read-back check failed): {what}", uid=uid_text, card_no=plan.card_no)

    for sector in DATA_SECTORS:
        if read_key(secrets.read_secret, chip.uid, sector, plan.key_version) != plan.keys[sector][0]:
            raise fail(f"the read key of sector {sector} is not the one terminals derive")
    blocks = {}
    try:
        for sector in DATA_SECTORS:
            chip.open(sector, plan.keys[sector][0], "A")
            for block in range(first_block(sector), trailer_block(sector)):
                blocks[block] = chip.read(block)
            if chip.read(trailer_block(sector))[6:9] != plan.trailer(sector)[6:9]:
                raise fail(f"the access bits of sector {sector} differ")
        for sector in range(SECTOR_COUNT):
            if sector not in DATA_SECTORS:
                chip.open(sector, plan.keys[sector][1], "B")
    except AuthenticationFailed as exc:
        raise fail(str(exc)) from exc
    for block in CARD_BLOCKS:
        if blocks[block] != plan.blocks[block]:
            raise fail(f"block {block} differs from what was written")
    try:
        record = verify_record(secrets.public_key_b64, chip.uid, blocks)
    except CardFormatError as exc:
        raise fail(str(exc)) from exc
    if record.card_no != plan.card_no:
        raise fail(f"the card says {record.card_no}, the server assigned {plan.card_no}")
    return record


# --- one batch, card after card ---------------------------------------------------------------------


class BatchEncoder:
    """Encodes the chips presented to it with the next card numbers of one batch.

    ``in_progress`` maps the UIDs (hex, upper case) of chips the server already bound to a card of this
    batch without confirmation, i.e. interrupted encodings, to their card numbers: such a chip is
    finished with its number, whatever state its sectors are in. Any other non-blank chip is left alone.
    """

    def __init__(self, client, batch_id: str, secrets: CardSecrets, in_progress: dict[str, str] | None = None):
        self.client, self.batch_id, self.secrets = client, batch_id, secrets
        self.in_progress = dict(in_progress or {})

    @classmethod
    def for_batch(cls, client, batch_id: str) -> BatchEncoder:
        """An encoder with the alliance's keys and the batch's interrupted encodings, from the server."""
        secrets = CardSecrets.from_alliance(client.alliance())
        in_progress = {
            card["chip_uid"]: card["card_no"]
            for page in client.batch_cards(batch_id, status="encoding")
            for card in page
            if card["chip_uid"]
        }
        return cls(client, batch_id, secrets, in_progress)

    def encode(self, reader: CardReader, uid: bytes) -> EncodeOutcome:
        """Encode the chip on ``reader`` (connected, with ``uid``), finish an interrupted one, or skip an issued one."""
        started = time.monotonic()
        chip = Chip(reader, uid)
        uid_text = uid.hex().upper()
        inspection = inspect(chip, self.secrets)
        resuming = uid_text in self.in_progress
        if inspection.state is CardState.ALLIANCE and not resuming:
            return EncodeOutcome(
                uid_text,
                inspection.record.card_no,
                "skipped",
                chip.apdu_count,
                time.monotonic() - started,
                "已是联盟卡，跳过 (already an alliance card, skipped)",
            )
        if inspection.state is CardState.UNKNOWN and not resuming:
            raise EncodeError(
                "不是空白卡 (not a blank card): the transport key does not open it and it holds no alliance "
                f"record ({inspection.problem}). Put it aside.",
                uid=uid_text,
            )
        try:
            plan = EncodePlan.from_json(self.client.plan_chip(self.batch_id, uid_text))
        except ApiError as exc:
            if exc.code == "conflict" and "card_no" in exc.details:
                raise EncodeError(
                    f"此芯片已发卡为 {exc.details['card_no']} (this chip is already card {exc.details['card_no']}, "
                    f"status {exc.details.get('status')}); skipped.",
                    uid=uid_text,
                    card_no=exc.details["card_no"],
                ) from exc
            raise
        if plan.uid != uid:
            raise EncodeError("The server planned another chip; the card was not written.", uid=uid_text)
        self.in_progress[uid_text] = plan.card_no
        write_plan(chip, plan)
        verify_plan(chip, plan, self.secrets)
        self.client.confirm_chip(self.batch_id, uid_text)
        del self.in_progress[uid_text]
        return EncodeOutcome(
            uid_text,
            plan.card_no,
            "resumed" if resuming else "encoded",
            chip.apdu_count,
            time.monotonic() - started,
        )


# --- formatting a test card ----------------------------------------------------------------------------


def format_card(chip: Chip, keys: dict[int, tuple[bytes, bytes]]) -> int:
    """Zero the data blocks and put the transport keys back on every sector; returns the sectors reset.

    Each sector opens with its issued key B, or with the transport key A if it never got its new keys.
    Block 0 (manufacturer data) is read-only and kept.
    """
    reset = 0
    for sector in range(SECTOR_COUNT):
        opened = chip.try_open(sector, [(keys[sector][1], "B"), (TRANSPORT_KEY, "A")])
        if opened is None:
            raise EncodeError(
                f"扇区 {sector} 不接受此卡的密钥 (sector {sector} accepts neither its issued key nor the transport "
                "key): this is not the chip the server knows.",
                uid=chip.uid.hex().upper(),
            )
        for block in range(first_block(sector), trailer_block(sector)):
            if block != 0:
                chip.write(block, bytes(16))
        if opened[1] == "B":
            chip.write(trailer_block(sector), TRANSPORT_TRAILER)
            reset += 1
    return reset


def keys_from_json(keys: dict) -> dict[int, tuple[bytes, bytes]]:
    """Sector keys from GET /chips/{uid}/keys."""
    return {int(sector): (bytes.fromhex(pair["a"]), bytes.fromhex(pair["b"])) for sector, pair in keys.items()}


# --- waiting for cards ---------------------------------------------------------------------------------


def wait_for_removal(
    reader: CardReader, uid: bytes, poll: float = 0.2, stop: Callable[[], bool] = lambda: False
) -> bool:
    """Wait until the card with ``uid`` left the reader (or another took its place): True, or False if ``stop()``."""
    while not stop():
        try:
            data, sw = reader.transmit(GET_UID_APDU)
        except CardReaderError:
            return True
        if sw != 0x9000 or data != uid:
            return True
        time.sleep(poll)
    return False
