"""The scripted day at the till (the script: tests/pos/till_day.py) with chip cards: 30 sales by printed
card number, phone, member code and chip-card tap, 5 refunds, a printer that fails twice, a server that
goes away for 10 sales and comes back, and a shift close — after which the server's books, the POS
outbox, the printed slips and the shift report (交班单) agree to the fen.

The chip card is a virtual MIFARE Classic 1K encoded by the card tools and read through the real pcscd
(vsmartcard-vpcd); it lies on the reader all day and each F2 reads it anew. Online taps write the
anti-clone counter back and may spend points (the card is the member's proof); taps while the server is
away are offline sales priced from the signed card record, uploaded when it comes back.
"""

from __future__ import annotations

from sqlalchemy import select

from card_layout.layout import COUNTER_BLOCK
from card_layout.record import counter_value
from server.extensions import db
from server.models import Level, Merchant
from server.services import members
from tests.builders import ACTOR
from tests.hardware.card_tools_helpers import blank_cards, encode_cards
from tests.pos.pos_helpers import FrontServer, write_config
from tests.pos.till_day import Day, day_settings, open_till, play_day, stock_day


def test_a_day_at_the_till_with_chip_cards_agrees_to_the_fen(app, alliance, vpcd, reader, tmp_path):
    batch = alliance.staff.create_batch(1)
    card = blank_cards(1, first_uid=0x6C7D8E9F)[0]
    (card_no,) = encode_cards(alliance, vpcd, reader, batch["id"], [card])
    member_id = alliance.new_member()
    alliance.staff.bind_card(member_id, card_no)
    with day_settings(app) as moment:
        with app.app_context():
            merchant = db.session.scalar(select(Merchant).where(Merchant.name == "甲店"))
            level = db.session.scalar(select(Level).where(Level.rank == 0))
            customers = stock_day(merchant.id, level.id)
            members.adjust_points(ACTOR, member_id, 3_000, "test set-up")
            db.session.remove()
        front = FrontServer(alliance.url)
        front.start()
        try:
            token = alliance.terminal.headers["Authorization"].removeprefix("Bearer ")
            core, printers = open_till(write_config(tmp_path, front.url, token), reader)
            vpcd.insert(card)
            day = Day(app, front, core, printers, customers, moment, tap=lambda: core.identify_card(timeout=5))
            books = play_day(day)
        finally:
            front.stop()
    taps = [step for step in day.plan if step["kind"] == "chip"]
    online = [step for step in taps if not step["away"]]
    assert len(taps) == 7 and [step["status"] for step in taps if step["away"]] == ["offline"] * 3
    assert sum(step["redeem"] for step in online) == 200 * len(online) and books["redeemed"] > 0
    # each online tap moved the counter on, on the card and in the alliance's books alike
    on_server = alliance.db_card(card_no)
    assert counter_value(card.block(COUNTER_BLOCK)) == on_server.counter == len(online)
    assert not on_server.counter_unconfirmed
