"""The per-worker copy of the alliance settings the sale reads: current at the next transaction after a
change committed here or in any other worker (server/services/worker_copies.py)."""

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


def test_a_change_committed_by_another_worker_applies_to_the_next_transaction(ctx, database):
    make_world()
    before = alliance.current_settings().point_value_fen
    db.session.commit()
    with db.engine.begin() as other:  # not through the ORM and the version unchanged: the copy holds
        other.execute(update(AllianceSettings).values(point_value_fen=before + 1))
    assert alliance.current_settings().point_value_fen == before
    db.session.commit()
    with database.make_app().app_context():  # another worker changes the settings through the services
        alliance.update_settings(ACTOR, offline_max_sale_fen=45_600)
    assert alliance.current_settings().offline_max_sale_fen == 45_600  # at the next transaction here
    assert alliance.current_settings().point_value_fen == before + 1
    assert alliance.current_settings() is alliance.current_settings()


def test_a_rolled_back_change_leaves_the_settings_as_they_were(ctx):
    make_world()
    name = alliance.current_settings().name
    alliance.get_settings().name = "改了又撤回"
    db.session.flush()
    db.session.rollback()
    assert alliance.current_settings().name == name
    assert db.session.execute(text("SELECT name FROM alliance_settings")).scalar_one() == name
