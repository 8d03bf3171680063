"""agent badges awarded by the evaluation

Revision ID: d5b8a2c4e1f7
Revises: a7c3e5d9b214
Create Date: 2026-12-06 08:10:00.000000
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'd5b8a2c4e1f7'
down_revision = 'a7c3e5d9b214'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('agent_badges',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('agent_id', sa.String(length=24), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('code', sa.String(length=24), nullable=False),
    sa.Column('reason', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("code IN ('star_of_month', 'recruiting_star', 'health_model')", name=op.f('ck_agent_badges_code')),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name=op.f('fk_agent_badges_agent_id_agents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agent_badges')),
    sa.UniqueConstraint('agent_id', 'period', 'code', name=op.f('uq_agent_badges_agent_id_period_code'))
    )
    with op.batch_alter_table('agent_badges', schema=None) as batch_op:
        batch_op.create_index('ix_agent_badges_period', ['period'], unique=False)


def downgrade():
    with op.batch_alter_table('agent_badges', schema=None) as batch_op:
        batch_op.drop_index('ix_agent_badges_period')
    op.drop_table('agent_badges')
