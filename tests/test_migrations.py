"""Alembic migrations: one head, upgrade/downgrade/upgrade on SQLite and PostgreSQL, models == migrations.

These tests build their own apps on fresh databases: the session ``app`` fixture made its schema with
``create_all`` and so says nothing about the migrations.
"""

from __future__ import annotations

import logging
import os
import secrets

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import current_app
from flask_migrate import downgrade, upgrade
from sqlalchemy import Column, Integer, MetaData, create_engine, func, inspect, select, text
from sqlalchemy.exc import IntegrityError

from server import create_app
from server.config import TestingConfig, normalize_database_url
from server.extensions import db
from server.models import Base, JobRun, LedgerAccount, LedgerEntry
from server.models.base import utcnow
from server.services import checkout
from server.services.staff import terminal_for_token
from tests.builders import make_member, make_world
from tests.conftest import _postgres_reachable, postgres_url
from tests.resources import unavailable

VERSION_TABLE = "alembic_version"

# migrations/env.py is Flask-Migrate's template: it tries the deprecated get_engine() first, then .engine
pytestmark = pytest.mark.filterwarnings("ignore:'get_engine' is deprecated:DeprecationWarning")


@pytest.fixture
def keep_logging():
    """env.py runs logging.config.fileConfig, which disables every existing logger; undo that afterwards."""
    manager = logging.root.manager
    disabled = {
        name: logger.disabled for name, logger in manager.loggerDict.items() if isinstance(logger, logging.Logger)
    }
    root_handlers, root_level = list(logging.root.handlers), logging.root.level
    yield
    for name, logger in list(manager.loggerDict.items()):
        if isinstance(logger, logging.Logger):
            logger.disabled = disabled.get(name, False)
    for handler in list(logging.root.handlers):
        if handler not in root_handlers:
            logging.root.removeHandler(handler)
    for handler in root_handlers:
        if handler not in logging.root.handlers:
            logging.root.addHandler(handler)
    logging.root.setLevel(root_level)


def _postgres_target_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    url = normalize_database_url(url) if url.startswith("postgres") else postgres_url()
    if reason := _postgres_reachable(url):
        unavailable(reason)
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def migration_app(request, tmp_path, keep_logging):
    """An app on an empty database (a new SQLite file or a new PostgreSQL schema), schema not created."""
    if request.param == "sqlite":
        app = create_app(
            TestingConfig,
            SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'migrations.db'}",
            SQLALCHEMY_ENGINE_OPTIONS={},
        )
        yield app
        with app.app_context():
            db.engine.dispose()
        return
    url = _postgres_target_url()
    schema = f"t_mig_{secrets.token_hex(5)}"
    admin = create_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        app = create_app(
            TestingConfig,
            SQLALCHEMY_DATABASE_URI=url,
            SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"options": f"-csearch_path={schema}"}},
        )
        yield app
        with app.app_context():
            db.engine.dispose()
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def script_directory() -> ScriptDirectory:
    return ScriptDirectory.from_config(current_app.extensions["migrate"].migrate.get_config())


def current_revision() -> str | None:
    with db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def partitions() -> set[str]:
    """PostgreSQL's partitions of a partitioned table (the monthly entry partitions): part of their parent."""
    if db.engine.dialect.name != "postgresql":
        return set()
    with db.engine.connect() as connection:
        found = connection.execute(
            text("SELECT relname FROM pg_class WHERE relispartition AND relnamespace = current_schema()::regnamespace")
        )
        return set(found.scalars())


def table_names() -> set[str]:
    return set(inspect(db.engine).get_table_names()) - partitions()


def schema_differences(metadata: MetaData = Base.metadata) -> list:
    """What autogenerate would put in a new migration (empty when models and migrations agree)."""
    with db.engine.connect() as connection:
        parts = partitions()
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "compare_server_default": False,
                "render_as_batch": True,
                "include_object": lambda obj, name, kind, reflected, _compare_to: (
                    not (kind == "table" and reflected and name in parts)
                ),
            },
        )
        return compare_metadata(context, metadata)


def test_there_is_exactly_one_head(keep_logging):
    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI="sqlite://", SQLALCHEMY_ENGINE_OPTIONS={})
    with app.app_context():
        scripts = script_directory()
        heads = scripts.get_heads()
        assert len(heads) == 1, f"several heads, merge them: {heads}"
        assert len(scripts.get_bases()) == 1
        # every revision file lies on the one line from the base to the head
        walked = [revision.revision for revision in scripts.walk_revisions("base", "heads")]
        files = [name for name in os.listdir(os.path.join(scripts.dir, "versions")) if name.endswith(".py")]
        assert len(walked) == len(set(walked)) == len(files)


def test_upgrade_downgrade_upgrade_and_models_match(migration_app):
    expected_tables = {table.name for table in Base.metadata.sorted_tables}
    with migration_app.app_context():
        head = script_directory().get_current_head()
        assert table_names() == set()

        upgrade()
        assert current_revision() == head
        assert table_names() == expected_tables | {VERSION_TABLE}

        downgrade(revision="base")
        assert current_revision() is None
        assert table_names() <= {VERSION_TABLE}

        upgrade()
        assert current_revision() == head
        assert table_names() == expected_tables | {VERSION_TABLE}

        differences = schema_differences()
        assert differences == [], f"models and migrations disagree; autogenerate would emit: {differences}"

        # the comparison does see a model change that no migration made
        altered = MetaData(naming_convention=Base.metadata.naming_convention)
        for table in Base.metadata.sorted_tables:
            table.to_metadata(altered)
        altered.tables["sales"].append_column(Column("tip_fen", Integer, nullable=True))
        assert [(diff[0], diff[3].name) for diff in schema_differences(altered)] == [("add_column", "tip_fen")]


def test_migrated_schema_runs_the_services(migration_app):
    """Defaults, constraints and sequences made by the migrations (not by create_all) work for a sale."""
    with migration_app.app_context():
        upgrade()
        world = make_world()
        member, card = make_member(points=300)
        terminal = terminal_for_token(world.shop_a.token)
        found = checkout.identify(terminal, code=card.card_no)
        result = checkout.record_sale(terminal, identification_token=found.token, amount_fen=10_000, redeem_points=100)
        assert result.points_balance == 300 - 100 + 99  # 1% of the 9 900 fen paid in money
        assert db.session.scalar(select(func.sum(LedgerAccount.balance))) == 0
        assert db.session.scalar(select(func.sum(LedgerEntry.amount))) == 0
        db.session.remove()


def test_every_revision_step_keeps_existing_data(migration_app):
    """Down across every revision and back up with the demo alliance in the tables (SQLite rebuilds tables
    that other rows reference, so its foreign-key checks must wait until the migration is done)."""
    from server.services.demo import seed_demo

    with migration_app.app_context():
        upgrade()
        seed_demo()
        db.session.remove()
        before = {
            name: db.session.scalar(select(func.count()).select_from(Base.metadata.tables[name]))
            for name in ("members", "cards", "sales", "ledger_entries")
        }
        db.session.remove()
        # down one revision at a time to the first, then up again: every downgrade and every upgrade runs
        # once with the data as the revisions before it left it
        first = [revision.revision for revision in script_directory().walk_revisions("base", "heads")][-1]
        downgrade(revision=first)
        upgrade()
        db.session.remove()
        after = {
            name: db.session.scalar(select(func.count()).select_from(Base.metadata.tables[name])) for name in before
        }
        db.session.remove()
        assert after == before and before["sales"] > 0
        if db.engine.dialect.name == "sqlite":
            with db.engine.connect() as connection:
                assert connection.exec_driver_sql("PRAGMA foreign_key_check").all() == []
                assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        db.session.remove()


def test_the_lots_migration_opens_a_lot_for_every_existing_balance(migration_app):
    """Down to before lots existed and back up with demo data: open lots sum to member balances again."""
    from server.models import PointsLot
    from server.services.demo import seed_demo
    from server.services.points import lot_mismatches

    with migration_app.app_context():
        upgrade()
        seed_demo()
        db.session.remove()
        downgrade(revision="7040eb4a2493")
        upgrade()
        assert lot_mismatches() == []
        sources = db.session.scalars(select(PointsLot.source).distinct()).all()
        assert sources == ["opening"]
        holders = db.session.scalar(
            select(func.count()).where(LedgerAccount.kind == "member_points", LedgerAccount.balance > 0)
        )
        assert db.session.scalar(select(func.count()).select_from(PointsLot)) == holders == 5  # the demo's buyers
        db.session.remove()


def test_the_database_refuses_a_status_outside_its_lifecycle(migration_app):
    """The migrations' CHECK constraints: a status that is not one of its enum's values is refused."""
    from server.services.demo import seed_demo

    with migration_app.app_context():
        upgrade()
        seed_demo()
        db.session.remove()
        job_run = {"job": "expire", "run_date": utcnow().date(), "started_at": utcnow(), "finished_at": utcnow()}
        with db.engine.begin() as connection:
            connection.execute(JobRun.__table__.insert().values(status="done", **job_run))
        with db.engine.connect() as connection, pytest.raises(IntegrityError, match="status"):
            connection.execute(JobRun.__table__.insert().values(status="finished", **job_run))
        refused = set()
        for table in Base.metadata.sorted_tables:
            column = next((name for name in ("status", "state") if name in table.c), None)
            if column is None:
                continue
            with db.engine.connect() as connection:
                if not connection.scalar(select(func.count()).select_from(table)):
                    continue
                with pytest.raises(IntegrityError, match=column):
                    connection.execute(table.update().values({column: "paused"}))
                refused.add(table.name)
        assert {"cards", "members", "merchants", "terminals", "staff_users", "job_runs"} <= refused
        assert db.session.scalar(select(func.count()).select_from(JobRun)) == 1
        db.session.remove()


def test_the_sms_secrets_migration_masks_codes_already_stored_in_clear(migration_app):
    """Codes the outbox kept in clear before sealing existed are masked; an unsent one will never be sent."""
    from server.models import SmsMessage

    with migration_app.app_context():
        upgrade(revision="00317baa860d")
        with db.engine.begin() as connection:
            for status, text_ in (
                ("sent", "【幸福街】您的验证码是368852，5分钟内有效。"),
                ("pending", "【幸福街】您的验证码是901234，5分钟内有效。"),
                ("sent", "【幸福街】您有120积分将于2026-02-10后过期，请及时在联盟商家使用。"),
            ):
                connection.execute(
                    text(
                        "INSERT INTO sms_messages (phone_ciphertext, phone_hash, phone_masked, template, text, status,"
                        " attempts, created_at) VALUES (:blob, 'h', '138****8000', 't', :text, :status, 0, :at)"
                    ),
                    {"blob": b"x", "text": text_, "status": status, "at": "2026-12-01 10:00:00+00:00"},
                )
        upgrade()
        rows = db.session.execute(select(SmsMessage.status, SmsMessage.text).order_by(SmsMessage.id)).all()
        db.session.remove()
    assert [tuple(row) for row in rows] == [
        ("sent", "【幸福街】您的验证码是******，5分钟内有效。"),
        ("expired", "【幸福街】您的验证码是******，5分钟内有效。"),
        ("sent", "【幸福街】您有120积分将于2026-02-10后过期，请及时在联盟商家使用。"),
    ]


def test_the_card_kind_migration_marks_the_e_cards_members_registered_with(migration_app):
    """Before the kind was stored, e-cards were told from printed cards by guessing: the backfill knows."""
    from server.models import Card
    from server.services import members

    with migration_app.app_context():
        upgrade()
        make_world()
        printed = members.create_cards("test:builder", 1)[0]  # older than the member, as at the till
        member = members.register_member("member:self", "13900007777")
        ecard = members.issue_electronic_card(f"member:{member.id}", member.id)  # as a registration on the phone
        members.bind_card(f"member:{member.id}", member.id, printed.card_no)
        _, other = make_member()
        ids = {"printed": printed.id, "ecard": ecard.id, "other": other.id}
        db.session.remove()
        downgrade(revision="5c1e0a9d7f42")
        upgrade()
        kinds = {name: db.session.scalar(select(Card.kind).where(Card.id == card_id)) for name, card_id in ids.items()}
        assert kinds == {"printed": "physical", "ecard": "electronic", "other": "physical"}
        db.session.remove()
