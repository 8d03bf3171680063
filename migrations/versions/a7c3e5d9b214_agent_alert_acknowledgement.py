"""agent alerts: the operator's acknowledgement (when, by whom, why)

Revision ID: a7c3e5d9b214
Revises: 9b1d4e7c2a10
Create Date: 2026-12-06 07:40:00.000000
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'a7c3e5d9b214'
down_revision = '9b1d4e7c2a10'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('agent_alerts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('acknowledged_by', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('acknowledged_reason', sa.String(length=200), server_default='', nullable=False))


def downgrade():
    with op.batch_alter_table('agent_alerts', schema=None) as batch_op:
        batch_op.drop_column('acknowledged_reason')
        batch_op.drop_column('acknowledged_by')
        batch_op.drop_column('acknowledged_at')
