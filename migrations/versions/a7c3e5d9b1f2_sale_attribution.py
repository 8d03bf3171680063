"""attribution snapshotted on sales, member invitations, card consignment to agents

Revision ID: a7c3e5d9b1f2
Revises: c4e8a1f2b6d9
Create Date: 2026-12-06 07:30:00

Sales get the servicing agent of the merchant, the recruiting agent and the inviting member at sale time,
and the points granted to the inviter; existing sales are filled from today's attribution (the best record
there is of the past). Members get the member who invited them; the alliance the invitation reward
(0: off); card batches their consignments to agents.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "a7c3e5d9b1f2"
down_revision = "c4e8a1f2b6d9"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "card_consignments",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("batch_id", sa.String(length=24), nullable=False),
        sa.Column("agent_id", sa.String(length=24), nullable=False),
        sa.Column("first_card_no", sa.String(length=20), nullable=False),
        sa.Column("last_card_no", sa.String(length=20), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("first_card_no <= last_card_no", name=op.f("ck_card_consignments_range_ordered")),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"], name=op.f("fk_card_consignments_agent_id_agents")),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["card_batches.id"], name=op.f("fk_card_consignments_batch_id_card_batches")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_consignments")),
    )
    with op.batch_alter_table("card_consignments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_card_consignments_agent_id"), ["agent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_card_consignments_batch_id"), ["batch_id"], unique=False)

    with op.batch_alter_table("alliance_settings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("invite_reward_points_per_yuan", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("invite_reward_days", sa.Integer(), server_default="30", nullable=False))
        batch_op.create_check_constraint(
            "invite_reward_not_negative", "invite_reward_points_per_yuan >= 0 AND invite_reward_days >= 0"
        )

    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("invited_by_member_id", sa.String(length=24), nullable=True))
        batch_op.create_index(batch_op.f("ix_members_invited_by_member_id"), ["invited_by_member_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_members_invited_by_member_id_members"), "members", ["invited_by_member_id"], ["id"]
        )

    with op.batch_alter_table("sales", schema=None) as batch_op:
        batch_op.add_column(sa.Column("servicing_agent_id", sa.String(length=24), nullable=True))
        batch_op.add_column(sa.Column("recruiting_agent_id", sa.String(length=24), nullable=True))
        batch_op.add_column(sa.Column("recruiting_member_id", sa.String(length=24), nullable=True))
        batch_op.add_column(sa.Column("invite_reward_points", sa.Integer(), server_default="0", nullable=False))
        batch_op.create_foreign_key(
            batch_op.f("fk_sales_servicing_agent_id_agents"), "agents", ["servicing_agent_id"], ["id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_sales_recruiting_agent_id_agents"), "agents", ["recruiting_agent_id"], ["id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_sales_recruiting_member_id_members"), "members", ["recruiting_member_id"], ["id"]
        )

    # sales before this revision: attributed as things stand now (no earlier record exists)
    op.execute(
        "UPDATE sales SET servicing_agent_id = (SELECT agent_id FROM merchants WHERE merchants.id = sales.merchant_id), "
        "recruiting_agent_id = (SELECT recruited_by_agent_id FROM members WHERE members.id = sales.member_id)"
    )
    with op.batch_alter_table("sales", schema=None) as batch_op:
        batch_op.create_index("ix_sales_servicing_agent_occurred", ["servicing_agent_id", "occurred_at"], unique=False)
        batch_op.create_index(
            "ix_sales_recruiting_agent_occurred", ["recruiting_agent_id", "occurred_at"], unique=False
        )


def downgrade():
    with op.batch_alter_table("sales", schema=None) as batch_op:
        batch_op.drop_index("ix_sales_recruiting_agent_occurred")
        batch_op.drop_index("ix_sales_servicing_agent_occurred")
        batch_op.drop_constraint(batch_op.f("fk_sales_recruiting_member_id_members"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_sales_recruiting_agent_id_agents"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_sales_servicing_agent_id_agents"), type_="foreignkey")
        batch_op.drop_column("invite_reward_points")
        batch_op.drop_column("recruiting_member_id")
        batch_op.drop_column("recruiting_agent_id")
        batch_op.drop_column("servicing_agent_id")

    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_members_invited_by_member_id_members"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_members_invited_by_member_id"))
        batch_op.drop_column("invited_by_member_id")

    with op.batch_alter_table("alliance_settings", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_alliance_settings_invite_reward_not_negative"), type_="check")
        batch_op.drop_column("invite_reward_days")
        batch_op.drop_column("invite_reward_points_per_yuan")

    with op.batch_alter_table("card_consignments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_card_consignments_batch_id"))
        batch_op.drop_index(batch_op.f("ix_card_consignments_agent_id"))

    op.drop_table("card_consignments")
