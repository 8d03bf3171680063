"""`alliance-cards encode / verify / format` through a real pcscd with virtual cards on the vpcd reader."""

from __future__ import annotations

import itertools
import re

from sqlalchemy import func, select

from alliance_shared.devices.card_reader import AuthenticationFailed
from alliance_shared.devices.mifare import TRANSPORT_KEY, first_block
from card_tools.encoder import Chip, is_blank
from server.extensions import db
from server.models import AuditLog, Card
from tests.hardware.card_tools_helpers import (
    Operator,
    Pull,
    blank_cards,
    present,
    terminal_read,
)

DICTIONARY_KEYS = [
    bytes.fromhex(key)
    for key in (
        "FFFFFFFFFFFF",
        "A0A1A2A3A4A5",
        "B0B1B2B3B4B5",
        "D3F7D3F7D3F7",
        "000000000000",
        "4D3A99C351DD",
        "1A982C7E459A",
        "AABBCCDDEEFF",
        "714C5C886E97",
        "587EE5F9350F",
        "A0478CC39091",
        "533CB6C723F6",
        "8FD0A4F256E9",
    )
]
TRAILER_OF_SECTOR_5 = 23


def _opens(chip: Chip, sector: int, key: bytes, key_type: str) -> bool:
    try:
        chip.open(sector, key, key_type)
    except AuthenticationFailed:
        return False
    return True


def _encode_starts(app, card_no: str) -> int:
    with app.app_context():
        card_id = db.session.scalar(select(Card.id).where(Card.card_no == card_no))
        count = db.session.scalar(
            select(func.count())
            .select_from(AuditLog)
            .where(AuditLog.action == "card.encode_start", AuditLog.object_id == card_id)
        )
        db.session.remove()
    return count


def test_encode_five_blank_cards_end_to_end(alliance, vpcd, vpcd_slot, reader):
    batch = alliance.staff.create_batch(5, level="gold")
    cards = blank_cards(5)
    operator = Operator(vpcd, cards)
    operator.start()
    result = alliance.cli("encode", "--batch", batch["id"], "--reader", vpcd_slot.reader, "--wait", "10")
    operator.finish()
    assert result.exit_code == 0, result.output
    assert result.output.count("写卡完成 (encoded)") == 5
    # per card: blank check 1 + 16, data blocks 2 + 6, trailers 16 + 16, read-back 2 x 6 + 14 x 2 key B checks
    assert re.findall(r"写卡完成 \(encoded\), (\d+) APDUs", result.output) == ["97"] * 5
    assert "写卡 (encoded) 5（续写 resumed 0），跳过 (skipped) 0，失败 (failed) 0" in result.output
    listed = alliance.cards(batch["id"])
    # card after card: the n-th card presented got the n-th number of the batch
    assert [(card["chip_uid"], card["status"]) for card in listed] == [(c.uid.hex().upper(), "issued") for c in cards]
    assert alliance.staff.batch(batch["id"])["state"] == "encoded"
    assert alliance.staff.batch(batch["id"])["progress"] == {"issued": 5}

    # every key of every card is its own, and the card carries exactly the keys the server derives
    all_keys = []
    for card in cards:
        keys = alliance.staff.chip_keys(card.uid.hex().upper())["keys"]
        for sector in range(16):
            key_a, key_b = bytes.fromhex(keys[str(sector)]["a"]), bytes.fromhex(keys[str(sector)]["b"])
            trailer = card.block(first_block(sector) + 3)
            assert (trailer[:6], trailer[10:]) == (key_a, key_b)
            all_keys += [key_a, key_b]
    assert len(all_keys) == 5 * 16 * 2
    assert len(set(all_keys)) == len(all_keys)
    assert not set(all_keys) & set(DICTIONARY_KEYS)

    for card, listed_card in zip(cards, listed, strict=True):
        chip = present(vpcd, reader, card)
        # no transport or dictionary key opens any sector, as key A or key B
        for key, key_type, sector in itertools.product(DICTIONARY_KEYS, "AB", range(16)):
            assert not _opens(chip, sector, key, key_type), (card.uid.hex(), key.hex(), key_type, sector)
        # the card identifies its member through the API, read as a terminal reads it
        member_id = alliance.new_member()
        alliance.staff.bind_card(member_id, listed_card["card_no"])
        identified = alliance.terminal.identify(card=terminal_read(chip, alliance.read_secret))
        assert identified["member"]["id"] == member_id
        assert identified["member"]["level"]["code"] == "gold"  # the batch's level lifted the member
        assert identified["identification"]["method"] == "card"
        assert identified["card_update"]["blocks"].keys() == {"10"}  # the counter only: the level matches


def test_interrupted_run_resumes_without_duplicates(alliance, vpcd, vpcd_slot, reader):
    batch = alliance.staff.create_batch(4)
    numbers = [card["card_no"] for card in alliance.cards(batch["id"])]
    first, pulled, third, fourth = blank_cards(4, first_uid=0x5A000001)

    # run 1: the first card is encoded; the second is pulled off the reader while its trailers are written
    pull = Pull(pulled, lambda apdu: apdu[:4] == bytes([0xFF, 0xD6, 0x00, TRAILER_OF_SECTOR_5]))
    operator = Operator(vpcd, [first, pull])
    operator.start()
    result = alliance.cli(
        "encode", "--batch", batch["id"], "--reader", vpcd_slot.reader, "--limit", "2", "--wait", "1.5"
    )
    operator.finish()
    assert result.exit_code == 1, result.output
    assert f"✓ {first.uid.hex().upper()} → {numbers[0]} 写卡完成 (encoded)" in result.output
    assert f"✗ {pulled.uid.hex().upper()} {numbers[1]}: 写卡中卡片被移开 (card removed while writing)" in result.output
    assert "失败 (failed) 1 — 失败的卡 (failed cards): " + pulled.uid.hex().upper() in result.output
    assert [card["status"] for card in alliance.cards(batch["id"])] == ["issued", "encoding", "created", "created"]
    # half written: sectors 0-4 carry their new keys, sector 5 and up still the transport key
    assert pulled.block(TRAILER_OF_SECTOR_5)[:6] == TRANSPORT_KEY
    assert pulled.block(19)[:6] != TRANSPORT_KEY

    # run 2: the half-written card is finished with its number, the encoded one skipped, then the rest
    vpcd.remove()
    operator = Operator(vpcd, [pulled, first, third, fourth])
    operator.start()
    result = alliance.cli("encode", "--batch", batch["id"], "--reader", vpcd_slot.reader, "--wait", "10")
    operator.finish()
    assert result.exit_code == 0, result.output
    assert f"✓ {pulled.uid.hex().upper()} → {numbers[1]} 续写完成 (resumed and encoded)" in result.output
    skipped = f"- {first.uid.hex().upper()} {numbers[0]}: 已是联盟卡，跳过 (already an alliance card, skipped)"
    assert skipped in result.output
    assert "写卡 (encoded) 3（续写 resumed 1），跳过 (skipped) 1，失败 (failed) 0" in result.output

    listed = alliance.cards(batch["id"])
    expected = [(c.uid.hex().upper(), "issued") for c in (first, pulled, third, fourth)]
    assert [(card["chip_uid"], card["status"]) for card in listed] == expected
    assert [card["card_no"] for card in listed] == numbers
    # each number was given to a chip exactly once, none reused
    assert [_encode_starts(alliance.app, number) for number in numbers] == [1, 1, 1, 1]

    # a third run has nothing left to do
    result = alliance.cli("encode", "--batch", batch["id"], "--reader", vpcd_slot.reader)
    assert result.exit_code == 0, result.output
    assert "已全部写卡 (every card of this batch is encoded)" in result.output


def test_encode_refuses_a_foreign_card_and_consumes_no_number(alliance, vpcd, vpcd_slot):
    batch = alliance.staff.create_batch(1)
    foreign = blank_cards(1, first_uid=0x0F0F0F0F)[0]
    foreign.set_block(7, bytes.fromhex("A0A1A2A3A4A5FF078069B0B1B2B3B4B5"))  # another system's keys on sector 1
    operator = Operator(vpcd, [foreign])
    operator.start()
    result = alliance.cli("encode", "--batch", batch["id"], "--reader", vpcd_slot.reader, "--wait", "1")
    operator.finish()
    assert result.exit_code == 1, result.output
    assert f"✗ {foreign.uid.hex().upper()}: 不是空白卡 (not a blank card)" in result.output
    assert [card["status"] for card in alliance.cards(batch["id"])] == ["created"]
    assert not any(apdu[1] == 0xD6 for apdu, _ in foreign.apdu_log)  # nothing was written


def test_verify_and_format(alliance, vpcd, vpcd_slot, reader):
    batch = alliance.staff.create_batch(1)
    card = blank_cards(1, first_uid=0x3C3C3C01)[0]
    operator = Operator(vpcd, [card])
    operator.start()
    assert alliance.cli("encode", "--batch", batch["id"], "--reader", vpcd_slot.reader).exit_code == 0
    operator.finish()
    card_no = alliance.cards(batch["id"])[0]["card_no"]
    uid = card.uid.hex().upper()

    result = alliance.cli("verify", "--reader", vpcd_slot.reader)
    assert result.exit_code == 0, result.output
    assert f"芯片 (chip UID): {uid}" in result.output
    assert f"卡号 (card number): {card_no}  签名有效 (signature valid)" in result.output
    assert "密钥版本 (key version) 1, 等级 (level rank) 0, 计数器 (counter) 0" in result.output
    assert "服务器状态 (server status): 已发卡 (issued)" in result.output

    result = alliance.cli("format", "--reader", vpcd_slot.reader, "--yes")
    assert result.exit_code == 0, result.output
    assert f"已恢复出厂密钥 (formatted) UID {uid}: 16 个扇区 (sectors)" in result.output
    for sector in range(16):
        assert card.block(first_block(sector) + 3) == bytes.fromhex("FFFFFFFFFFFFFF078069FFFFFFFFFFFF")
        for block in range(first_block(sector), first_block(sector) + 3):
            if block:
                assert card.block(block) == bytes(16), block
    chip = present(vpcd, reader, card)
    assert is_blank(chip)

    result = alliance.cli("verify", "--reader", vpcd_slot.reader)
    assert result.exit_code == 1, result.output
    assert "空白卡 (blank card: transport keys, not encoded)" in result.output

    # the formatted chip is still card_no on the server: encoding it again is refused and takes no number
    other = alliance.staff.create_batch(1)
    result = alliance.cli("encode", "--batch", other["id"], "--reader", vpcd_slot.reader, "--wait", "0.5")
    assert result.exit_code == 1, result.output
    assert f"✗ {uid}: 此芯片已发卡为 {card_no} (this chip is already card {card_no}, status issued)" in result.output
    assert [card["status"] for card in alliance.cards(other["id"])] == ["created"]
