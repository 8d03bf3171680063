"""Advisory locks are per schema: a lock held by another alliance (or test run) in the same database
does not block this one, the same lock in this schema does."""

from __future__ import annotations

import secrets
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, select, text

from server.extensions import db
from server.models import JobRun
from server.services.alliance import ensure_alliance
from server.services.jobs import run_job
from server.services.locks import lock_keys

pytestmark = pytest.mark.postgres


@contextmanager
def holding(url: str, schema: str, name: str):
    """Hold advisory lock ``name`` as a worker connected to ``schema`` would, until the block ends."""
    engine = create_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        with engine.connect() as connection:
            namespace, key = lock_keys(connection, name)
            keys = {"namespace": namespace, "key": key}
            assert connection.scalar(text("SELECT pg_try_advisory_lock(:namespace, :key)"), keys)
            connection.commit()
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:namespace, :key)"), keys)
                connection.commit()
    finally:
        engine.dispose()


@contextmanager
def other_schema(url: str):
    """A second, empty schema in the same database (another alliance or another test run)."""
    name = f"t_other_{secrets.token_hex(5)}"
    admin = create_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{name}"'))
    try:
        yield name
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
        admin.dispose()


def test_a_job_lock_held_in_another_schema_does_not_block_the_job_here(pg_app, pg_database):
    with pg_app.app_context():
        ensure_alliance()
        db.session.remove()
    with other_schema(pg_database.url) as elsewhere:
        with holding(pg_database.url, elsewhere, "job:expire-points"), pg_app.app_context():
            assert run_job("expire-points").status == "done"
            db.session.remove()
        with holding(pg_database.url, pg_database.schema, "job:expire-points"), pg_app.app_context():
            skipped = run_job("expire-points")
            assert (skipped.status, skipped.summary) == ("skipped", {"reason": "running in another worker"})
            assert list(db.session.scalars(select(JobRun.status).order_by(JobRun.id))) == ["done", "skipped"]
            db.session.remove()


def test_lock_keys_depend_on_the_schema_and_the_lock_name(pg_app, pg_database):
    with other_schema(pg_database.url) as elsewhere, pg_app.app_context():
        here = lock_keys(db.session, "settlement")
        engine = create_engine(pg_database.url, connect_args={"options": f"-csearch_path={elsewhere}"})
        with engine.connect() as connection:
            there = lock_keys(connection, "settlement")
        engine.dispose()
        assert here[1] == there[1] and here[0] != there[0]
        assert lock_keys(db.session, "job:expire-points")[0] == here[0]
        assert lock_keys(db.session, "job:expire-points")[1] != here[1]
        db.session.remove()
