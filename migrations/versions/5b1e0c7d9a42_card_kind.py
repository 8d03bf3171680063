"""card kind: physical or the member's electronic card

Revision ID: 5b1e0c7d9a42
Revises: 5c1e0a9d7f42
Create Date: 2026-12-06 03:45:00

The kind used to be guessed (the first card without batch or chip was taken for the e-card), which
took a printed card created before the member registered for the e-card. Existing e-cards are found by
how they were made: only the member's own registration creates a card with a ``member:`` actor.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '5b1e0c7d9a42'
down_revision = '5c1e0a9d7f42'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('cards', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=16), server_default='physical', nullable=False))
    op.execute(
        "UPDATE cards SET kind = 'electronic' WHERE batch_id IS NULL AND chip_uid IS NULL AND id IN ("
        "SELECT object_id FROM audit_log WHERE action = 'card.create' AND object_type = 'card'"
        " AND actor LIKE 'member:%')"
    )


def downgrade():
    with op.batch_alter_table('cards', schema=None) as batch_op:
        batch_op.drop_column('kind')
