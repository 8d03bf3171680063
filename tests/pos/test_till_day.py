"""A scripted day at the till (the script: tests/pos/till_day.py): 30 sales by card number, phone and
member code, 5 refunds, a printer that fails twice, a server that goes away for 10 sales and comes back,
and a shift close — after which the server's books, the POS outbox, the printed slips and the shift
report (交班单) agree to the fen.

The same day with chip-card taps among the sales (the real pcscd and a virtual MIFARE card, online taps
writing the anti-clone counter back, offline taps priced from the signed card record) is
tests/hardware/test_till_day_cards.py; this one runs where there is no pcscd too.
"""

from __future__ import annotations

from server.extensions import db
from tests.builders import make_world
from tests.live_server import live_server
from tests.pos.pos_helpers import FrontServer, write_config
from tests.pos.till_day import Day, day_settings, open_till, play_day, stock_day


def test_a_day_at_the_till_agrees_to_the_fen(app, tmp_path):
    with day_settings(app) as moment:
        with app.app_context():
            world = make_world()
            customers = stock_day(world.shop_a.merchant.id, world.levels["normal"].id)
            db.session.remove()
        with live_server(app) as url:
            front = FrontServer(url)
            front.start()
            try:
                core, printers = open_till(write_config(tmp_path, front.url, world.shop_a.token))
                day = Day(app, front, core, printers, customers, moment)
                play_day(day)
            finally:
                front.stop()
    assert [step["status"] for step in day.plan].count("unknown") == 10
