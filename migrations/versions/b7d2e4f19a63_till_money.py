"""till money: payment methods, refund authorisation, alliance-wide receipt numbers, rejected sales

Revision ID: b7d2e4f19a63
Revises: b7d3e1f0a9c2
Create Date: 2026-12-06 03:50:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'b7d2e4f19a63'
down_revision = "b7d3e1f0a9c2"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('alliance_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('terminal_number_seq', sa.Integer(), server_default='0', nullable=False))
    with op.batch_alter_table('merchants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('refund_auth_threshold_fen', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('refund_pin_hash', sa.String(length=200), nullable=True))
    with op.batch_alter_table('terminals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('receipt_prefix', sa.String(length=12), nullable=True))
    with op.batch_alter_table('sales', schema=None) as batch_op:
        batch_op.add_column(sa.Column('legacy_receipt_no', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('payment_method', sa.String(length=8), server_default='cash', nullable=False))
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('payment_method', sa.String(length=8), server_default='cash', nullable=False))
        batch_op.add_column(sa.Column('authorised_by', sa.String(length=16), nullable=True))

    # Every existing terminal gets an alliance-wide number; its sales keep their old number for lookups.
    connection = op.get_bind()
    terminals = connection.execute(sa.text('SELECT id FROM terminals ORDER BY created_at, id')).scalars().all()
    for number, terminal_id in enumerate(terminals, start=1):
        connection.execute(
            sa.text('UPDATE terminals SET receipt_prefix = :prefix WHERE id = :id'),
            {'prefix': f'{number:04d}', 'id': terminal_id},
        )
    connection.execute(sa.text('UPDATE alliance_settings SET terminal_number_seq = :n'), {'n': len(terminals)})
    # old numbers were "<terminal code>-<seq>": the new one is "<terminal prefix>-<seq>"
    connection.execute(
        sa.text(
            'UPDATE sales SET legacy_receipt_no = receipt_no, receipt_no = '
            '(SELECT t.receipt_prefix FROM terminals t WHERE t.id = sales.terminal_id) || '
            'substr(receipt_no, length((SELECT t.code FROM terminals t WHERE t.id = sales.terminal_id)) + 1)'
        )
    )
    with op.batch_alter_table('terminals', schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f('uq_terminals_receipt_prefix'), ['receipt_prefix'])
    with op.batch_alter_table('sales', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sales_legacy_receipt_no'), ['legacy_receipt_no'], unique=False)
        batch_op.create_unique_constraint('uq_sales_receipt_no', ['receipt_no'])

    op.create_table('rejected_sales',
    sa.Column('id', sa.String(length=24), nullable=False),
    sa.Column('merchant_id', sa.String(length=24), nullable=False),
    sa.Column('terminal_id', sa.String(length=24), nullable=False),
    sa.Column('client_sale_id', sa.String(length=64), nullable=False),
    sa.Column('receipt_no', sa.String(length=32), nullable=False),
    sa.Column('amount_fen', sa.Integer(), nullable=False),
    sa.Column('payable_fen', sa.Integer(), nullable=False),
    sa.Column('payment_method', sa.String(length=8), nullable=False),
    sa.Column('error_code', sa.String(length=40), nullable=False),
    sa.Column('error_message', sa.String(length=400), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('request', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('resolved_by', sa.String(length=40), nullable=True),
    sa.Column('resolution', sa.String(length=200), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_rejected_sales_merchant_id_merchants')),
    sa.ForeignKeyConstraint(['terminal_id'], ['terminals.id'], name=op.f('fk_rejected_sales_terminal_id_terminals')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rejected_sales')),
    sa.UniqueConstraint('terminal_id', 'client_sale_id', name=op.f('uq_rejected_sales_terminal_id_client_sale_id'))
    )
    with op.batch_alter_table('rejected_sales', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rejected_sales_merchant_id'), ['merchant_id'], unique=False)


def downgrade():
    with op.batch_alter_table('rejected_sales', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rejected_sales_merchant_id'))
    op.drop_table('rejected_sales')
    with op.batch_alter_table('sales', schema=None) as batch_op:
        batch_op.drop_constraint('uq_sales_receipt_no', type_='unique')
        batch_op.drop_index(batch_op.f('ix_sales_legacy_receipt_no'))
    op.execute('UPDATE sales SET receipt_no = legacy_receipt_no WHERE legacy_receipt_no IS NOT NULL')
    with op.batch_alter_table('sales', schema=None) as batch_op:
        batch_op.drop_column('payment_method')
        batch_op.drop_column('legacy_receipt_no')
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.drop_column('authorised_by')
        batch_op.drop_column('payment_method')
    with op.batch_alter_table('terminals', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_terminals_receipt_prefix'), type_='unique')
        batch_op.drop_column('receipt_prefix')
    with op.batch_alter_table('merchants', schema=None) as batch_op:
        batch_op.drop_column('refund_pin_hash')
        batch_op.drop_column('refund_auth_threshold_fen')
    with op.batch_alter_table('alliance_settings', schema=None) as batch_op:
        batch_op.drop_column('terminal_number_seq')
