"""The per-worker copy of the alliance settings the sale reads: fresh at once after a change here, within
the TTL after a change elsewhere."""

from __future__ import annotations

from sqlalchemy import text, update

from server.extensions import db
from server.models import AllianceSettings
from server.services import alliance
from tests.builders import ACTOR, make_world


def test_the_copy_is_read_once_and_is_not_the_row(ctx):
    make_world()
    first = alliance.current_settings()
    assert alliance.current_settings() is first
    assert first not in db.session  # detached: changing it could never write the row
    assert first.name == alliance.get_settings().name


def test_a_change_made_in_this_process_applies_to_the_next_sale_at_once(ctx):
    make_world()
    assert alliance.current_settings().offline_max_sale_fen != 12_300
    alliance.update_settings(ACTOR, offline_max_sale_fen=12_300)
    assert alliance.current_settings().offline_max_sale_fen == 12_300
    alliance.update_points_policy(ACTOR, spend_requires_proof=True)
    assert alliance.current_settings().spend_requires_proof is True


def test_a_change_made_by_another_process_is_seen_within_the_ttl(ctx, monkeypatch):
    make_world()
    clock = [1_000.0]
    monkeypatch.setattr(alliance.time, "monotonic", lambda: clock[0])
    before = alliance.current_settings().point_value_fen
    db.session.commit()
    with db.engine.begin() as other:  # not through this session: no event here, as in another worker
        other.execute(update(AllianceSettings).values(point_value_fen=before + 1))
    assert alliance.current_settings().point_value_fen == before  # the copy, still within the TTL
    clock[0] += alliance.SETTINGS_TTL_SECONDS
    db.session.expire_all()
    assert alliance.current_settings().point_value_fen == before + 1


def test_a_rolled_back_change_leaves_the_settings_as_they_were(ctx):
    make_world()
    name = alliance.current_settings().name
    alliance.get_settings().name = "改了又撤回"
    db.session.flush()
    db.session.rollback()
    assert alliance.current_settings().name == name
    assert db.session.execute(text("SELECT name FROM alliance_settings")).scalar_one() == name
