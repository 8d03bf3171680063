"""benefit anti-fraud: counters per subject and period, budgets in the settings, velocity alerts

Revision ID: b3f7e2a9c1d4
Revises: b3f5d7e9a1c2
Create Date: 2026-12-06 13:30:00

``benefit_counters`` counts claims, redemptions and failed code lookups per member, device, IP address,
terminal and merchant per hour and day; the alliance settings gain the budgets (overrides of the defaults)
and the face value from which a claim needs an SMS code; benefit alerts gain the ``velocity`` kind and a
period long enough for an hour (``2026-12-06T13``).
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "b3f7e2a9c1d4"
down_revision = 'b3f5d7e9a1c2'
branch_labels = None
depends_on = None

KINDS_BEFORE = "kind IN ('low_stock', 'demand_shortfall', 'near_expiry', 'supplier_failures')"
KINDS_AFTER = "kind IN ('low_stock', 'demand_shortfall', 'near_expiry', 'supplier_failures', 'velocity')"


def upgrade():
    op.create_table(
        "benefit_counters",
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("subject_kind", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("budget", sa.Integer(), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("count >= 0", name=op.f("ck_benefit_counters_count_range")),
        sa.PrimaryKeyConstraint("action", "subject_kind", "subject", "period", name=op.f("pk_benefit_counters")),
    )
    with op.batch_alter_table("benefit_counters", schema=None) as batch_op:
        batch_op.create_index("ix_benefit_counters_action_last", ["action", "last_at"], unique=False)
    with op.batch_alter_table("alliance_settings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("benefit_limits", sa.JSON(), server_default=sa.text("'{}'"), nullable=False))
        batch_op.add_column(
            sa.Column("benefit_second_factor_fen", sa.Integer(), server_default="10000", nullable=False)
        )
    with op.batch_alter_table("benefit_alerts", schema=None) as batch_op:
        batch_op.alter_column("period", existing_type=sa.String(length=8), type_=sa.String(length=16))
        batch_op.drop_constraint(op.f("ck_benefit_alerts_kind"), type_="check")
        batch_op.create_check_constraint("kind", KINDS_AFTER)


def downgrade():
    op.execute("DELETE FROM benefit_alerts WHERE kind = 'velocity'")
    with op.batch_alter_table("benefit_alerts", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_benefit_alerts_kind"), type_="check")
        batch_op.create_check_constraint("kind", KINDS_BEFORE)
        batch_op.alter_column("period", existing_type=sa.String(length=16), type_=sa.String(length=8))
    with op.batch_alter_table("alliance_settings", schema=None) as batch_op:
        batch_op.drop_column("benefit_second_factor_fen")
        batch_op.drop_column("benefit_limits")
    with op.batch_alter_table("benefit_counters", schema=None) as batch_op:
        batch_op.drop_index("ix_benefit_counters_action_last")
    op.drop_table("benefit_counters")
