"""The purge-identifications job: expired identifications go once no sale, not even an offline replay, needs them."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from server.extensions import db
from server.models import Identification
from server.models.base import utcnow
from server.services.identifications import purge_expired_identifications, retention
from server.services.jobs import run_job
from tests.builders import make_member, make_world


def _identification(member, terminal, token_hash: str, expired_hours_ago: float) -> None:
    expires_at = utcnow() - timedelta(hours=expired_hours_ago)
    db.session.add(
        Identification(
            token_hash=token_hash,
            member_id=member.id,
            terminal_id=terminal.id,
            method="code",
            expires_at=expires_at,
            created_at=expires_at - timedelta(minutes=5),
        )
    )


def test_purge_deletes_only_identifications_past_the_retention(app, ctx):
    app.config["IDENTIFICATION_RETENTION_HOURS"] = 48
    terminal = make_world().shop_a.terminal
    member, _ = make_member()
    _identification(member, terminal, "old", 49)
    _identification(member, terminal, "kept", 47)
    _identification(member, terminal, "live", -0.05)
    db.session.commit()
    assert run_job("purge-identifications").summary == {"deleted": 1}
    assert sorted(db.session.scalars(select(Identification.token_hash))) == ["kept", "live"]


def test_retention_never_shorter_than_the_offline_replay_window(app, ctx):
    app.config["IDENTIFICATION_RETENTION_HOURS"] = 1  # an offline sale may be replayed 24 h after
    terminal = make_world().shop_a.terminal
    member, _ = make_member()
    _identification(member, terminal, "replayable", 20)
    db.session.commit()
    assert retention() >= timedelta(hours=24)
    assert purge_expired_identifications() == 0
    app.config["IDENTIFICATION_RETENTION_HOURS"] = 48
