"""Evaluating one month from several workers at once on PostgreSQL gives one record per agent and period."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, text

from server.extensions import db
from server.models import AgentEvaluation
from server.services import agents, catalog, checkout
from server.services.agent_evaluation import LOCK_NAME, evaluate_agents
from server.services.locks import lock_keys
from tests.builders import ACTOR, make_member, make_world, next_phone
from tests.clock import frozen_clock

pytestmark = pytest.mark.postgres
NOW = datetime(2026, 12, 2, tzinfo=UTC)


def waiting(connection) -> int:
    namespace, key = lock_keys(connection, LOCK_NAME)
    return connection.execute(
        text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            " AND classid = :namespace AND objid = :key AND objsubid = 2"
        ),
        {"namespace": namespace, "key": key},
    ).scalar()


def test_three_workers_evaluating_one_month_write_each_record_once(pg_app):
    with pg_app.app_context():
        world = make_world()
        ids = []
        for index in range(4):
            agent = agents.create_agent(ACTOR, kind="person", name=f"代理{index}", phone=next_phone())
            agents.update_agent(ACTOR, agent.id, status="active", status_reason="签约")
            ids.append(agent.id)
        catalog.update_merchant(ACTOR, world.shop_a.merchant.id, agent_id=ids[0])
        _, card = make_member()
        with frozen_clock(datetime(2026, 11, 3, 4, tzinfo=UTC)):
            found = checkout.identify(world.shop_a.terminal, code=card.card_no)
            checkout.record_sale(world.shop_a.terminal, identification_token=found.token, amount_fen=5_000)
        holder = db.engine.connect()
        db.session.remove()
    results, errors = [], []

    def worker():
        try:
            with pg_app.app_context():
                results.append(evaluate_agents(ACTOR, "2026-11", now=NOW))
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
    assert sorted(result["evaluated"] for result in results) == [0, 0, 4]
    with pg_app.app_context():
        per_agent = db.session.execute(
            select(AgentEvaluation.agent_id, func.count()).group_by(AgentEvaluation.agent_id)
        ).all()
        assert sorted(count for _, count in per_agent) == [1, 1, 1, 1]
        db.session.remove()
