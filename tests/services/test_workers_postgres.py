"""Background work across nodes on PostgreSQL: two workers at the same moment do a scheduled job once and
send each outbox message once (server/services/workers.py, server/services/jobs.py)."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import pytest
from sqlalchemy import select

from server.domain.statuses import SmsStatus
from server.extensions import db
from server.models import JobRun, SmsMessage
from server.notifications.sms import queue_sms
from server.services import jobs
from server.services.alliance import ensure_alliance
from server.services.unit_of_work import transaction
from server.services.workers import run_worker

pytestmark = pytest.mark.postgres


def test_two_nodes_running_the_same_job_at_once_do_its_work_once(pg_app, monkeypatch):
    real = jobs.JOBS["expire-points"]
    calls, working, second_done = [], threading.Event(), threading.Event()

    def slow_expire(day):  # the first node is still at work when the second one starts the same job
        calls.append(day)
        working.set()
        assert second_done.wait(30)
        return real.run(day)

    monkeypatch.setitem(jobs.JOBS, "expire-points", replace(real, run=slow_expire))
    with pg_app.app_context():
        ensure_alliance()
        db.session.remove()
    outcomes = {}

    def node(name: str) -> None:
        with pg_app.app_context():
            outcomes[name] = jobs.run_job("expire-points")
            db.session.remove()

    first = threading.Thread(target=node, args=("first",))
    first.start()
    assert working.wait(30)
    node("second")
    second_done.set()
    first.join(30)
    assert (outcomes["first"].status, outcomes["second"].status) == ("done", "skipped")
    assert len(calls) == 1
    with pg_app.app_context():
        runs = db.session.scalars(select(JobRun.status).where(JobRun.job == "expire-points").order_by(JobRun.id))
        assert list(runs)[-2:] == ["skipped", "done"]  # the second node logged its skip before the first finished
        db.session.remove()


class SlowSender:
    """An SMS provider that takes a moment per message and remembers every phone it was asked to text."""

    name = "test"

    def __init__(self):
        self.phones, self.lock = [], threading.Lock()

    def send(self, phone: str, text: str) -> str:
        time.sleep(0.005)
        with self.lock:
            self.phones.append(phone)
        return "ok"


def test_two_outbox_workers_send_each_message_once(pg_app, monkeypatch):
    with pg_app.app_context(), transaction():
        ensure_alliance()
        ids = [
            queue_sms(
                f"1370000{index:04d}",
                "points_spent",
                alliance="联盟",
                merchant="店",
                points=1,
                value="0.01",
                balance=index,
            ).id
            for index in range(40)
        ]
    sender = SlowSender()
    monkeypatch.setattr("server.notifications.sms.configured_sender", lambda: sender)
    stop = threading.Event()
    workers = [
        threading.Thread(target=run_worker, args=(pg_app, "outbox", 0.05, stop), kwargs={"rounds": 4}) for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    mine = [phone for phone in sender.phones if phone.startswith("1370000")]
    assert sorted(mine) == sorted(f"1370000{index:04d}" for index in range(40))  # each once, none lost
    with pg_app.app_context():
        statuses = db.session.scalars(select(SmsMessage.status).where(SmsMessage.id.in_(ids)))
        assert set(statuses) == {SmsStatus.SENT}
        db.session.remove()
