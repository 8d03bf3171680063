"""`alliance-server jobs run --job detect-brushing`: the scan from cron, twice, one flag."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from server.extensions import db
from server.models import BrushingFlag
from server.services import checkout
from tests.builders import make_member, make_world
from tests.test_cli import run  # noqa: F401 - the fixture


def test_the_detect_brushing_job(app, run):  # noqa: F811
    with app.app_context():
        world = make_world()
        _, card = make_member()
        for amount in (1_001, 1_002, 1_003, 1_004):  # one card, one shop, four sales within minutes
            found = checkout.identify(world.shop_a.terminal, code=card.card_no)
            checkout.record_sale(world.shop_a.terminal, identification_token=found.token, amount_fen=amount)
        db.session.remove()
    first = run("jobs", "run", "--job", "detect-brushing")
    assert first.exit_code == 0, first.output
    again = run("jobs", "run", "--job", "detect-brushing")
    assert json.loads(first.output)["flagged"] == 1 and json.loads(again.output)["flagged"] == 0, first.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(BrushingFlag)) == 1
        db.session.remove()
