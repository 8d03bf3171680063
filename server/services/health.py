"""What readiness and the metrics read from the database: reachability, replica lag, outbox backlogs, job runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from flask import current_app
from sqlalchemy import func, select, text

from server.domain.statuses import JobRunStatus, SmsStatus, WebhookDeliveryStatus
from server.extensions import db
from server.models import JobRun, SmsMessage, WebhookDelivery
from server.models.base import utcnow
from server.replica import replica_engine, replica_lag_seconds


@dataclass(frozen=True)
class Check:
    """One part of readiness: its name, whether it is fine, and what was seen (no secrets, no addresses)."""

    name: str
    ok: bool
    detail: str


def readiness() -> list[Check]:
    """The database, the replica's lag (when one is configured) and Redis (when the rate limits use it)."""
    checks = [_database()]
    if replica_engine() is not None:
        checks.append(_replica())
    storage = current_app.config["RATELIMIT_STORAGE_URI"]
    if storage.startswith(("redis://", "rediss://", "redis+unix://")):
        checks.append(_redis(storage))
    return checks


def _database() -> Check:
    try:
        with db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
        return Check("database", False, exc.__class__.__name__)
    return Check("database", True, "reachable")


def _replica() -> Check:
    limit = current_app.config["REPLICA_MAX_LAG_SECONDS"]
    try:
        lag = replica_lag_seconds()
    except Exception as exc:  # noqa: BLE001
        return Check("replica", False, exc.__class__.__name__)
    if lag is None:
        return Check("replica", True, "reachable, lag unknown (not in recovery)")
    return Check("replica", lag <= limit, f"lag {lag:.1f} s (limit {limit} s)")


def _redis(url: str) -> Check:
    import redis

    try:
        client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        client.ping()
        client.close()
    except Exception as exc:  # noqa: BLE001
        return Check("redis", False, exc.__class__.__name__)
    return Check("redis", True, "reachable")


@dataclass(frozen=True)
class Backlog:
    """Messages waiting in one outbox and the age of the oldest (0 when empty)."""

    outbox: str
    waiting: int
    oldest_age_seconds: float


def outbox_backlogs(now: datetime | None = None) -> list[Backlog]:
    """The SMS outbox (pending texts) and the webhook outbox (pending deliveries)."""
    now = now or utcnow()
    rows = []
    for name, model, pending in (
        ("sms", SmsMessage, SmsStatus.PENDING),
        ("webhooks", WebhookDelivery, WebhookDeliveryStatus.PENDING),
    ):
        waiting, oldest = db.session.execute(
            select(func.count(), func.min(model.created_at)).where(model.status == pending)
        ).one()
        rows.append(Backlog(name, waiting, _age(now, oldest)))
    return rows


def job_last_successes() -> dict[str, datetime]:
    """Each job's last run that ended ``done``."""
    rows = db.session.execute(
        select(JobRun.job, func.max(JobRun.finished_at)).where(JobRun.status == JobRunStatus.DONE).group_by(JobRun.job)
    )
    return {job: _aware(finished) for job, finished in rows}


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # SQLite hands back naive UTC


def _age(now: datetime, oldest: datetime | None) -> float:
    return 0.0 if oldest is None else max(0.0, (now - _aware(oldest)).total_seconds())
