"""printed card batches, personal tokens that expire

Revision ID: c4e8a1d7f2b9
Revises: a3f9c2e71d05
Create Date: 2026-12-06 06:40:00

A card batch has a kind: chip cards (encoded before they are handed out) or printed cards without a chip
(ready to bind at once). Personal API tokens issued in the console have an expiry and record who issued
and who revoked them.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'c4e8a1d7f2b9'
down_revision = 'a3f9c2e71d05'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('card_batches', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=16), server_default='chip', nullable=False))
        batch_op.create_check_constraint('kind', "kind IN ('chip', 'printed')")
    with op.batch_alter_table('personal_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('revoked_by', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('created_by', sa.String(length=40), nullable=True))


def downgrade():
    with op.batch_alter_table('personal_tokens', schema=None) as batch_op:
        batch_op.drop_column('created_by')
        batch_op.drop_column('revoked_by')
        batch_op.drop_column('expires_at')
    with op.batch_alter_table('card_batches', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_card_batches_kind'), type_='check')
        batch_op.drop_column('kind')
