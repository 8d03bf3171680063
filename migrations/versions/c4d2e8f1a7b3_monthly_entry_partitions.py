"""ledger and money entries: a created_at column, and monthly partitions on PostgreSQL

Both entry tables get ``created_at`` (the database's ``now()``; existing rows take their transaction's
time). On PostgreSQL each is then rebuilt as ``PARTITION BY RANGE (created_at)`` with primary key
``(id, created_at)``, one partition a calendar month (UTC) from the oldest row to three months ahead;
the ``create-partitions`` job keeps three months ahead (server/services/partitions.py). Nothing points at
these tables, so no foreign key has to change. SQLite keeps plain tables. docs/operations.md explains.

Revision ID: c4d2e8f1a7b3
Revises: 76c866a1ce61
Create Date: 2026-12-06 13:55:00

"""

from datetime import UTC, date, datetime

import sqlalchemy as sa
from alembic import op

revision = "c4d2e8f1a7b3"
down_revision = "76c866a1ce61"
branch_labels = None
depends_on = None

# table -> (its transactions table, its accounts table)
TABLES = {
    "ledger_entries": ("ledger_transactions", "ledger_accounts"),
    "money_entries": ("money_transactions", "money_accounts"),
}
MONTHS_AHEAD = 3


def _months(first: date, last: date):
    month = first.replace(day=1)
    while month <= last:
        following = date(month.year + month.month // 12, month.month % 12 + 1, 1)
        yield month, following
        month = following


def _rebuild(bind, table: str, partitioned: bool) -> None:
    """Copy ``table`` into a new table (partitioned by month or plain) that takes its name and keys."""
    transactions, accounts = TABLES[table]
    new = f"{table}_rebuilt"
    layout = " PARTITION BY RANGE (created_at)" if partitioned else ""
    op.execute(f"CREATE TABLE {new} (LIKE {table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS){layout}")
    if partitioned:
        oldest = bind.execute(sa.text(f"SELECT min(created_at) FROM {table}")).scalar()
        today = datetime.now(UTC).date()
        first = oldest.astimezone(UTC).date() if oldest else today
        last = date(today.year + (today.month + MONTHS_AHEAD - 1) // 12, (today.month + MONTHS_AHEAD - 1) % 12 + 1, 1)
        for start, end in _months(first, last):
            op.execute(
                f"CREATE TABLE {table}_p{start:%Y%m} PARTITION OF {new} "
                f"FOR VALUES FROM ('{start.isoformat()} 00:00:00+00') TO ('{end.isoformat()} 00:00:00+00')"
            )
    op.execute(f"INSERT INTO {new} SELECT * FROM {table}")
    op.execute(f"ALTER SEQUENCE {table}_id_seq OWNED BY NONE")
    op.execute(f"DROP TABLE {table}")
    op.execute(f"ALTER TABLE {new} RENAME TO {table}")
    op.execute(f"ALTER SEQUENCE {table}_id_seq OWNED BY {table}.id")
    key = "id, created_at" if partitioned else "id"
    op.execute(f"ALTER TABLE {table} ADD CONSTRAINT pk_{table} PRIMARY KEY ({key})")
    op.execute(
        f"ALTER TABLE {table} ADD CONSTRAINT fk_{table}_transaction_id_{transactions} "
        f"FOREIGN KEY (transaction_id) REFERENCES {transactions} (id)"
    )
    op.execute(
        f"ALTER TABLE {table} ADD CONSTRAINT fk_{table}_account_id_{accounts} "
        f"FOREIGN KEY (account_id) REFERENCES {accounts} (id)"
    )
    op.execute(f"CREATE INDEX ix_{table}_transaction_id ON {table} (transaction_id)")
    op.execute(f"CREATE INDEX ix_{table}_account_id ON {table} (account_id)")


def upgrade():
    bind = op.get_bind()
    # SQLite cannot ADD COLUMN with a non-constant default: it rebuilds the table (nothing points at it)
    recreate = "always" if bind.dialect.name == "sqlite" else "auto"
    for table, (transactions, _accounts) in TABLES.items():
        with op.batch_alter_table(table, schema=None, recreate=recreate) as batch_op:
            batch_op.add_column(
                sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False)
            )
        op.execute(
            f"UPDATE {table} SET created_at = (SELECT t.created_at FROM {transactions} t "
            f"WHERE t.id = {table}.transaction_id)"
        )
    if bind.dialect.name == "postgresql":
        for table in TABLES:
            _rebuild(bind, table, partitioned=True)


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for table in TABLES:
            _rebuild(bind, table, partitioned=False)
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("created_at")
