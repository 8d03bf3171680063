"""status checks: the database refuses a status outside its lifecycle (server/domain/statuses.py)

Revision ID: 5c1e7a9d3b20
Revises: b7d2e4f19a63
Create Date: 2026-12-06 04:00:00

The allowed values are written out here, not imported from the enums: a migration states the schema as it
was at its revision, whatever the code says later. Stored values are unchanged (the enums' values are the
strings stored before), so no data moves.
"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "5c1e7a9d3b20"
down_revision = "b7d2e4f19a63"
branch_labels = None
depends_on = None

STATUSES = {  # table: (column, allowed values)
    "card_batches": ("state", ("created", "encoded")),
    "cards": ("status", ("created", "encoding", "issued", "active", "lost", "frozen", "replaced", "cancelled")),
    "members": ("status", ("active", "frozen", "closed")),
    "merchants": ("status", ("active", "suspended", "closed")),
    "terminals": ("status", ("active", "disabled")),
    "staff_users": ("status", ("active", "disabled")),
    "member_devices": ("status", ("active", "revoked")),
    "sms_messages": ("status", ("pending", "sent", "failed", "expired")),
    "settlement_days": ("status", ("closed",)),
    "settlements": ("status", ("closed",)),
    "job_runs": ("status", ("done", "skipped", "failed")),
}


def upgrade():
    for table, (column, statuses) in STATUSES.items():
        allowed = ", ".join(f"'{status}'" for status in statuses)
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_check_constraint(column, f"{column} IN ({allowed})")


def downgrade():
    for table, (column, _) in reversed(STATUSES.items()):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(batch_op.f(f"ck_{table}_{column}"), type_="check")
