"""Cloned, copied, tampered, lost and replaced chip cards at a terminal, through pcscd and the real API."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import select

from alliance_shared.devices.mifare import build_trailer, encode_access_bits
from card_layout.keys import read_key
from card_layout.layout import RECORD_BLOCK
from pos_client.server_client import ApiError
from server.extensions import db
from server.models import CardAlert, Identification
from tests.hardware.card_tools_helpers import (
    blank_cards,
    encode_cards,
    present,
    terminal_read,
    use_card,
)
from tests.hardware.virtual_mifare import VirtualMifareClassic1K


@dataclass
class Issued:
    """An encoded card bound to a member, from a batch with one more card left to encode."""

    card: VirtualMifareClassic1K
    card_no: str
    member_id: str
    batch_id: str


@pytest.fixture
def issued(alliance, vpcd, reader) -> Issued:
    batch = alliance.staff.create_batch(2)
    card = blank_cards(1, first_uid=0xC1C2C3C4)[0]
    (card_no,) = encode_cards(alliance, vpcd, reader, batch["id"], [card])
    member_id = alliance.new_member()
    alliance.staff.bind_card(member_id, card_no)
    return Issued(card, card_no, member_id, batch["id"])


def _refused(alliance, vpcd, reader, card) -> ApiError:
    chip = present(vpcd, reader, card)
    with pytest.raises(ApiError) as refused:
        alliance.terminal.identify(card=terminal_read(chip, alliance.read_secret))
    return refused.value


def _alerts(app) -> list[tuple[str, dict]]:
    with app.app_context():
        alerts = [(alert.kind, alert.details) for alert in db.session.scalars(select(CardAlert))]
        db.session.remove()
    return alerts


def _identifications(app) -> int:
    with app.app_context():
        count = len(db.session.scalars(select(Identification.token_hash)).all())
        db.session.remove()
    return count


@pytest.mark.parametrize("first_used", ["original", "clone"])
def test_a_clone_is_caught_at_its_first_divergent_use(alliance, vpcd, reader, issued, first_used):
    original, card_no, member_id = issued.card, issued.card_no, issued.member_id
    clone = VirtualMifareClassic1K.from_image(original.image())  # same UID, same bytes, same keys
    used, second = (original, clone) if first_used == "original" else (clone, original)

    for _ in range(2):  # the copy in use keeps working: each use advances the counter on card and server
        identified = use_card(alliance, present(vpcd, reader, used))
        assert identified["member"]["id"] == member_id
    assert alliance.db_card(card_no).counter == 2

    refused = _refused(alliance, vpcd, reader, second)
    assert (refused.status, refused.code) == (409, "card_stale")
    assert alliance.db_card(card_no).status == "frozen"
    assert [(kind, details["presented"], details["expected"]) for kind, details in _alerts(alliance.app)] == [
        ("stale_counter", 0, 2)
    ]
    # from now on neither copy is accepted until an operator looks into it
    refused = _refused(alliance, vpcd, reader, used)
    assert (refused.status, refused.code) == (409, "card_blocked")
    alerts = alliance.staff.request("GET", "/card-alerts")
    assert [(alert["card_no"], alert["kind"], alert["resolved_at"]) for alert in alerts] == [
        (card_no, "stale_counter", None)
    ]
    assert alerts[0]["details"]["presented"] == 0 and alerts[0]["details"]["expected"] == 2
    alliance.staff.change_card(card_no, "unfreeze", "checked with the member")
    assert alliance.staff.request("GET", "/card-alerts") == []
    assert len(alliance.staff.request("GET", "/card-alerts", params={"resolved": "true"})) == 1


def test_lost_and_replaced_cards_are_refused(alliance, vpcd, reader, issued):
    first, first_no, member_id = issued.card, issued.card_no, issued.member_id
    second = blank_cards(1, first_uid=0xC5C6C7C8)[0]
    (second_no,) = encode_cards(alliance, vpcd, reader, issued.batch_id, [second])

    result = alliance.cli("lost", first_no, "--reason", "member called")
    assert result.exit_code == 0, result.output
    refused = _refused(alliance, vpcd, reader, first)
    assert (refused.status, refused.code, refused.details) == (409, "card_blocked", {"status": "lost"})

    assert alliance.cli("unfreeze", first_no, "--reason", "found it").exit_code == 0
    assert use_card(alliance, present(vpcd, reader, first))["member"]["id"] == member_id

    result = alliance.cli("replace", first_no, second_no)
    assert result.exit_code == 0, result.output
    refused = _refused(alliance, vpcd, reader, first)
    assert (refused.status, refused.code, refused.details) == (409, "card_blocked", {"status": "replaced"})
    # the new card carries on for the same member
    assert use_card(alliance, present(vpcd, reader, second))["member"]["id"] == member_id


def test_a_tampered_record_is_invalid_and_changes_nothing(alliance, vpcd, reader, issued):
    original, card_no = issued.card, issued.card_no
    tampered = VirtualMifareClassic1K.from_image(original.image())
    record = bytearray(tampered.block(RECORD_BLOCK))
    record[4] = 3  # level rank: diamond
    tampered.set_block(RECORD_BLOCK, bytes(record))
    before = alliance.db_card(card_no)

    refused = _refused(alliance, vpcd, reader, tampered)
    assert (refused.status, refused.code) == (422, "card_invalid")
    after = alliance.db_card(card_no)
    assert (after.status, after.counter, after.level_rank) == (before.status, before.counter, before.level_rank)
    assert _identifications(alliance.app) == 0
    # the operator's offline check says so too
    result = alliance.cli("verify", "--reader", reader.name)
    assert result.exit_code == 1, result.output
    assert "不是本联盟的有效卡 (not a valid card of this alliance)" in result.output
    # the untouched original still works
    assert use_card(alliance, present(vpcd, reader, original))["identification"]["method"] == "card"


def test_a_record_copied_to_another_chip_is_invalid(alliance, vpcd, reader, issued):
    original, card_no = issued.card, issued.card_no
    # someone with a terminal's read secret copies the blocks onto a blank card with another UID and
    # gives it the read keys a terminal derives for that UID, so terminals read it as usual
    copy = blank_cards(1, first_uid=0xDEADBEEF)[0]
    for sector in (1, 2):
        for block in range(sector * 4, sector * 4 + 3):
            copy.set_block(block, original.block(block))
        key_a = read_key(alliance.read_secret, copy.uid, sector, 1)
        copy.set_block(
            sector * 4 + 3, build_trailer(key_a, encode_access_bits(((0, 0, 0),) * 3 + ((0, 0, 1),)), b"\xff" * 6)
        )
    before = alliance.db_card(card_no)

    refused = _refused(alliance, vpcd, reader, copy)
    assert (refused.status, refused.code) == (422, "card_invalid")
    after = alliance.db_card(card_no)
    assert (after.status, after.counter, after.chip_uid) == (before.status, before.counter, original.uid.hex().upper())
    assert _identifications(alliance.app) == 0
    assert _alerts(alliance.app) == []
