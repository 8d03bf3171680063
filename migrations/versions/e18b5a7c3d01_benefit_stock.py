"""benefits: SKUs, suppliers, purchases, imports of 卡密 (staged, resumable) and the stock of encrypted codes

Revision ID: e18b5a7c3d01
Revises: d5b8a2c4e1f7
Create Date: 2026-12-06 09:50:44.793947

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "e18b5a7c3d01"
down_revision = "d5b8a2c4e1f7"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "suppliers",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("contact_name", sa.String(length=50), nullable=False),
        sa.Column("contact_phone", sa.String(length=32), nullable=False),
        sa.Column("contact_email", sa.String(length=100), nullable=False),
        sa.Column("terms", sa.String(length=500), nullable=False),
        sa.Column("payment_days", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("payment_days >= 0", name=op.f("ck_suppliers_payment_days_range")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suppliers")),
        sa.UniqueConstraint("name", name=op.f("uq_suppliers_name")),
    )
    op.create_table(
        "benefit_skus",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("face_value_fen", sa.Integer(), nullable=False),
        sa.Column("sale_price_fen", sa.Integer(), nullable=False),
        sa.Column("threshold_fen", sa.Integer(), nullable=True),
        sa.Column("percent_off_bp", sa.Integer(), nullable=True),
        sa.Column("cap_fen", sa.Integer(), nullable=True),
        sa.Column("item_name", sa.String(length=100), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("valid_days", sa.Integer(), nullable=True),
        sa.Column("per_member_limit", sa.Integer(), nullable=True),
        sa.Column("funder", sa.String(length=24), nullable=True),
        sa.Column("sponsor_merchant_id", sa.String(length=24), nullable=True),
        sa.Column("low_stock_threshold", sa.Integer(), nullable=False),
        sa.Column("near_expiry_days", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "funder <> 'sponsor_merchant' OR sponsor_merchant_id IS NOT NULL", name=op.f("ck_benefit_skus_sponsor")
        ),
        sa.CheckConstraint(
            "funder IS NULL OR funder IN ('alliance', 'accepting_merchant', 'sponsor_merchant')",
            name=op.f("ck_benefit_skus_funder"),
        ),
        sa.CheckConstraint(
            "kind = 'third_party_code' OR funder IS NOT NULL", name=op.f("ck_benefit_skus_voucher_funder")
        ),
        sa.CheckConstraint(
            "kind IN ('third_party_code', 'voucher_cash', 'voucher_threshold', 'voucher_percent', 'voucher_item')",
            name=op.f("ck_benefit_skus_kind"),
        ),
        sa.CheckConstraint("scope IN ('all', 'trades', 'regions', 'merchants')", name=op.f("ck_benefit_skus_scope")),
        sa.CheckConstraint("cap_fen IS NULL OR cap_fen > 0", name=op.f("ck_benefit_skus_cap_range")),
        sa.CheckConstraint("face_value_fen >= 0 AND sale_price_fen >= 0", name=op.f("ck_benefit_skus_money_range")),
        sa.CheckConstraint(
            "low_stock_threshold >= 0 AND near_expiry_days >= 0", name=op.f("ck_benefit_skus_alert_range")
        ),
        sa.CheckConstraint(
            "per_member_limit IS NULL OR per_member_limit > 0", name=op.f("ck_benefit_skus_member_limit_range")
        ),
        sa.CheckConstraint(
            "percent_off_bp IS NULL OR (percent_off_bp > 0 AND percent_off_bp <= 10000)",
            name=op.f("ck_benefit_skus_percent"),
        ),
        sa.CheckConstraint("threshold_fen IS NULL OR threshold_fen > 0", name=op.f("ck_benefit_skus_threshold_range")),
        sa.CheckConstraint("valid_days IS NULL OR valid_days > 0", name=op.f("ck_benefit_skus_valid_days_range")),
        sa.CheckConstraint(
            "valid_from IS NULL OR valid_until IS NULL OR valid_from <= valid_until",
            name=op.f("ck_benefit_skus_valid_dates"),
        ),
        sa.ForeignKeyConstraint(
            ["sponsor_merchant_id"], ["merchants.id"], name=op.f("fk_benefit_skus_sponsor_merchant_id_merchants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_benefit_skus")),
        sa.UniqueConstraint("code", name=op.f("uq_benefit_skus_code")),
    )
    with op.batch_alter_table("benefit_skus", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_benefit_skus_sponsor_merchant_id"), ["sponsor_merchant_id"], unique=False)

    op.create_table(
        "benefit_purchases",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("supplier_id", sa.String(length=24), nullable=True),
        sa.Column("sku_id", sa.String(length=24), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_cost_fen", sa.Integer(), nullable=False),
        sa.Column("invoice_number", sa.String(length=64), nullable=False),
        sa.Column("purchase_date", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("received_count", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "source = 'generated' OR supplier_id IS NOT NULL", name=op.f("ck_benefit_purchases_supplier")
        ),
        sa.CheckConstraint(
            "source IN ('file_import', 'supplier_api', 'generated')", name=op.f("ck_benefit_purchases_source")
        ),
        sa.CheckConstraint("quantity > 0 AND unit_cost_fen >= 0", name=op.f("ck_benefit_purchases_quantity_range")),
        sa.CheckConstraint("received_count >= 0", name=op.f("ck_benefit_purchases_received_range")),
        sa.ForeignKeyConstraint(["sku_id"], ["benefit_skus.id"], name=op.f("fk_benefit_purchases_sku_id_benefit_skus")),
        sa.ForeignKeyConstraint(
            ["supplier_id"], ["suppliers.id"], name=op.f("fk_benefit_purchases_supplier_id_suppliers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_benefit_purchases")),
    )
    with op.batch_alter_table("benefit_purchases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_benefit_purchases_sku_id"), ["sku_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_benefit_purchases_supplier_id"), ["supplier_id"], unique=False)

    op.create_table(
        "benefit_sku_agent_prices",
        sa.Column("sku_id", sa.String(length=24), nullable=False),
        sa.Column("agent_level_id", sa.String(length=24), nullable=False),
        sa.Column("price_fen", sa.Integer(), nullable=False),
        sa.CheckConstraint("price_fen >= 0", name=op.f("ck_benefit_sku_agent_prices_price_range")),
        sa.ForeignKeyConstraint(
            ["agent_level_id"],
            ["agent_levels.id"],
            name=op.f("fk_benefit_sku_agent_prices_agent_level_id_agent_levels"),
        ),
        sa.ForeignKeyConstraint(
            ["sku_id"], ["benefit_skus.id"], name=op.f("fk_benefit_sku_agent_prices_sku_id_benefit_skus")
        ),
        sa.PrimaryKeyConstraint("sku_id", "agent_level_id", name=op.f("pk_benefit_sku_agent_prices")),
    )
    op.create_table(
        "benefit_sku_merchants",
        sa.Column("sku_id", sa.String(length=24), nullable=False),
        sa.Column("merchant_id", sa.String(length=24), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_benefit_sku_merchants_merchant_id_merchants")
        ),
        sa.ForeignKeyConstraint(
            ["sku_id"], ["benefit_skus.id"], name=op.f("fk_benefit_sku_merchants_sku_id_benefit_skus")
        ),
        sa.PrimaryKeyConstraint("sku_id", "merchant_id", name=op.f("pk_benefit_sku_merchants")),
    )
    with op.batch_alter_table("benefit_sku_merchants", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_benefit_sku_merchants_merchant_id"), ["merchant_id"], unique=False)

    op.create_table(
        "benefit_sku_regions",
        sa.Column("sku_id", sa.String(length=24), nullable=False),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.ForeignKeyConstraint(
            ["region_code"], ["regions.code"], name=op.f("fk_benefit_sku_regions_region_code_regions")
        ),
        sa.ForeignKeyConstraint(
            ["sku_id"], ["benefit_skus.id"], name=op.f("fk_benefit_sku_regions_sku_id_benefit_skus")
        ),
        sa.PrimaryKeyConstraint("sku_id", "region_code", name=op.f("pk_benefit_sku_regions")),
    )
    op.create_table(
        "benefit_sku_trades",
        sa.Column("sku_id", sa.String(length=24), nullable=False),
        sa.Column("trade", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["sku_id"], ["benefit_skus.id"], name=op.f("fk_benefit_sku_trades_sku_id_benefit_skus")
        ),
        sa.PrimaryKeyConstraint("sku_id", "trade", name=op.f("pk_benefit_sku_trades")),
    )
    op.create_table(
        "benefit_codes",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("sku_id", sa.String(length=24), nullable=False),
        sa.Column("purchase_id", sa.String(length=24), nullable=False),
        sa.Column("lookup_hash", sa.String(length=64), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("last4", sa.String(length=4), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reservation", sa.String(length=40), nullable=True),
        sa.Column("reserved_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("member_id", sa.String(length=24), nullable=True),
        sa.Column("agent_id", sa.String(length=24), nullable=True),
        sa.Column("redeemed_merchant_id", sa.String(length=24), nullable=True),
        sa.Column("void_reason", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reserved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("redeemed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expired_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status <> 'reserved' OR reserved_until IS NOT NULL", name=op.f("ck_benefit_codes_reservation_deadline")
        ),
        sa.CheckConstraint(
            "status NOT IN ('issued', 'redeemed') OR member_id IS NOT NULL OR agent_id IS NOT NULL",
            name=op.f("ck_benefit_codes_issued_holder"),
        ),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"], name=op.f("fk_benefit_codes_agent_id_agents")),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name=op.f("fk_benefit_codes_member_id_members")),
        sa.ForeignKeyConstraint(
            ["purchase_id"], ["benefit_purchases.id"], name=op.f("fk_benefit_codes_purchase_id_benefit_purchases")
        ),
        sa.ForeignKeyConstraint(
            ["redeemed_merchant_id"], ["merchants.id"], name=op.f("fk_benefit_codes_redeemed_merchant_id_merchants")
        ),
        sa.ForeignKeyConstraint(["sku_id"], ["benefit_skus.id"], name=op.f("fk_benefit_codes_sku_id_benefit_skus")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_benefit_codes")),
        sa.UniqueConstraint("sku_id", "lookup_hash", name=op.f("uq_benefit_codes_sku_id_lookup_hash")),
    )
    with op.batch_alter_table("benefit_codes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_benefit_codes_agent_id"), ["agent_id"], unique=False)
        batch_op.create_index("ix_benefit_codes_fefo", ["sku_id", "status", "expires_on", "id"], unique=False)
        batch_op.create_index("ix_benefit_codes_lookup_hash", ["lookup_hash"], unique=False)
        batch_op.create_index(batch_op.f("ix_benefit_codes_member_id"), ["member_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_benefit_codes_purchase_id"), ["purchase_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_benefit_codes_redeemed_merchant_id"), ["redeemed_merchant_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_benefit_codes_reservation"), ["reservation"], unique=False)
        batch_op.create_index("ix_benefit_codes_reserved_until", ["status", "reserved_until"], unique=False)

    op.create_table(
        "benefit_imports",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("purchase_id", sa.String(length=24), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("all_or_nothing", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("rows_done", sa.Integer(), nullable=False),
        sa.Column("rows_rejected", sa.Integer(), nullable=False),
        sa.Column("rows_received", sa.Integer(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["purchase_id"], ["benefit_purchases.id"], name=op.f("fk_benefit_imports_purchase_id_benefit_purchases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_benefit_imports")),
        sa.UniqueConstraint("purchase_id", "file_sha256", name=op.f("uq_benefit_imports_purchase_id_file_sha256")),
    )
    with op.batch_alter_table("benefit_imports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_benefit_imports_purchase_id"), ["purchase_id"], unique=False)

    op.create_table(
        "benefit_import_rows",
        sa.Column("import_id", sa.String(length=24), nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("code_id", sa.String(length=24), nullable=False),
        sa.Column("lookup_hash", sa.String(length=64), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("last4", sa.String(length=4), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["import_id"], ["benefit_imports.id"], name=op.f("fk_benefit_import_rows_import_id_benefit_imports")
        ),
        sa.PrimaryKeyConstraint("import_id", "row_number", name=op.f("pk_benefit_import_rows")),
    )


def downgrade():
    op.drop_table("benefit_import_rows")
    with op.batch_alter_table("benefit_imports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_benefit_imports_purchase_id"))

    op.drop_table("benefit_imports")
    with op.batch_alter_table("benefit_codes", schema=None) as batch_op:
        batch_op.drop_index("ix_benefit_codes_reserved_until")
        batch_op.drop_index(batch_op.f("ix_benefit_codes_reservation"))
        batch_op.drop_index(batch_op.f("ix_benefit_codes_redeemed_merchant_id"))
        batch_op.drop_index(batch_op.f("ix_benefit_codes_purchase_id"))
        batch_op.drop_index(batch_op.f("ix_benefit_codes_member_id"))
        batch_op.drop_index("ix_benefit_codes_lookup_hash")
        batch_op.drop_index("ix_benefit_codes_fefo")
        batch_op.drop_index(batch_op.f("ix_benefit_codes_agent_id"))

    op.drop_table("benefit_codes")
    op.drop_table("benefit_sku_trades")
    op.drop_table("benefit_sku_regions")
    with op.batch_alter_table("benefit_sku_merchants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_benefit_sku_merchants_merchant_id"))

    op.drop_table("benefit_sku_merchants")
    op.drop_table("benefit_sku_agent_prices")
    with op.batch_alter_table("benefit_purchases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_benefit_purchases_supplier_id"))
        batch_op.drop_index(batch_op.f("ix_benefit_purchases_sku_id"))

    op.drop_table("benefit_purchases")
    with op.batch_alter_table("benefit_skus", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_benefit_skus_sponsor_merchant_id"))

    op.drop_table("benefit_skus")
    op.drop_table("suppliers")
