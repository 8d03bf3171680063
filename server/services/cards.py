"""Physical cards: batches, chip encoding, identification by chip with the anti-clone counter, lifecycle."""

from __future__ import annotations

import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm.attributes import set_committed_value

from card_layout.keys import sector_keys
from card_layout.layout import COUNTER_BLOCK, COUNTER_SECTOR, RECORD_SECTOR, SECTOR_COUNT
from card_layout.record import CardFormatError, CardRecord, counter_block, read_counter, sign_record, verify_record
from server.domain import card_actions
from server.domain.errors import (
    CardBlocked,
    CardInvalid,
    CardReadSuperseded,
    CardStale,
    CardUnknown,
    Conflict,
    InvalidRequest,
    MemberNotFound,
    NotFound,
)
from server.domain.identifiers import card_serial_space, make_card_number
from server.domain.statuses import BLOCKED_CARD_STATUSES, CardBatchKind, CardBatchState, CardStatus
from server.extensions import db
from server.hot_sql import HotStatement
from server.models import AllianceSettings, AuditLog, Card, CardAlert, CardBatch, Identification, Level, Terminal
from server.models.base import new_id, utcnow
from server.services import webhooks
from server.services.audit import audit
from server.services.queries import paginate
from server.services.unit_of_work import transactional

CARD_CHECK_DIGITS = 6

CARD_TYPES = {"mifare-classic-1k"}
PRINTED_CARD_TYPE = "printed"  # the card type of a printed batch: no chip
MAX_BATCH = 100_000  # about 4 s on PostgreSQL (bench.cards): one request, well inside a worker timeout
MAX_SPACE_FILL = 10  # at most a tenth of the number space is issued: a guessed number is rarely a card
_LOOKUP_CHUNK = 30_000  # bound parameters per query: below SQLite's 32,766 and PostgreSQL's 65,535
_random_bytes = secrets.token_bytes


def _keys():
    return current_app.extensions["alliance_keys"]


def parse_uid(uid_hex: str) -> bytes:
    """A chip UID from hex (4, 7 or 10 bytes)."""
    try:
        uid = bytes.fromhex(uid_hex)
    except ValueError as exc:
        raise InvalidRequest("The UID must be hexadecimal.", field="uid") from exc
    if len(uid) not in (4, 7, 10):
        raise InvalidRequest("A chip UID has 4, 7 or 10 bytes.", field="uid")
    return uid


def allocate_card_numbers(count: int) -> list[str]:
    """Reserve ``count`` new card numbers (prefix, random serial, Luhn digit), in ascending order.

    Serials are drawn at random from the whole number space, so one card number says nothing about
    the others (numbers issued before were sequential and keep working); a draw that hits an existing
    number is drawn again. The row lock on the alliance settings (which counts the cards issued)
    serialises concurrent batches, so two batches never draw the same free number.
    """
    issued, prefix = db.session.execute(
        update(AllianceSettings)
        .where(AllianceSettings.id == 1)
        .values(card_serial_seq=AllianceSettings.card_serial_seq + count)
        .returning(AllianceSettings.card_serial_seq, AllianceSettings.card_number_prefix)
    ).one()
    space = card_serial_space(prefix)
    if issued > space // MAX_SPACE_FILL:
        raise Conflict("The card number space of this prefix is used up.", issued=issued, space=space)
    chosen: set[str] = set()
    while len(chosen) < count:
        drawn = {make_card_number(prefix, serial) for serial in _random_serials(count - len(chosen), space)}
        drawn -= chosen
        chosen |= drawn - _existing_numbers(drawn)
    return sorted(chosen)


def _random_serials(count: int, space: int) -> list[int]:
    """``count`` uniformly random serials in 1..space-1 from the OS's CSPRNG, in one read.

    Eight random bytes per serial reduced modulo the space: a bias of at most space / 2^64 (under 10^-5
    even for a one-digit prefix).
    """
    blob = _random_bytes(8 * count)
    return [1 + int.from_bytes(blob[i : i + 8], "big") % (space - 1) for i in range(0, len(blob), 8)]


def _existing_numbers(numbers: set[str]) -> set[str]:
    """Which of ``numbers`` are already card numbers (by index, in chunks a driver accepts)."""
    ordered, taken = sorted(numbers), set()
    for start in range(0, len(ordered), _LOOKUP_CHUNK):
        chunk = ordered[start : start + _LOOKUP_CHUNK]
        taken.update(db.session.scalars(select(Card.card_no).where(Card.card_no.in_(chunk))))
    return taken


def get_batch(batch_id: str) -> CardBatch:
    """A card batch by id."""
    batch = db.session.get(CardBatch, batch_id)
    if batch is None:
        raise NotFound("No such card batch.", batch_id=batch_id)
    return batch


@transactional
def create_batch(
    actor: str,
    count: int,
    card_type: str = "mifare-classic-1k",
    level_code: str | None = None,
    name: str = "",
    print_details: dict | None = None,
    kind: str = CardBatchKind.CHIP,
) -> CardBatch:
    """Register a batch of ``count`` cards with random numbers (ascending), ready to print.

    Chip cards are then encoded (``plan_encoding``) before they are handed out; printed cards (no chip)
    are issued at once: they work as soon as they are bound to a member.
    """
    if not 1 <= count <= MAX_BATCH:
        raise InvalidRequest(f"A batch holds 1 to {MAX_BATCH} cards.", field="count")
    if kind not in tuple(CardBatchKind):
        raise InvalidRequest("Unknown batch kind.", field="kind", allowed=sorted(CardBatchKind))
    printed = kind == CardBatchKind.PRINTED
    if printed:
        card_type = PRINTED_CARD_TYPE
    elif card_type not in CARD_TYPES:
        raise InvalidRequest("Unknown card type.", field="card_type", allowed=sorted(CARD_TYPES))
    level = None
    if level_code is not None:
        level = db.session.scalar(select(Level).where(Level.code == level_code))
        if level is None:
            raise InvalidRequest("Unknown level.", field="level")
    numbers = allocate_card_numbers(count)
    batch = CardBatch(
        id=new_id("bat"),
        name=name or f"{numbers[0]}–{numbers[-1]}",
        kind=kind,
        card_type=card_type,
        count=count,
        level_id=level.id if level else None,
        first_card_no=numbers[0],
        last_card_no=numbers[-1],
        print_details=print_details or {},
        state=CardBatchState.ENCODED if printed else CardBatchState.CREATED,  # nothing to encode
        created_by=actor,
    )
    db.session.add(batch)
    db.session.flush()
    now, rank = utcnow(), level.rank if level else 0
    db.session.execute(
        insert(Card),
        [
            {
                "id": new_id("crd"),
                "card_no": number,
                "status": CardStatus.ISSUED if printed else CardStatus.CREATED,
                "batch_id": batch.id,
                "key_version": 1,
                "counter": 0,
                "counter_unconfirmed": False,
                "level_rank": rank,
                "created_at": now,
            }
            for number in numbers
        ],
    )
    audit(
        actor, "card_batch.create", "card_batch", batch.id, count=count, first=numbers[0], last=numbers[-1], kind=kind
    )
    return batch


def batch_progress(batch_id: str) -> dict[str, int]:
    """How many cards of the batch are in each status."""
    return batches_progress([batch_id])[batch_id]


def batches_progress(batch_ids: list[str]) -> dict[str, dict[str, int]]:
    """How many cards of each batch are in each status, for a page of batches in one query."""
    progress: dict[str, dict[str, int]] = {batch_id: {} for batch_id in batch_ids}
    rows = db.session.execute(
        select(Card.batch_id, Card.status, func.count())
        .where(Card.batch_id.in_(batch_ids))
        .group_by(Card.batch_id, Card.status)
    )
    for batch_id, status, count in rows:
        progress[batch_id][status] = count
    return progress


@dataclass(frozen=True)
class EncodePlan:
    """What to write on a blank chip: data blocks and every sector's new keys."""

    card: Card
    blocks: dict[int, bytes]
    keys: dict[int, tuple[bytes, bytes]]

    def as_json(self) -> dict:
        """Hex-encoded for the API."""
        return {
            "card_id": self.card.id,
            "card_no": self.card.card_no,
            "uid": self.card.chip_uid,
            "key_version": self.card.key_version,
            "blocks": {str(block): data.hex().upper() for block, data in self.blocks.items()},
            "keys": {str(sector): {"a": a.hex().upper(), "b": b.hex().upper()} for sector, (a, b) in self.keys.items()},
        }


def _card_image(card: Card, uid: bytes) -> tuple[dict[int, bytes], dict[int, tuple[bytes, bytes]]]:
    keys = _keys()
    record = CardRecord(card_no=card.card_no, key_version=card.key_version, level_rank=card.level_rank)
    blocks = sign_record(keys.card_signing, uid, record)
    blocks[COUNTER_BLOCK] = counter_block(keys.card_counter_key, uid, card.card_no, card.counter)
    return blocks, _sector_key_pairs(uid, card.key_version)


def _sector_key_pairs(uid: bytes, key_version: int) -> dict[int, tuple[bytes, bytes]]:
    """Every sector's (A, B) keys of the chip ``uid``."""
    keys = _keys()
    return {
        sector: sector_keys(keys.card_master, keys.card_read, uid, sector, key_version)
        for sector in range(SECTOR_COUNT)
    }


@transactional
def plan_encoding(actor: str, batch_id: str, uid_hex: str) -> EncodePlan:
    """Assign the next free card number of the batch to this chip (or the one it already has) and plan it."""
    uid = parse_uid(uid_hex)
    uid_text = uid.hex().upper()
    card = db.session.scalar(select(Card).where(Card.chip_uid == uid_text).with_for_update())
    if card is not None and not (card.batch_id == batch_id and card.status == CardStatus.ENCODING):
        raise Conflict("This chip is already encoded as an alliance card.", card_no=card.card_no, status=card.status)
    if card is None:
        if get_batch(batch_id).kind == CardBatchKind.PRINTED:
            raise Conflict("The cards of this batch are printed without a chip: there is nothing to encode.")
        card = db.session.scalar(
            select(Card)
            .where(Card.batch_id == batch_id, Card.status == CardStatus.CREATED)
            .order_by(Card.card_no)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if card is None:
            raise Conflict("Every card of this batch is encoded.", batch_id=batch_id)
        card.chip_uid, card.status, card.status_changed_at = uid_text, CardStatus.ENCODING, utcnow()
        audit(actor, "card.encode_start", "card", card.id, uid=uid_text)
    blocks, keys = _card_image(card, uid)
    return EncodePlan(card, blocks, keys)


@transactional
def confirm_encoding(actor: str, batch_id: str, uid_hex: str) -> Card:
    """The tool read the chip back and verified it: the card becomes issued (repeating it changes nothing)."""
    uid_text = parse_uid(uid_hex).hex().upper()
    card = db.session.scalar(select(Card).where(Card.chip_uid == uid_text).with_for_update())
    if card is None or card.batch_id != batch_id:
        raise NotFound("No card of this batch is being encoded with this chip.", uid=uid_text)
    if card.status == CardStatus.ENCODING:
        card.status, card.status_changed_at = CardStatus.ISSUED, utcnow()
        audit(actor, "card.encode_confirm", "card", card.id, uid=uid_text)
        unfinished = select(Card.id).where(
            Card.batch_id == batch_id, Card.status.in_((CardStatus.CREATED, CardStatus.ENCODING))
        )
        if not db.session.scalar(unfinished.limit(1)):
            db.session.execute(update(CardBatch).where(CardBatch.id == batch_id).values(state=CardBatchState.ENCODED))
    return card


def list_batches(pagination) -> list[CardBatch]:
    """Card batches, newest first."""
    query = select(CardBatch).order_by(CardBatch.created_at.desc(), CardBatch.id)
    return [row[0] for row in paginate(query, pagination)]


def list_batch_cards(batch_id: str, pagination, status: str | None = None) -> list[Card]:
    """The cards of a batch (optionally only those in ``status``) in card-number order."""
    query = select(Card).where(Card.batch_id == batch_id)
    if status is not None:
        query = query.where(Card.status == status)
    return [row[0] for row in paginate(query.order_by(Card.card_no), pagination)]


def batch_card(batch_id: str, card_no: str) -> Card | None:
    """The card of the batch with this number, if there is one."""
    return db.session.scalar(select(Card).where(Card.card_no == card_no, Card.batch_id == batch_id))


def batch_print_cards(batch_id: str) -> list[tuple[str, str]]:
    """(card number, check code) of every card of a batch in card-number order: what its print files show."""
    numbers = db.session.scalars(select(Card.card_no).where(Card.batch_id == batch_id).order_by(Card.card_no))
    return [(number, card_check_code(number)) for number in numbers]


def card_history(card: Card) -> list[AuditLog]:
    """Everything that happened to a card, oldest first: its batch's creation, then every status change
    (who, when, why) as the audit log recorded it."""
    entries = list(
        db.session.scalars(select(AuditLog).where(AuditLog.object_type == "card", AuditLog.object_id == card.id))
    )
    if card.batch_id:
        entries += db.session.scalars(
            select(AuditLog).where(
                AuditLog.object_type == "card_batch",
                AuditLog.object_id == card.batch_id,
                AuditLog.action == "card_batch.create",
            )
        )
    return sorted(entries, key=lambda entry: (entry.created_at, entry.id))


def card_check_code(card_no: str) -> str:
    """The check code printed with a card (e.g. under a scratch-off strip): 6 digits keyed by the server.

    Knowing a card number (it is on receipts) is not enough to bind someone else's card to oneself.
    """
    digest = hmac.new(_keys().card_master, f"card-check:{card_no}".encode(), hashlib.sha256).digest()
    return f"{int.from_bytes(digest[:8], 'big') % 10**CARD_CHECK_DIGITS:0{CARD_CHECK_DIGITS}d}"


def list_alerts(pagination, resolved: bool = False) -> list[dict]:
    """Card alerts (e.g. suspected clones), newest first; unresolved ones unless ``resolved``."""
    query = select(CardAlert, Card.card_no).join(Card, Card.id == CardAlert.card_id)
    query = query.where(CardAlert.resolved_at.is_not(None) if resolved else CardAlert.resolved_at.is_(None))
    rows = paginate(query.order_by(CardAlert.created_at.desc(), CardAlert.id), pagination)
    names = ("id", "card_id", "kind", "terminal_id", "details", "resolved_at", "created_at")
    return [{**{name: getattr(alert, name) for name in names}, "card_no": card_no} for alert, card_no in rows]


def get_card(card_id: str) -> Card:
    """A card by id."""
    card = db.session.get(Card, card_id)
    if card is None:
        raise NotFound("No such card.", card_id=card_id)
    return card


def card_by_number(card_no: str, *, lock: bool = False) -> Card:
    """A card by its printed number (row-locked for a status change if ``lock``)."""
    query = select(Card).where(Card.card_no == card_no)
    card = db.session.scalar(query.with_for_update() if lock else query)
    if card is None:
        raise NotFound("No card with this number.", card_no=card_no)
    return card


@transactional
def chip_keys(actor: str, uid_hex: str) -> dict:
    """All sector keys of an encoded chip (to return a test card to transport keys); audited."""
    uid = parse_uid(uid_hex)
    card = db.session.scalar(select(Card).where(Card.chip_uid == uid.hex().upper()))
    if card is None:
        raise NotFound("No card is encoded on this chip.", uid=uid.hex().upper())
    audit(actor, "card.reveal_keys", "card", card.id, uid=card.chip_uid)
    pairs = _sector_key_pairs(uid, card.key_version)
    return {
        "card_no": card.card_no,
        "uid": card.chip_uid,
        "keys": {str(sector): {"a": a.hex().upper(), "b": b.hex().upper()} for sector, (a, b) in pairs.items()},
    }


def _chip_blocks(blocks_hex: dict[str, str]) -> dict[int, bytes]:
    return {int(block): binascii.unhexlify(data) for block, data in blocks_hex.items()}


def check_usable(card: Card) -> Card:
    """``card`` if a member may use it now: not blocked, and bound to a member."""
    if card.status in BLOCKED_CARD_STATUSES:
        raise CardBlocked(status=card.status)
    if card.status != CardStatus.ACTIVE or card.member_id is None:
        raise MemberNotFound("This card is not bound to a member yet.")
    return card


def verified_chip_card(card_read: dict) -> tuple[Card, bytes, int]:
    """The card whose chip the terminal read, its UID and counter, after checking signature, binding and MAC."""
    uid = parse_uid(card_read["uid"])
    blocks = _chip_blocks(card_read["blocks"])
    try:
        record = verify_record(_keys().card_public_key, uid, blocks)
    except CardFormatError as exc:
        raise CardInvalid(str(exc)) from exc
    card = db.session.scalar(select(Card).where(Card.card_no == record.card_no).with_for_update())
    if card is None:
        raise CardUnknown(card_no=record.card_no)
    if card.chip_uid != uid.hex().upper():
        raise CardInvalid("This card record belongs to another chip.")
    try:
        presented = read_counter(_keys().card_counter_key, uid, card.card_no, blocks.get(COUNTER_BLOCK, b""))
    except CardFormatError as exc:
        raise CardInvalid(str(exc)) from exc
    return check_usable(card), uid, presented


def check_chip_counter(terminal: Terminal, card_read: dict, read_at: datetime | None = None) -> tuple[Card, bytes]:
    """Check the anti-clone counter of a chip card tapped online; return the card and its UID.

    The card should hold ``card.counter``; while the last write-back is unconfirmed it may still hold
    the value before. Anything lower is a clone (or the original after its clone was used): the card
    is frozen, an alert is recorded, and CardStale (which keeps these changes) is raised. Otherwise the
    counter moves on, unconfirmed until the terminal says it wrote it (:func:`plan_write_back`).

    ``read_at`` is when the till read the chip, for a sale that carries the read itself: a read taken
    before the counter last moved on (``counter_moved_at``) is that till sending again a sale whose
    answer it never got, while the card was tapped elsewhere in between; it is refused with
    CardReadSuperseded and nothing changes (the till sends the offline sale it captured instead).
    A clone tapped after the genuine card is read after the counter moved on: frozen as before.
    """
    card, uid, presented = verified_chip_card(card_read)
    tolerated = {card.counter, card.counter - 1} if card.counter_unconfirmed else {card.counter}
    if presented not in tolerated:
        if presented > card.counter:
            raise CardInvalid("The card's counter is ahead of the alliance's.")
        if read_at is not None and card.counter_moved_at is not None and read_at < card.counter_moved_at:
            raise CardReadSuperseded(card_no=card.card_no, presented=presented, expected=card.counter)
        card.status, card.status_changed_at = CardStatus.FROZEN, utcnow()
        db.session.add(
            CardAlert(
                id=new_id("alr"),
                card_id=card.id,
                kind="stale_counter",
                terminal_id=terminal.id,
                details={"presented": presented, "expected": card.counter, "merchant_id": terminal.merchant_id},
            )
        )
        audit(
            f"terminal:{terminal.id}", "card.block_stale", "card", card.id, presented=presented, expected=card.counter
        )
        webhooks.emit(db.session, "card.blocked", webhooks.card_blocked_payload(card, "suspected_copy"))
        raise CardStale(card_no=card.card_no)
    moved = {"counter": presented + 1, "counter_unconfirmed": True, "counter_moved_at": utcnow()}
    _MOVE_COUNTER.defer({"card_id": card.id, **moved})  # the row is locked: sent with the next statement
    for name, value in moved.items():  # the loaded card shows the row as it will be, with nothing left to flush
        set_committed_value(card, name, value)
    return card, uid


_cards = Card.__table__
_MOVE_COUNTER = HotStatement(
    update(_cards)
    .where(_cards.c.id == bindparam("card_id"))
    .values(
        counter=bindparam("counter"),
        counter_unconfirmed=bindparam("counter_unconfirmed"),
        counter_moved_at=bindparam("counter_moved_at"),
    )
)


def plan_write_back(card: Card, uid: bytes, level_rank: int) -> dict:
    """The blocks and keys the terminal writes: the new counter, and a re-signed record if the level changed."""
    keys = _keys()
    update_blocks = {COUNTER_BLOCK: counter_block(keys.card_counter_key, uid, card.card_no, card.counter)}
    write_keys = {
        COUNTER_SECTOR: sector_keys(keys.card_master, keys.card_read, uid, COUNTER_SECTOR, card.key_version)[1]
    }
    if level_rank != card.level_rank:  # re-sign the record so the level discount works offline too
        card.level_rank = level_rank
        record = CardRecord(card_no=card.card_no, key_version=card.key_version, level_rank=level_rank)
        update_blocks.update(sign_record(keys.card_signing, uid, record))
        write_keys[RECORD_SECTOR] = sector_keys(keys.card_master, keys.card_read, uid, RECORD_SECTOR, card.key_version)[
            1
        ]
    return {
        "blocks": {str(block): data.hex().upper() for block, data in sorted(update_blocks.items())},
        "keys": {str(sector): {"b": key.hex().upper()} for sector, key in sorted(write_keys.items())},
    }


def confirm_write_back(card_id: str) -> None:
    """The terminal wrote the card update: only the new counter is accepted from now on."""
    db.session.execute(
        update(Card)
        .where(Card.id == card_id)
        .values(counter_unconfirmed=False)
        .execution_options(synchronize_session=False)
    )


def _set_status(actor: str, card: Card, status: str, action: str, **details) -> Card:
    now = utcnow()
    card.status, card.status_changed_at = status, now
    if status in BLOCKED_CARD_STATUSES:  # blocked at once: a sale opened with the card before cannot finish
        db.session.execute(
            update(Identification)
            .where(Identification.card_id == card.id, Identification.used_at.is_(None), Identification.expires_at > now)
            .values(expires_at=now)
            .execution_options(synchronize_session=False)
        )
    audit(actor, action, "card", card.id, card_no=card.card_no, **details)
    if status in BLOCKED_CARD_STATUSES:
        webhooks.emit(db.session, "card.blocked", webhooks.card_blocked_payload(card, action.removeprefix("card.")))
    return card


@transactional
def report_lost(actor: str, card_no: str, reason: str = "") -> Card:
    """挂失: block the card at once; the member keeps points and history."""
    card = card_by_number(card_no, lock=True)
    if not card_actions.allows("lost", card.status):
        raise Conflict(f"The card is already {card.status}.", status=card.status)
    return _set_status(actor, card, CardStatus.LOST, "card.report_lost", reason=reason)


@transactional
def freeze(actor: str, card_no: str, reason: str = "") -> Card:
    """Temporarily block a card."""
    card = card_by_number(card_no, lock=True)
    if not card_actions.allows("freeze", card.status):
        raise Conflict(f"A {card.status} card cannot be frozen.", status=card.status)
    return _set_status(actor, card, CardStatus.FROZEN, "card.freeze", reason=reason)


@transactional
def unfreeze(actor: str, card_no: str, reason: str = "") -> Card:
    """Lift a freeze (or a loss report, if the card was found)."""
    card = card_by_number(card_no, lock=True)
    if not card_actions.allows("unfreeze", card.status):
        raise Conflict(f"A {card.status} card is not blocked.", status=card.status)
    db.session.execute(
        update(CardAlert)
        .where(CardAlert.card_id == card.id, CardAlert.resolved_at.is_(None))
        .values(resolved_at=utcnow())
    )
    return _set_status(
        actor, card, CardStatus.ACTIVE if card.member_id else CardStatus.ISSUED, "card.unfreeze", reason=reason
    )


@transactional
def replace(actor: str, old_card_no: str, new_card_no: str) -> Card:
    """补卡: the new card takes over the member; the old one is blocked for good. Points stay with the member."""
    old, new = card_by_number(old_card_no, lock=True), card_by_number(new_card_no, lock=True)
    if old.member_id is None or old.status in {CardStatus.REPLACED, CardStatus.CANCELLED}:
        raise Conflict("Only a member's card that is not replaced or cancelled can be replaced.", status=old.status)
    if new.status != CardStatus.ISSUED or new.member_id is not None:  # a printed card is issued when made
        raise Conflict("The new card must be issued and not bound to anyone.", status=new.status)
    new.member_id, new.status, new.status_changed_at = old.member_id, CardStatus.ACTIVE, utcnow()
    old.replaced_by_id = new.id
    _set_status(actor, old, CardStatus.REPLACED, "card.replace", new_card_no=new.card_no, member_id=old.member_id)
    audit(
        actor, "card.replacement", "card", new.id, card_no=new.card_no, old_card_no=old.card_no, member_id=new.member_id
    )
    return new


@transactional
def cancel(actor: str, card_no: str, reason: str = "") -> Card:
    """Retire a card for good (注销)."""
    card = card_by_number(card_no, lock=True)
    if not card_actions.allows("cancel", card.status):
        raise Conflict(f"The card is already {card.status}.", status=card.status)
    return _set_status(actor, card, CardStatus.CANCELLED, "card.cancel", reason=reason)
