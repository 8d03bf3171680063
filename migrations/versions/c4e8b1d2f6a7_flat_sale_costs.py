"""flat sale costs: the level check may read its index only, a spend walks only open lots

Revision ID: c4e8b1d2f6a7
Revises: c4e8a1d7f2b9
Create Date: 2026-12-06 07:00:00

ix_sales_member_occurred carries the amounts the level check sums (PostgreSQL INCLUDE: an index-only
scan of the member's window where the heap pages are all-visible); ix_points_lots_open holds only the
lots that still hold points, so a spend no longer steps over every lot the member ever spent.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'c4e8b1d2f6a7'
down_revision = 'c4e8a1d7f2b9'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('sales', schema=None) as batch_op:
        batch_op.drop_index('ix_sales_member_occurred')
        batch_op.create_index(
            'ix_sales_member_occurred',
            ['member_id', 'occurred_at'],
            unique=False,
            postgresql_include=['payable_fen', 'refunded_fen'],
        )
    with op.batch_alter_table('points_lots', schema=None) as batch_op:
        batch_op.create_index(
            'ix_points_lots_open',
            ['member_id', 'expires_on', 'id'],
            unique=False,
            postgresql_where=sa.text('remaining > 0'),
            sqlite_where=sa.text('remaining > 0'),
        )


def downgrade():
    with op.batch_alter_table('points_lots', schema=None) as batch_op:
        batch_op.drop_index('ix_points_lots_open')
    with op.batch_alter_table('sales', schema=None) as batch_op:
        batch_op.drop_index('ix_sales_member_occurred')
        batch_op.create_index('ix_sales_member_occurred', ['member_id', 'occurred_at'], unique=False)
