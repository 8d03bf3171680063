"""Long-running background workers: ``alliance-server worker --kind jobs|outbox``.

Any number of each may run, on any host, against the same PostgreSQL:

- an **outbox** worker drains the durable outboxes: pending SMS (``sms_messages``) and due webhook
  deliveries (``webhook_deliveries``). Each message is taken under a row lock with ``FOR UPDATE SKIP
  LOCKED`` and marked sent in the transaction that holds the lock, so two workers never send the same
  message; a worker killed while a message is out leaves it pending (its lock dies with its connection)
  and another worker sends it. When there was nothing to send it sleeps ``interval`` seconds.
- a **jobs** worker is the scheduler: every ``interval`` seconds it runs every job of
  ``server.services.jobs.JOBS`` for its default date. A job that changes points or settlements runs under
  its PostgreSQL advisory lock (a second node running it at the same moment skips it) and its work is
  idempotent per period (a closed day stays closed, expired lots hold nothing more to expire), so however
  many nodes run the scheduler each period's work is done once.

SIGTERM or SIGINT (systemd's stop, Ctrl-C) ends a worker cleanly: the message or job in progress is
finished and committed, then the loop returns.
"""

from __future__ import annotations

import logging
import signal
import threading

from server.extensions import db

log = logging.getLogger(__name__)
KINDS = ("jobs", "outbox")
OUTBOX_BATCH = 20  # messages per round: a stop request waits at most for one round


def drain_outbox(batch: int = OUTBOX_BATCH) -> dict:
    """One round of the outbox worker: pending SMS and due webhook deliveries; what it did."""
    from server.notifications.sms import dispatch_pending
    from server.services.webhooks import deliver_pending

    sent = dispatch_pending(limit=batch)
    counts = deliver_pending(limit=batch)
    return {"sms_sent": sent, **{f"webhooks_{name}": count for name, count in counts.items()}}


def run_all_jobs() -> dict:
    """One round of the jobs worker: every job once, in order; each job's status."""
    from server.services.jobs import JOBS, run_job

    statuses = {}
    for name in JOBS:
        try:
            statuses[name] = run_job(name).status
        except Exception:  # logged in job_runs as failed; the next round retries
            log.exception("job %s failed", name)
            statuses[name] = "failed"
        finally:
            db.session.remove()
    return statuses


def run_worker(app, kind: str, interval: float, stop: threading.Event, rounds: int | None = None) -> int:
    """Run ``kind``'s rounds until ``stop`` is set (or ``rounds`` rounds were run); how many rounds ran."""
    if kind not in KINDS:
        raise ValueError(f"unknown worker kind {kind!r}; known: {', '.join(KINDS)}")
    done = 0
    while not stop.is_set() and (rounds is None or done < rounds):
        with app.app_context():
            try:
                if kind == "outbox":
                    outcome = drain_outbox()
                    busy = any(outcome.values())
                else:
                    outcome, busy = run_all_jobs(), False
            except Exception:  # e.g. the database restarting: keep the worker, try again after the interval
                log.exception("%s worker round failed", kind)
                outcome, busy = {}, False
            finally:
                db.session.remove()
        done += 1
        if busy:
            log.info("%s worker: %s", kind, outcome)
        else:
            stop.wait(interval)
    return done


def stop_on_signals(stop: threading.Event) -> None:
    """Set ``stop`` on SIGTERM and SIGINT (the round in progress finishes first)."""

    def handler(signum, _frame):
        log.info("worker stopping on signal %s", signum)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
