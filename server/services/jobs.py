"""Background jobs for cron (`alliance-server jobs run`) and the optional in-process scheduler.

Each job is safe to run twice and from two workers at once: its work is idempotent (expired lots hold
nothing more to expire, notified lots are marked, a closed day stays closed, an SMS is taken under a
row lock) and the jobs that change points or settlements run in one transaction holding a database
lock — a PostgreSQL advisory transaction lock per job and schema (a second worker skips), on SQLite the writer
lock of BEGIN IMMEDIATE. Every run is logged in ``job_runs``.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from server.domain.errors import Conflict
from server.domain.statuses import JobRunStatus
from server.extensions import db
from server.models import JobRun
from server.models.base import utcnow
from server.services import locks, points, settlement
from server.services.unit_of_work import transaction

log = logging.getLogger(__name__)
ACTOR = "system:jobs"


@dataclass(frozen=True)
class JobOutcome:
    """What one run of a job did: ``done``, ``skipped`` (another worker holds it, or nothing due) or ``failed``."""

    job: str
    run_date: date
    status: str
    summary: dict


def _expire_points(day: date) -> dict:
    return points.expire_points(ACTOR, day)


def _notify_expiring(day: date) -> dict:
    return points.notify_expiring(day)


def _close_settlement(day: date) -> dict:
    # every day still open through ``day`` (days missed while the job did not run get closed too)
    closed = settlement.close_through(ACTOR, day)
    return {"through": day.isoformat(), "closed_now": day in closed, "closed_days": [d.isoformat() for d in closed]}


def _dispatch_sms(day: date) -> dict:
    from server.notifications.sms import dispatch_pending

    return {"sent": dispatch_pending()}


def _deliver_webhooks(day: date) -> dict:
    from server.services.webhooks import deliver_pending

    return deliver_pending()


def _purge_idempotency_keys(day: date) -> dict:
    from server.services.idempotency import purge_expired_keys

    return {"deleted": purge_expired_keys()}


def _purge_identifications(day: date) -> dict:
    from server.services.identifications import purge_expired_identifications

    return {"deleted": purge_expired_identifications()}


def _evaluate_agents(day: date) -> dict:
    from server.services.agent_evaluation import evaluate_agents, previous_period_name

    # the month before ``day`` (run daily, it evaluates last month once; later runs add nothing)
    return evaluate_agents(ACTOR, previous_period_name(day))


def _detect_brushing(day: date) -> dict:
    from server.services.brushing import detect_brushing

    # the sales since the first of the month a week before ``day``, to now (idempotent: flags are not repeated)
    return detect_brushing(ACTOR, day)


def _create_partitions(day: date) -> dict:
    from server.services.partitions import ensure_partitions

    return ensure_partitions(day)  # the month of ``day`` and three ahead (PostgreSQL, after the migrations)


def _release_benefit_reservations(day: date) -> dict:
    from server.services.benefit_stock import release_expired_reservations

    return {"released": release_expired_reservations()}


def _expire_benefit_codes(day: date) -> dict:
    from server.services.benefit_stock import expire_codes

    return {"expired": expire_codes(day)}


def _purge_benefit_counters(day: date) -> dict:
    from server.services.benefit_fraud import purge_counters

    return {"deleted": purge_counters()}


def _benefit_stock_alerts(day: date) -> dict:
    from server.services.benefit_alerts import run_stock_alerts

    # low stock, short for the scheduled demand, near expiry: one alert per SKU, kind and week
    return run_stock_alerts(day)


def _benefit_supplier_alerts(day: date) -> dict:
    from server.services.benefit_alerts import run_supplier_alerts

    # suppliers whose codes failed at redemption above the threshold in the window: one alert a month
    return run_supplier_alerts(day)


def _birthday_gifts(day: date) -> dict:
    from server.services.benefit_grants import birthday_gifts

    return birthday_gifts(day)  # once a year per member: the grant's source id is member and year


def _notify_benefits_expiring(day: date) -> dict:
    from server.services.benefit_grants import notify_expiring_benefits, purge_partner_nonces

    return {**notify_expiring_benefits(day), "nonces_purged": purge_partner_nonces()}


@dataclass(frozen=True)
class Job:
    """A job: its function and whether it runs in one transaction under the job lock."""

    run: Callable[[date], dict]
    locked: bool
    default_date: Callable[[], date]


def _today() -> date:
    return points.alliance_today()


JOBS: dict[str, Job] = {  # in the order `jobs run` without --job runs them
    "expire-points": Job(_expire_points, True, _today),
    "notify-expiring": Job(_notify_expiring, True, _today),
    "close-settlement": Job(_close_settlement, True, settlement.last_ended_business_day),
    "release-benefit-reservations": Job(_release_benefit_reservations, True, _today),
    "expire-benefit-codes": Job(_expire_benefit_codes, True, _today),
    "benefit-stock-alerts": Job(_benefit_stock_alerts, True, _today),  # before dispatch-sms: texted in this run
    "benefit-supplier-alerts": Job(_benefit_supplier_alerts, True, _today),
    "birthday-gifts": Job(_birthday_gifts, True, _today),
    "notify-benefits-expiring": Job(_notify_benefits_expiring, True, _today),  # before dispatch-sms
    "dispatch-sms": Job(_dispatch_sms, False, _today),
    "deliver-webhooks": Job(_deliver_webhooks, False, _today),  # row locks (SKIP LOCKED), not the job lock
    "purge-idempotency-keys": Job(_purge_idempotency_keys, False, _today),
    "purge-identifications": Job(_purge_identifications, False, _today),
    "purge-benefit-counters": Job(_purge_benefit_counters, False, _today),  # anti-fraud counts of past days
    "detect-brushing": Job(_detect_brushing, True, _today),
    "evaluate-agents": Job(_evaluate_agents, True, _today),
    "create-partitions": Job(_create_partitions, True, _today),
}


def _job_lock(name: str) -> bool:
    """Take the job's lock for this transaction; False if another worker holds it (PostgreSQL only)."""
    return locks.try_lock(f"job:{name}")  # on SQLite the transaction's BEGIN IMMEDIATE is the lock


def _worker() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def run_job(name: str, run_date: date | None = None) -> JobOutcome:
    """Run one job for ``run_date`` (its default: today, or yesterday's business day for settlement)."""
    job = JOBS[name]
    started = utcnow()
    run_date = run_date or job.default_date()
    status, summary = JobRunStatus.DONE, {}
    try:
        if job.locked:
            with transaction():
                if _job_lock(name):
                    summary = job.run(run_date)
                else:
                    status, summary = JobRunStatus.SKIPPED, {"reason": "running in another worker"}
                _log_run(name, run_date, status, summary, started)
        else:
            summary = job.run(run_date)
            with transaction():
                _log_run(name, run_date, status, summary, started)
    except Conflict as exc:  # e.g. the business day has not ended: nothing due yet
        db.session.rollback()
        status, summary = JobRunStatus.SKIPPED, {"reason": exc.message, **exc.details}
        with transaction():
            _log_run(name, run_date, status, summary, started)
    except Exception as exc:
        db.session.rollback()
        with transaction():
            _log_run(name, run_date, JobRunStatus.FAILED, {"error": f"{exc.__class__.__name__}: {exc}"}, started)
        raise
    return JobOutcome(name, run_date, status, summary)


def _log_run(name: str, run_date: date, status: str, summary: dict, started) -> None:
    db.session.add(
        JobRun(
            job=name,
            run_date=run_date,
            status=status,
            summary=json.dumps(summary, ensure_ascii=False, default=str),
            worker=_worker()[:80],
            started_at=started,
            finished_at=utcnow(),
        )
    )


class Scheduler(threading.Thread):
    """Runs every job every ``interval_seconds`` in a daemon thread of this process until stopped."""

    def __init__(self, app, interval_seconds: float):
        super().__init__(name="alliance-jobs", daemon=True)
        self.app, self.interval_seconds = app, interval_seconds
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.interval_seconds):
            with self.app.app_context():
                for name in JOBS:
                    try:
                        run_job(name)
                    except Exception:  # logged in job_runs as failed; the next round retries
                        log.exception("job %s failed", name)
                db.session.remove()

    def stop(self, timeout: float = 10) -> None:
        """Stop after the round in progress."""
        self.stopped.set()
        self.join(timeout)


def start_scheduler(app, interval_seconds: float) -> Scheduler:
    """Start the in-process scheduler (``JOBS_SCHEDULER=1``; off by default: cron runs ``jobs run``)."""
    scheduler = Scheduler(app, interval_seconds)
    scheduler.start()
    return scheduler
