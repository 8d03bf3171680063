"""member proof before points are spent: till policy, identification proof, code purposes

Revision ID: b7d3e1f0a9c2
Revises: 5b1e0c7d9a42
Create Date: 2026-12-06 03:50:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'b7d3e1f0a9c2'
down_revision = "5b1e0c7d9a42"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('alliance_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('spend_requires_proof', sa.Boolean(), server_default=sa.true(), nullable=False))
    with op.batch_alter_table('identifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('proof', sa.String(length=8), nullable=True))
    with op.batch_alter_table('login_codes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('purpose', sa.String(length=16), server_default='login', nullable=False))


def downgrade():
    with op.batch_alter_table('login_codes', schema=None) as batch_op:
        batch_op.drop_column('purpose')
    with op.batch_alter_table('identifications', schema=None) as batch_op:
        batch_op.drop_column('proof')
    with op.batch_alter_table('alliance_settings', schema=None) as batch_op:
        batch_op.drop_column('spend_requires_proof')
