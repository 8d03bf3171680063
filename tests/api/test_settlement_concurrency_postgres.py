"""Closing one business day from three processes at once on PostgreSQL produces one settlement.

The test holds the settlement lock itself, starts ``jobs run --job close-settlement`` twice and
``settlement close`` once as separate processes (``python -m server.cli``), waits until the two that
got past the job lock are both blocked on the settlement lock, then lets go: exactly one closes the day.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import func, select, text

from server.extensions import db
from server.models import JobRun, Merchant, Settlement, SettlementDay
from server.services import checkout
from server.services.locks import lock_keys
from server.services.settlement import SETTLEMENT_LOCK
from server.services.staff import terminal_for_token
from tests.builders import make_member, make_world
from tests.clock import frozen_clock

pytestmark = pytest.mark.postgres
ROOT = Path(__file__).resolve().parents[2]


def child_env(pg_database) -> dict:
    url = pg_database.url + "?options=" + quote(f"-csearch_path={pg_database.schema}")
    return {**os.environ, "ALLIANCE_ENV": "testing", "DATABASE_URL": url, "PYTHONPATH": str(ROOT)}


def waiting_on_settlement_lock(connection) -> int:
    namespace, key = lock_keys(connection, SETTLEMENT_LOCK)
    return connection.execute(
        text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            " AND classid = :namespace AND objid = :key AND objsubid = 2"
        ),
        {"namespace": namespace, "key": key},
    ).scalar()


def test_three_processes_closing_one_day_make_one_settlement(pg_app, pg_database):
    with pg_app.app_context(), frozen_clock(datetime(2026, 3, 2, 2, tzinfo=UTC)):
        world = make_world()
        _, card = make_member(points=500)
        for shop in (world.shop_a, world.shop_b):
            terminal = terminal_for_token(shop.token)
            found = checkout.identify(terminal, code=card.card_no)
            checkout.record_sale(terminal, identification_token=found.token, amount_fen=10_000, redeem_points=100)
        merchants = db.session.scalar(select(func.count()).select_from(Merchant))
        db.session.remove()

    env = child_env(pg_database)
    commands = [
        ["jobs", "run", "--job", "close-settlement", "--date", "2026-03-02"],
        ["jobs", "run", "--job", "close-settlement", "--date", "2026-03-02"],
        ["settlement", "close", "--date", "2026-03-02"],
    ]
    with pg_app.app_context():
        holder = db.engine.connect()
    try:
        namespace, key = lock_keys(holder, SETTLEMENT_LOCK)
        holder.execute(text("SELECT pg_advisory_lock(:namespace, :key)"), {"namespace": namespace, "key": key})
        holder.commit()
        processes = [
            subprocess.Popen(
                [sys.executable, "-m", "server.cli", *command],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for command in commands
        ]
        deadline = time.monotonic() + 60
        # both `jobs run` race for the job lock: the loser steps aside (exits) while the winner and
        # `settlement close` wait on the settlement lock this test holds
        while waiting_on_settlement_lock(holder) < 2 or all(p.poll() is None for p in processes[:2]):
            assert time.monotonic() < deadline, "the processes never reached the settlement lock"
            time.sleep(0.05)
        holder.execute(text("SELECT pg_advisory_unlock(:namespace, :key)"), {"namespace": namespace, "key": key})
        holder.commit()
        outputs = [process.communicate(timeout=60) for process in processes]
    finally:
        holder.close()

    for process, (_, stderr) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, stderr
    results = [json.loads(stdout.strip().splitlines()[-1]) for stdout, _ in outputs]
    jobs = sorted(result["status"] for result in results[:2])
    assert jobs == ["done", "skipped"], results  # one job run held the job lock, the other stepped aside
    closings = [result["closed_now"] for result in results if "closed_now" in result]
    assert sorted(closings) == [False, True], results  # of the two that reached the day, one closed it
    with pg_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(SettlementDay)) == 1
        assert db.session.scalar(select(func.count()).select_from(Settlement)) == merchants
        assert db.session.scalar(select(func.sum(Settlement.points_accepted))) == 200
        assert sorted(db.session.scalars(select(JobRun.status))) == ["done", "skipped"]
        db.session.remove()
