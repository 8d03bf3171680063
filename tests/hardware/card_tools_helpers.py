"""Helpers for the card tool tests: a server with staff, an operator presenting cards in turn, a terminal."""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from click.testing import CliRunner, Result
from sqlalchemy import select

from alliance_shared.devices.card_reader import CardReader
from card_tools.cli import main
from card_tools.client import StaffClient
from card_tools.encoder import BatchEncoder, Chip, read_card_blocks
from pos_client.server_client import TerminalClient, new_idempotency_key
from server.extensions import db
from server.models import Card
from tests.builders import make_member, make_world
from tests.hardware.virtual_mifare import VirtualMifareClassic1K
from tests.hardware.vpcd import VirtualCardConnection
from tests.live_server import live_server

GET_UID_APDU = bytes.fromhex("FFCA000000")
CARD_TIMEOUT = 5.0


@dataclass
class Alliance:
    """A live server with the test alliance: a card issuer's API client and shop A's terminal."""

    app: object
    url: str
    token: str
    staff: StaffClient
    terminal: TerminalClient
    read_secret: bytes

    def cli(self, *args: str) -> Result:
        """Run `alliance-cards` against this server with the card issuer's token."""
        return CliRunner().invoke(main, list(args), env={"ALLIANCE_SERVER": self.url, "ALLIANCE_TOKEN": self.token})

    def cards(self, batch_id: str) -> list[dict]:
        """The batch's cards in card-number order, as the API lists them."""
        return [card for page in self.staff.batch_cards(batch_id) for card in page]

    def db_card(self, card_no: str) -> Card:
        """The card row (detached) for assertions on what the API does not show."""
        with self.app.app_context():
            card = db.session.scalar(select(Card).where(Card.card_no == card_no))
            db.session.expunge(card)
            db.session.remove()
        return card

    def new_member(self) -> str:
        """A registered member without a card; returns its id."""
        with self.app.app_context():
            member, _ = make_member(with_card=False)
            member_id = member.id
            db.session.remove()
        return member_id


@contextmanager
def quiet_live_server(app) -> Iterator[str]:
    """``live_server(app)`` without request logging; yields its base URL."""
    werkzeug = logging.getLogger("werkzeug")
    level = werkzeug.level
    werkzeug.setLevel(logging.ERROR)
    try:
        with live_server(app) as url:
            yield url
    finally:
        werkzeug.setLevel(level)


def make_alliance(app, url: str) -> Alliance:
    """The test alliance (levels, shops, staff) in ``app``'s database, reached through ``url``."""
    with app.app_context():
        world = make_world()
        token, terminal_token = world.staff_tokens["card_issuer"], world.shop_a.token
        db.session.remove()
    staff = StaffClient(url, token)
    read_secret = base64.b64decode(staff.alliance()["card_read_key"])
    return Alliance(app, url, token, staff, TerminalClient(url, terminal_token), read_secret)


def blank_cards(count: int, first_uid: int = 0x10203040) -> list[VirtualMifareClassic1K]:
    """Blank MIFARE Classic 1K cards with distinct 4-byte UIDs."""
    return [VirtualMifareClassic1K(uid=(first_uid + 0x01010101 * i).to_bytes(4, "big")) for i in range(count)]


def released(card: VirtualMifareClassic1K, since: int) -> bool:
    """True once the tool worked on the card presented at log position ``since`` and now waits for its removal."""
    log = card.apdu_log[since:]
    return len(log) >= 2 and log[-1][0] == GET_UID_APDU


@dataclass(frozen=True)
class Pull:
    """An operator step: present ``card`` and pull it off the reader when it receives an APDU matching ``when``."""

    card: VirtualMifareClassic1K
    when: Callable[[bytes], bool]


class Operator(threading.Thread):
    """Presents cards to the vpcd reader one after the other, the next once the tool asks for the card back."""

    def __init__(self, vpcd: VirtualCardConnection, steps: Sequence[VirtualMifareClassic1K | Pull], timeout=20.0):
        super().__init__(name="operator", daemon=True)
        self.vpcd, self.steps, self.timeout = vpcd, list(steps), timeout
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            for step in self.steps:
                if self.stop.is_set():
                    return
                card = step.card if isinstance(step, Pull) else step
                since = len(card.apdu_log)
                self.vpcd.insert(card)
                if isinstance(step, Pull):
                    self.vpcd.pull_card_when(step.when)
                self._wait_until_done(card, since)
        except BaseException as exc:  # reported by finish()
            self.error = exc

    def _wait_until_done(self, card: VirtualMifareClassic1K, since: int) -> None:
        """Until the tool asks for the card back, or the card was pulled off the reader."""
        deadline = time.monotonic() + self.timeout
        while not self.stop.is_set() and not released(card, since) and self.vpcd.inserted:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the tool never finished card {card.uid.hex()}")
            time.sleep(0.01)

    def finish(self) -> None:
        """Stop presenting cards and surface any error of the operator thread."""
        self.stop.set()
        self.join(timeout=10)
        if self.error is not None:
            raise self.error


def present(vpcd: VirtualCardConnection, reader: CardReader, card: VirtualMifareClassic1K) -> Chip:
    """Put ``card`` on the reader and connect to it."""
    vpcd.insert(card)
    info = reader.wait_for_card(CARD_TIMEOUT)
    assert info.uid == card.uid
    return Chip(reader, info.uid)


def encode_cards(alliance: Alliance, vpcd, reader, batch_id: str, cards) -> list[str]:
    """Encode ``cards`` through the encoder library (as `encode` does); returns their card numbers."""
    encoder = BatchEncoder.for_batch(alliance.staff, batch_id)
    numbers = []
    for card in cards:
        chip = present(vpcd, reader, card)
        outcome = encoder.encode(reader, chip.uid)
        assert outcome.result == "encoded", outcome
        numbers.append(outcome.card_no)
    return numbers


def terminal_read(chip: Chip, read_secret: bytes) -> dict:
    """What a terminal sends to /identify: the UID and blocks read with the derived read keys."""
    blocks = read_card_blocks(chip, read_secret)
    return {"uid": chip.uid.hex().upper(), "blocks": {str(block): data.hex().upper() for block, data in blocks.items()}}


def write_back(chip: Chip, card_update: dict) -> None:
    """Write the server's card_update (counter, maybe a re-signed record) with the key B it gives per sector."""
    blocks = {int(block): bytes.fromhex(data) for block, data in card_update["blocks"].items()}
    for sector, keys in card_update["keys"].items():
        chip.open(int(sector), bytes.fromhex(keys["b"]), "B")
        for block in sorted(blocks):
            if block // 4 == int(sector):
                chip.write(block, blocks[block])


def use_card(alliance: Alliance, chip: Chip, amount_fen: int = 1000) -> dict:
    """A purchase with the chip card at shop A: identify, write the update back, record the sale."""
    identified = alliance.terminal.identify(card=terminal_read(chip, alliance.read_secret))
    write_back(chip, identified["card_update"])
    alliance.terminal.record_sale(
        {
            "identification_token": identified["identification"]["token"],
            "amount_fen": amount_fen,
            "redeem_points": 0,
            "card_update_written": True,
        },
        new_idempotency_key(),
    )
    return identified
