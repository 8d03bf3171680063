"""Prometheus metrics (``prometheus_client``): what is counted, and the scrape of ``/metrics``.

Counters and histograms live in the process that counts them. Under gunicorn, ``PROMETHEUS_MULTIPROC_DIR``
(set before the workers start, see deploy/gunicorn.conf.py) makes every worker write its values to files
there, and a scrape adds up all workers' files; a worker that exits is marked dead by the ``child_exit``
hook. Figures that live in the database (outbox backlogs, job runs) are read at scrape time, so every
app instance reports the same truth and nothing needs to be kept in step.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric

from server.domain.errors import DomainError

REQUEST_SECONDS = Histogram(
    "alliance_request_duration_seconds",
    "Time to answer a request, by Flask endpoint (never the raw path) and method.",
    ["endpoint", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
SALES = Counter("alliance_sales", "Sales recorded (committed).")
SALES_FEN = Counter("alliance_sales_amount_fen", "Amount of the sales recorded, in fen, before discount and points.")
REFUNDS = Counter("alliance_refunds", "Refunds recorded (committed).")
REFUNDS_FEN = Counter("alliance_refunds_amount_fen", "Amount refunded, in fen.")
IDENTIFICATION_FAILURES = Counter(
    "alliance_identification_failures", "Identifications refused at a terminal, by error code.", ["code"]
)

_PENDING = "alliance_metrics_pending"
_ON_COMMIT = {"sale": (SALES, SALES_FEN), "refund": (REFUNDS, REFUNDS_FEN)}


def count_on_commit(session, kind: str, amount_fen: int) -> None:
    """Count a sale or refund when (and only if) the session's transaction commits."""
    session.info.setdefault(_PENDING, []).append((kind, amount_fen))


def install_session_counting(session_factory) -> None:
    """Commit turns the pending counts into counter increments; a rollback forgets them."""
    from sqlalchemy import event

    if getattr(session_factory, "_alliance_counting", False):
        return

    @event.listens_for(session_factory, "after_commit")
    def after_commit(session):
        for kind, amount_fen in session.info.pop(_PENDING, ()):
            count, amount = _ON_COMMIT[kind]
            count.inc()
            amount.inc(amount_fen)

    @event.listens_for(session_factory, "after_rollback")
    def after_rollback(session):
        session.info.pop(_PENDING, None)

    session_factory._alliance_counting = True


def counts_identification_failures(func):
    """Count a refused identification by its error code (the refusal itself goes on unchanged)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except DomainError as exc:
            IDENTIFICATION_FAILURES.labels(code=exc.code).inc()
            raise

    return wrapper


class DatabaseFigures:
    """Outbox backlogs and job last successes, read from the database at each scrape."""

    def collect(self) -> Iterable[Metric]:
        from server.services.health import job_last_successes, outbox_backlogs

        backlog = GaugeMetricFamily("alliance_outbox_backlog", "Messages waiting in an outbox.", labels=["outbox"])
        age = GaugeMetricFamily(
            "alliance_outbox_oldest_age_seconds", "Age of the oldest waiting message (0: none).", labels=["outbox"]
        )
        for row in outbox_backlogs():
            backlog.add_metric([row.outbox], row.waiting)
            age.add_metric([row.outbox], row.oldest_age_seconds)
        jobs = GaugeMetricFamily(
            "alliance_job_last_success_timestamp_seconds", "When a job last ended done (Unix time).", labels=["job"]
        )
        for job, finished in sorted(job_last_successes().items()):
            jobs.add_metric([job], finished.timestamp())
        yield from (backlog, age, jobs)


class _Scrape:
    """The process's (or all gunicorn workers') metrics followed by the database figures."""

    def __init__(self, *sources):
        self.sources = sources

    def collect(self) -> Iterable[Metric]:
        for source in self.sources:
            yield from source.collect()


def process_metrics():
    """This process's registry, or every worker's files in multiprocess mode."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return REGISTRY
    from prometheus_client import multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=directory)
    return registry


def render() -> tuple[bytes, str]:
    """The scrape's body and content type."""
    return generate_latest(_Scrape(process_metrics(), DatabaseFigures())), CONTENT_TYPE_LATEST


def mark_worker_dead(pid: int) -> None:
    """gunicorn's ``child_exit`` hook: a dead worker's live gauges stop counting (multiprocess mode)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)
