"""settlement paid status, merchants' settlement bank details

Revision ID: a3f9c2e71d05
Revises: 5c1e7a9d3b20
Create Date: 2026-12-06 04:25:00

Finance marks a settlement paid (when, by whom, the transfer's reference). A merchant's settlement
account: holder name, bank, and the account number encrypted like phones, with a masked copy to show.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'a3f9c2e71d05'
down_revision = "5c1e7a9d3b20"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('settlements', schema=None) as batch_op:
        batch_op.add_column(sa.Column('paid_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('paid_by', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('payment_reference', sa.String(length=100), server_default='', nullable=False))
    with op.batch_alter_table('merchants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('bank_account_name', sa.String(length=100), server_default='', nullable=False))
        batch_op.add_column(sa.Column('bank_name', sa.String(length=100), server_default='', nullable=False))
        batch_op.add_column(sa.Column('bank_account_ciphertext', sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column('bank_account_masked', sa.String(length=40), server_default='', nullable=False))


def downgrade():
    with op.batch_alter_table('merchants', schema=None) as batch_op:
        batch_op.drop_column('bank_account_masked')
        batch_op.drop_column('bank_account_ciphertext')
        batch_op.drop_column('bank_name')
        batch_op.drop_column('bank_account_name')
    with op.batch_alter_table('settlements', schema=None) as batch_op:
        batch_op.drop_column('payment_reference')
        batch_op.drop_column('paid_by')
        batch_op.drop_column('paid_at')
