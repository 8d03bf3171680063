"""Monthly partitions of the entry tables (migration c4d2e8f1a7b3, server/services/partitions.py) on a
PostgreSQL schema made by the migrations: sales land in the month's partition, the job keeps months
ahead, and an ended month detaches with the books still reconciling."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import pytest
from flask_migrate import upgrade
from sqlalchemy import create_engine, func, select, text

from server import create_app
from server.config import TestingConfig
from server.domain.errors import Conflict
from server.extensions import db
from server.models import LedgerAccount, LedgerEntry
from server.services import checkout
from server.services.jobs import run_job
from server.services.partitions import attached_partitions, detach_month, partitioned_tables
from server.services.reconciliation import reconcile_ledgers
from server.services.staff import terminal_for_token
from tests.builders import make_member, make_world
from tests.conftest import _postgres_reachable, postgres_url
from tests.resources import unavailable
from tests.test_migrations import keep_logging  # noqa: F401  (env.py's logging set-up, undone)

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:'get_engine' is deprecated:DeprecationWarning")]


@pytest.fixture
def migrated(keep_logging):  # noqa: F811
    url = postgres_url()
    if reason := _postgres_reachable(url):
        unavailable(reason)
    schema = f"t_part_{secrets.token_hex(5)}"
    admin = create_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        app = create_app(
            TestingConfig,
            SQLALCHEMY_DATABASE_URI=url,
            SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"options": f"-csearch_path={schema}"}},
        )
        with app.app_context():
            upgrade()
            yield app
            db.session.remove()
            db.engine.dispose()
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def month_name(table: str, moment) -> str:
    return f"{table}_p{moment:%Y%m}"


def test_entries_are_partitioned_by_month_kept_ahead_and_an_ended_month_detaches(migrated):
    now = datetime.now(UTC)
    assert partitioned_tables() == ["ledger_entries", "money_entries"]
    month, ahead = now.date().replace(day=1), []
    for _ in range(4):  # this month and three ahead, made by the migration
        ahead.append(month)
        month = (month + timedelta(days=32)).replace(day=1)
    assert {month_name("ledger_entries", m) for m in ahead} <= attached_partitions("ledger_entries")

    world = make_world()
    _, card = make_member(points=300)
    terminal = terminal_for_token(world.shop_a.token)
    found = checkout.identify(terminal, code=card.card_no)
    checkout.record_sale(terminal, identification_token=found.token, amount_fen=10_000, redeem_points=100)
    this_month = month_name("ledger_entries", now)
    assert db.session.scalar(text(f"SELECT count(*) FROM {this_month}")) > 0  # routed by created_at

    # the job: a day four months on needs one more month; running it again creates nothing
    later = (ahead[-1] + timedelta(days=1)).replace(day=1)
    first = run_job("create-partitions", later + timedelta(days=31))
    assert (
        first.status == "done" and month_name("ledger_entries", later + timedelta(days=31)) in first.summary["created"]
    )
    assert run_job("create-partitions", later).summary["created"] == []

    # move every entry into last month, then archive it
    last_month = (now.date().replace(day=1) - timedelta(days=1)).replace(day=1)
    run_job("create-partitions", last_month)
    db.session.execute(text("UPDATE ledger_entries SET created_at = created_at - interval '32 days'"))
    db.session.execute(text("UPDATE money_entries SET created_at = created_at - interval '32 days'"))
    db.session.commit()
    with pytest.raises(Conflict):
        detach_month("test:partitions", f"{now:%Y-%m}")  # this month has not ended
    done = detach_month("test:partitions", f"{last_month:%Y-%m}", today=now.date())
    assert done["detached"] == [month_name("ledger_entries", last_month), month_name("money_entries", last_month)]
    assert month_name("ledger_entries", last_month) not in attached_partitions("ledger_entries")
    archived = db.session.scalar(text(f"SELECT count(*) FROM {month_name('ledger_entries', last_month)}"))
    assert archived > 0  # an ordinary table now, for pg_dump and DROP
    # the balances were carried forward: every ledger check still holds
    assert reconcile_ledgers() == []
    balances = dict(db.session.execute(select(LedgerAccount.id, LedgerAccount.balance)).all())
    sums = dict(
        db.session.execute(
            select(LedgerEntry.account_id, func.sum(LedgerEntry.amount)).group_by(LedgerEntry.account_id)
        ).all()
    )
    assert {k: v for k, v in balances.items() if v} == {k: v for k, v in sums.items() if v}
