"""The one-request tap at the till when its answer is lost: sent again with its key, never twice, no card frozen."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from pos_client import cli
from pos_client.checkout import Checkout
from pos_client.config import PosConfig
from pos_client.messages import ServerRefused
from pos_client.outbox import Outbox
from pos_client.terminal import terminal_client
from server.extensions import db
from server.models import Card, CardAlert, Sale
from tests.builders import make_member, make_world
from tests.live_server import live_server
from tests.pos.pos_helpers import FrontServer, chip_on_the_reader, write_config


@dataclass
class Till:
    core: Checkout
    front: FrontServer
    config: Path
    card_id: str
    read: dict  # the chip as the till read it (counter 0)
    other_till: dict  # shop B's terminal credentials: the card tapped elsewhere


@pytest.fixture
def till(app, tmp_path):
    with app.app_context():
        world = make_world()
        _, card = make_member(points=0)
        token, card_id, other = world.shop_a.token, card.id, world.shop_b.auth
        db.session.remove()
    with live_server(app) as url:
        front = FrontServer(url)
        front.start()
        config = write_config(tmp_path, front.url, token)
        core = Checkout(terminal_client(PosConfig.load(config)), Outbox(PosConfig.outbox_path(config)))
        core.refresh()
        read = chip_on_the_reader(app, core, card_id)
        yield Till(core, front, config, card_id, read, other)
        front.stop()


def _card(app, card_id: str) -> tuple[str, int, int]:
    with app.app_context():
        card = db.session.get(Card, card_id)
        alerts = db.session.scalar(select(func.count()).select_from(CardAlert))
        found = card.status, card.counter, alerts
        db.session.remove()
    return found


def _sales(app, client_sale_id: str) -> list[Sale]:
    with app.app_context():
        found = db.session.scalars(select(Sale).where(Sale.client_sale_id == client_sale_id)).all()
        db.session.remove()
    return found


def _written(read: dict, card_update: dict) -> dict:
    return {"uid": read["uid"], "blocks": {**read["blocks"], **card_update["blocks"]}}


def _tap_elsewhere(app, auth: dict, read: dict) -> dict:
    response = app.test_client().post(
        "/api/v1/sales",
        json={"card": read, "amount_fen": 1_000},
        headers={**auth, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert response.status_code == 201, response.json
    return response.json


def test_a_lost_answer_recorded_by_the_server_is_answered_from_its_key(app, till):
    core, front = till.core, till.front
    front.gate.hold_after.set()  # the server records the sale; its answer never reaches the till
    front.gate.release.set()
    outcome = core.tap_and_pay(2_000)
    assert outcome.status == "unknown"
    front.gate.hold_after.clear()
    sent = core.outbox.sale(outcome.seq)
    assert "card" in sent.body and sent.body["offline"] is False and sent.fallback["offline"] is True
    result = core.sync()  # sent again with the same key and the same (now behind) chip read
    assert result.sent == [outcome.seq]
    again = core.outbox.sale(outcome.seq)
    assert again.idempotency_key == sent.idempotency_key and not again.offline  # the recorded sale's answer
    (sale,) = _sales(app, sent.client_sale_id)
    assert (sale.offline, sale.method) == (False, "card")
    assert again.response["sale"]["id"] == sale.id
    assert _card(app, till.card_id) == ("active", 1, 0)


def test_a_lost_sale_resent_after_the_card_was_used_elsewhere_is_recorded_once_and_the_card_stays(app, till):
    core, front = till.core, till.front
    front.stop()  # the sale never reaches the server
    outcome = core.tap_and_pay(2_000)
    assert outcome.status == "unknown"
    # meanwhile the member taps the card at another shop, twice (the second with the counter written back)
    first = _tap_elsewhere(app, till.other_till, till.read)
    _tap_elsewhere(app, till.other_till, _written(till.read, first["card_update"]))
    assert _card(app, till.card_id) == ("active", 2, 0)
    front.start()
    result = core.sync()
    assert result.sent == [outcome.seq] and not result.rejected
    sent = core.outbox.sale(outcome.seq)
    assert sent.offline and sent.idempotency_key.endswith("-offline") and sent.body["card"] == till.read
    (sale,) = _sales(app, sent.client_sale_id)
    assert (sale.offline, sale.amount_fen, sale.method) == (True, 2_000, "card")
    assert _card(app, till.card_id) == ("active", 2, 0)  # not frozen, no alert, the counter where the taps left it
    assert core.sync().sent == [] and len(_sales(app, sent.client_sale_id)) == 1


def test_the_same_read_tapped_at_the_till_after_the_card_moved_on_is_a_clone(app, till):
    core = till.core
    first = _tap_elsewhere(app, till.other_till, till.read)
    _tap_elsewhere(app, till.other_till, _written(till.read, first["card_update"]))
    with pytest.raises(ServerRefused) as refused:
        core.tap_and_pay(2_000)
    assert refused.value.code == "card_stale"
    assert _card(app, till.card_id) == ("frozen", 2, 1)
    assert core.outbox.pending_count() == 0


@pytest.mark.parametrize("identify_first", [False, True])
def test_the_cli_sells_with_the_tap_in_one_request_unless_asked_to_identify_first(
    app, till, monkeypatch, identify_first
):
    built = cli.build_checkout

    def with_the_chip(config, config_path, with_reader=False):
        core = built(config, config_path, with_reader=False)
        core.reader = _Reader()
        chip_on_the_reader(app, core, till.card_id)
        return core

    monkeypatch.setattr(cli, "build_checkout", with_the_chip)
    args = ["--config", str(till.config), "checkout", "--amount", "20", "--card", "--json"]
    result = CliRunner().invoke(cli.main, args + (["--identify-first"] if identify_first else []))
    assert result.exit_code == 0, result.output
    (sent,) = till.front.gate.sales_seen
    if identify_first:  # identified before the sale: the sale carries the identification, not the chip
        assert "identification_token" in sent and "card" not in sent
    else:
        assert "card" in sent and "identification_token" not in sent and sent["offline"] is False
    (sale,) = _sales(app, sent["client_sale_id"])
    assert (sale.method, sale.amount_fen, sale.offline) == ("card", 2_000, False)


class _Reader:
    def close(self) -> None:
        pass
