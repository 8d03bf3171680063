"""The anti-brushing scan from several workers at once on PostgreSQL stores each flag once."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from server.extensions import db
from server.models import BrushingFlag, BrushingFlagSale
from server.services import checkout
from server.services.brushing import LOCK_NAME, detect_brushing
from server.services.locks import lock_keys
from tests.builders import ACTOR, make_member, make_world
from tests.clock import frozen_clock

pytestmark = pytest.mark.postgres
DAY = datetime(2026, 11, 5, 4, tzinfo=UTC)
NOW = datetime(2026, 11, 6, 4, tzinfo=UTC)


def waiting(connection) -> int:
    namespace, key = lock_keys(connection, LOCK_NAME)
    return connection.execute(
        text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            " AND classid = :namespace AND objid = :key AND objsubid = 2"
        ),
        {"namespace": namespace, "key": key},
    ).scalar()


def test_three_workers_scanning_at_once_write_each_flag_once(pg_app):
    with pg_app.app_context():
        world = make_world()
        for _ in range(2):
            _, card = make_member()
            for minute in range(4):
                with frozen_clock(DAY + timedelta(minutes=2 * minute)):
                    found = checkout.identify(world.shop_a.terminal, code=card.card_no)
                    checkout.record_sale(world.shop_a.terminal, identification_token=found.token, amount_fen=1_111)
        holder = db.engine.connect()
        db.session.remove()
    results, errors = [], []

    def worker():
        try:
            with pg_app.app_context():
                results.append(detect_brushing(ACTOR, NOW.date(), now=NOW))
                db.session.remove()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    try:
        namespace, key = lock_keys(holder, LOCK_NAME)
        holder.execute(text("SELECT pg_advisory_lock(:namespace, :key)"), {"namespace": namespace, "key": key})
        holder.commit()
        threads = [threading.Thread(target=worker) for _ in range(3)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 30
        while waiting(holder) < 3 and time.monotonic() < deadline:
            holder.commit()
            time.sleep(0.05)
        assert waiting(holder) == 3
        holder.execute(text("SELECT pg_advisory_unlock(:namespace, :key)"), {"namespace": namespace, "key": key})
        holder.commit()
        for thread in threads:
            thread.join(60)
    finally:
        holder.close()
    assert not errors
    assert sorted(result["flagged"] for result in results) == [0, 0, 2]
    with pg_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(BrushingFlag)) == 2
        assert db.session.scalar(select(func.count()).select_from(BrushingFlagSale)) == 8
        db.session.remove()
