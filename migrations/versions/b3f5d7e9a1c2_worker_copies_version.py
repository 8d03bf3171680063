"""alliance_settings.copies_version: the workers' copies of settings, terminals, levels are current while it stays

Every transaction that changes the alliance settings, a terminal, a merchant, a level or a webhook
subscription adds 1 in the same transaction; each worker reads it once per request and uses its copies
only while they carry the version read (server/services/worker_copies.py).

Revision ID: b3f5d7e9a1c2
Revises: c4d2e8f1a7b3
Create Date: 2026-12-06 13:30:00.000000
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'b3f5d7e9a1c2'
down_revision = 'c4d2e8f1a7b3'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('alliance_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('copies_version', sa.BigInteger(), server_default='0', nullable=False))


def downgrade():
    with op.batch_alter_table('alliance_settings', schema=None) as batch_op:
        batch_op.drop_column('copies_version')
