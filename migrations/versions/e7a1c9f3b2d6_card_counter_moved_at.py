"""cards.counter_moved_at: when an online tap last moved the anti-clone counter on

A one-request sale resent after its answer was lost carries the chip read taken before the card was
tapped elsewhere; the read's time against this column tells that resend from a clone.

Revision ID: e7a1c9f3b2d6
Revises: d5b8a2c4e1f7
Create Date: 2026-12-06 10:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'e7a1c9f3b2d6'
down_revision = 'd5b8a2c4e1f7'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('cards', schema=None) as batch_op:
        batch_op.add_column(sa.Column('counter_moved_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('cards', schema=None) as batch_op:
        batch_op.drop_column('counter_moved_at')
