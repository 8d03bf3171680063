"""Expired identifications: deleted once no sale, not even an offline replay, can use them any more."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete

from server.extensions import db
from server.models import Identification
from server.models.base import utcnow
from server.services.alliance import get_settings
from server.services.unit_of_work import transactional

# an offline replay may present an identification this long after it expired (see checkout's clock skew)
REPLAY_MARGIN = timedelta(hours=1)


def retention() -> timedelta:
    """How long an expired identification is kept: the setting, at least the offline replay window."""
    configured = timedelta(hours=current_app.config["IDENTIFICATION_RETENTION_HOURS"])
    return max(configured, timedelta(hours=get_settings().offline_max_age_hours) + REPLAY_MARGIN)


@transactional
def purge_expired_identifications(now: datetime | None = None) -> int:
    """Delete identifications that expired longer than the retention ago; return how many."""
    cutoff = (now or utcnow()) - retention()
    return db.session.execute(
        delete(Identification).where(Identification.expires_at < cutoff).execution_options(synchronize_session=False)
    ).rowcount
