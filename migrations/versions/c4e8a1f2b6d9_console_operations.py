"""console operations: partial phone search, retired levels, forced password change, TOTP

Revision ID: c4e8a1f2b6d9
Revises: f0d9c1741124
Create Date: 2026-12-06 06:40:00

Members get a keyed hash of their phone's last four digits (filled in here for existing members when the
app's keys are at hand), levels a status (active / retired), staff users a forced-change flag and an
encrypted TOTP secret.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "c4e8a1f2b6d9"
down_revision = "f0d9c1741124"
branch_labels = None
depends_on = None


def _fill_phone_suffixes():
    """Existing members' last-four hashes (needs the app's PII keys; skipped without them)."""
    from flask import current_app

    if "alliance_keys" not in current_app.extensions:
        return
    from server.security.pii import decrypt_phone, phone_suffix_hash

    connection = op.get_bind()
    members = sa.table("members", sa.column("id"), sa.column("phone_ciphertext"), sa.column("phone_suffix_hash"))
    for member_id, blob in connection.execute(sa.select(members.c.id, members.c.phone_ciphertext)).all():
        suffix = phone_suffix_hash(decrypt_phone(bytes(blob)))
        connection.execute(members.update().where(members.c.id == member_id).values(phone_suffix_hash=suffix))


def upgrade():
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("phone_suffix_hash", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_members_phone_suffix_hash"), ["phone_suffix_hash"], unique=False)
    with op.batch_alter_table("levels", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status", sa.String(length=16), server_default="active", nullable=False))
        batch_op.create_check_constraint("status", "status IN ('active', 'retired')")
    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("must_change_password", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("totp_secret_ciphertext", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("totp_last_step", sa.Integer(), nullable=True))
    _fill_phone_suffixes()


def downgrade():
    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.drop_column("totp_last_step")
        batch_op.drop_column("totp_secret_ciphertext")
        batch_op.drop_column("must_change_password")
    with op.batch_alter_table("levels", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_levels_status"), type_="check")
        batch_op.drop_column("status")
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_members_phone_suffix_hash"))
        batch_op.drop_column("phone_suffix_hash")
