"""The outbox across `kill -9`: sales queued while the server is away reach it exactly once, in order."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from pos_client.checkout import Checkout
from pos_client.config import PosConfig
from pos_client.outbox import Outbox
from pos_client.terminal import terminal_client
from server.extensions import db
from server.models import Sale
from tests.builders import make_member, make_world
from tests.live_server import live_server
from tests.pos.pos_helpers import FrontServer, wait_until, write_config

ROOT = Path(__file__).resolve().parents[2]


def pos_process(config: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "pos_client.cli", "--config", str(config), *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def kill_when_held(front: FrontServer, process: subprocess.Popen) -> None:
    """kill -9 the POS while the front server holds its POST /sales."""
    assert front.gate.held.wait(30), process.communicate(timeout=5)[0]
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    front.gate.hold_before.clear(), front.gate.hold_after.clear(), front.gate.held.clear()
    front.gate.release.set()


def pending(config: Path) -> int:
    with sqlite3.connect(PosConfig.outbox_path(config)) as outbox:
        return outbox.execute("SELECT count(*) FROM sales WHERE state = 'pending'").fetchone()[0]


def outbox_order(config: Path) -> list[str]:
    with sqlite3.connect(PosConfig.outbox_path(config)) as outbox:
        return [row[0] for row in outbox.execute("SELECT client_sale_id FROM sales ORDER BY seq")]


@pytest.mark.slow
def test_sales_survive_kill_9_and_reach_the_server_once_in_order(app, tmp_path):
    with app.app_context():
        world = make_world()
        _, card = make_member(points=0)
        token, card_no, terminal_id = world.shop_a.token, card.card_no, world.shop_a.terminal.id
    with live_server(app) as upstream:
        front = FrontServer(upstream)
        front.start()
        config = write_config(tmp_path, front.url, token)
        core = Checkout(terminal_client(PosConfig.load(config)), Outbox(PosConfig.outbox_path(config)))
        core.refresh()
        # Three sales whose POST /sales finds the server gone: stored, outcome unknown, queued in order.
        for amount in (1000, 2000, 3000):
            core.identify_code(card_no)
            core.quote(amount)
            front.stop()
            outcome = core.commit(amount)
            assert outcome.status == "unknown"
            front.start()
        assert pending(config) == 3
        core.outbox.close()

        # kill -9 after the server recorded the first replayed sale but before the POS heard back ...
        front.gate.hold_after.set()
        kill_when_held(front, pos_process(config, "sync"))
        # ... and while the next request is on its way, before the server saw it.
        front.gate.hold_before.set()
        kill_when_held(front, pos_process(config, "sync"))
        # A new sale (the queue emptied first) killed after its outbox write, while its request is in flight.
        assert pos_process(config, "sync").wait(60) == 0 and pending(config) == 0
        front.gate.hold_before.set()
        checkout = pos_process(config, "checkout", "--amount", "40.00", "--code", card_no, "--json")
        wait_until(lambda: front.gate.held.is_set() and pending(config) >= 1)
        kill_when_held(front, checkout)
        assert pending(config) == 1

        synced = pos_process(config, "sync")
        output = synced.communicate(timeout=60)[0].decode()
        assert synced.returncode == 0, output
        assert pending(config) == 0
        front.stop()

    with app.app_context():
        sales = db.session.scalars(select(Sale).where(Sale.terminal_id == terminal_id).order_by(Sale.created_at)).all()
        recorded = [(sale.client_sale_id, sale.amount_fen) for sale in sales]
        db.session.remove()
    assert [client_sale_id for client_sale_id, _ in recorded] == outbox_order(config)
    assert [amount for _, amount in recorded] == [1000, 2000, 3000, 4000]
    # the server saw some sales more than once (replays after the kills) and recorded each once
    assert len(front.gate.sales_seen) > 4
