"""sms outbox: one-time codes sealed until sent, masked in the readable text

Revision ID: 5c1e0a9d7f42
Revises: 00317baa860d
Create Date: 2026-12-06 03:50:00.000000

"""
import re

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '5c1e0a9d7f42'
down_revision = '00317baa860d'
branch_labels = None
depends_on = None

_CODE = re.compile(r"验证码是(\d+)")


def upgrade():
    with op.batch_alter_table('sms_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sealed_text', sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column('secret_expires_at', sa.DateTime(timezone=True), nullable=True))

    # Codes already queued were stored in clear: mask them; an unsent one is never sent (it expires in minutes).
    messages = sa.table(
        'sms_messages', sa.column('id', sa.BigInteger()), sa.column('text', sa.Text()), sa.column('status', sa.String())
    )
    connection = op.get_bind()
    rows = connection.execute(sa.select(messages.c.id, messages.c.text, messages.c.status).where(
        messages.c.text.like('%验证码是%')
    )).all()
    for message_id, text, status in rows:
        masked = _CODE.sub(lambda found: "验证码是" + "*" * len(found.group(1)), text)
        connection.execute(
            messages.update().where(messages.c.id == message_id).values(
                text=masked, status='expired' if status == 'pending' else status
            )
        )


def downgrade():
    with op.batch_alter_table('sms_messages', schema=None) as batch_op:
        batch_op.drop_column('secret_expires_at')
        batch_op.drop_column('sealed_text')
