"""Request and response schemas of benefits (权益): SKUs, suppliers, purchases, imports of 卡密, stock counts."""

from __future__ import annotations

from flask_smorest.fields import Upload
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from alliance_shared.money import MAX_AMOUNT_FEN
from server.api.fields import BasisPoints, StrictBoolean, Text
from server.api.operator_schemas import Choice, RegionCode
from server.domain.benefit_rows import REJECTION_REASONS
from server.domain.statuses import (
    BenefitCodeStatus,
    BenefitFunder,
    BenefitImportStatus,
    BenefitKind,
    BenefitPurchaseSource,
    BenefitPurchaseStatus,
    BenefitScope,
    BenefitSkuStatus,
    SupplierStatus,
)

MAX_QUANTITY = 1_000_000


def _fen(minimum: int = 0, **kwargs) -> fields.Integer:
    return fields.Integer(strict=True, validate=validate.Range(min=minimum, max=MAX_AMOUNT_FEN), **kwargs)


def _count(minimum: int, maximum: int, **kwargs) -> fields.Integer:
    return fields.Integer(strict=True, validate=validate.Range(min=minimum, max=maximum), **kwargs)


class BenefitSkuSchema(Schema):
    id = fields.String()
    code = fields.String()
    name = fields.String()
    kind = Choice(BenefitKind)
    status = Choice(BenefitSkuStatus)
    face_value_fen = fields.Integer()
    sale_price_fen = fields.Integer()
    threshold_fen = fields.Integer(allow_none=True)
    percent_off_bp = fields.Integer(allow_none=True)
    cap_fen = fields.Integer(allow_none=True)
    item_name = fields.String()
    scope = Choice(BenefitScope)
    trades = fields.List(fields.String())
    region_codes = fields.List(fields.String())
    merchant_ids = fields.List(fields.String())
    valid_from = fields.Date(allow_none=True)
    valid_until = fields.Date(allow_none=True)
    valid_days = fields.Integer(allow_none=True)
    per_member_limit = fields.Integer(allow_none=True)
    funder = fields.String(allow_none=True, validate=validate.OneOf(sorted(BenefitFunder)))
    sponsor_merchant_id = fields.String(allow_none=True)
    agent_prices = fields.Dict(
        keys=fields.String(), values=fields.Integer(), metadata={"description": "Agent level id → fen (拿货价)"}
    )
    low_stock_threshold = fields.Integer()
    near_expiry_days = fields.Integer()
    description = fields.String()
    restore_on_refund = fields.Boolean(
        metadata={"description": "A voucher redeemed in a sale goes back to the member when the sale is fully refunded"}
    )
    created_at = fields.DateTime()


class BenefitSkuEnvelopeSchema(Schema):
    sku = fields.Nested(BenefitSkuSchema)


class BenefitSkuCreateSchema(Schema):
    """A benefit product; each kind needs its own terms (the service says which is missing)."""

    code = fields.String(required=True, validate=[validate.Length(max=32), validate.Regexp(r"^[A-Za-z0-9_-]{1,32}$")])
    name = Text(100, required=True)
    kind = Choice(BenefitKind, required=True)
    face_value_fen = _fen(required=True)
    sale_price_fen = _fen(required=True)
    threshold_fen = _fen(1, metadata={"description": "voucher_threshold: spend at least this (满X)"})
    percent_off_bp = BasisPoints(metadata={"description": "voucher_percent: basis points off"})
    cap_fen = _fen(1, metadata={"description": "voucher_percent: at most this much off"})
    item_name = Text(100, metadata={"description": "voucher_item: the named item"})
    scope = Choice(BenefitScope, load_default=BenefitScope.ALL)
    trades = fields.List(Text(32), validate=validate.Length(max=50), load_default=list)
    region_codes = fields.List(RegionCode(), validate=validate.Length(max=200), load_default=list)
    merchant_ids = fields.List(Text(24), validate=validate.Length(max=1000), load_default=list)
    valid_from = fields.Date()
    valid_until = fields.Date()
    valid_days = _count(1, 3650, metadata={"description": "Valid this many days after issue"})
    per_member_limit = _count(1, 10_000)
    funder = Choice(BenefitFunder, metadata={"description": "Who pays a voucher's value"})
    sponsor_merchant_id = Text(24)
    agent_prices = fields.Dict(
        keys=Text(24), values=_fen(), validate=validate.Length(max=50), metadata={"description": "Agent level id → fen"}
    )
    low_stock_threshold = _count(0, MAX_QUANTITY)
    near_expiry_days = _count(0, 3650)
    description = Text(500, min_length=0)
    restore_on_refund = StrictBoolean(
        metadata={"description": "A fully refunded sale gives the voucher back (if still valid); default true"}
    )

    @validates_schema
    def dates_in_order(self, data, **kwargs):
        if data.get("valid_from") and data.get("valid_until") and data["valid_from"] > data["valid_until"]:
            raise ValidationError("The validity ends before it starts.", "valid_until")


class BenefitSkuQuerySchema(Schema):
    status = Choice(BenefitSkuStatus)


class SupplierSchema(Schema):
    id = fields.String()
    name = fields.String()
    contact_name = fields.String()
    contact_phone = fields.String()
    contact_email = fields.String()
    terms = fields.String()
    payment_days = fields.Integer()
    status = Choice(SupplierStatus)
    created_at = fields.DateTime()


class SupplierEnvelopeSchema(Schema):
    supplier = fields.Nested(SupplierSchema)


class SupplierCreateSchema(Schema):
    name = Text(100, required=True)
    contact_name = Text(50, min_length=0)
    contact_phone = Text(32, min_length=0)
    contact_email = Text(100, min_length=0)
    terms = Text(500, min_length=0)
    payment_days = _count(0, 365)


class BenefitPurchaseSchema(Schema):
    id = fields.String()
    supplier_id = fields.String(allow_none=True)
    sku_id = fields.String()
    quantity = fields.Integer()
    unit_cost_fen = fields.Integer()
    invoice_number = fields.String()
    purchase_date = fields.Date()
    valid_until = fields.Date(allow_none=True)
    source = Choice(BenefitPurchaseSource)
    status = Choice(BenefitPurchaseStatus)
    received_count = fields.Integer()
    received_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


class BenefitPurchaseEnvelopeSchema(Schema):
    purchase = fields.Nested(BenefitPurchaseSchema)


class BenefitPurchaseCreateSchema(Schema):
    """A purchase batch; a ``generated`` one (alliance vouchers) has no supplier and its codes are made at once."""

    sku_id = Text(24, required=True)
    supplier_id = Text(24)
    quantity = _count(1, MAX_QUANTITY, required=True)
    unit_cost_fen = _fen()
    invoice_number = Text(64, min_length=0)
    purchase_date = fields.Date(required=True)
    valid_until = fields.Date(metadata={"description": "The codes' expiry when a row of the file gives none"})
    source = Choice(BenefitPurchaseSource, required=True)


class RejectedRowSchema(Schema):
    row = fields.Integer(metadata={"description": "Row number in the file (the header is row 1); 0: the file"})
    reason = Choice(REJECTION_REASONS)
    last4 = fields.String(metadata={"description": "The code's last four characters (never more)"})


class BenefitImportSchema(Schema):
    id = fields.String()
    purchase_id = fields.String()
    filename = fields.String()
    all_or_nothing = fields.Boolean()
    status = Choice(BenefitImportStatus)
    rows_done = fields.Integer(metadata={"description": "Checkpoint: the last row number staged"})
    rows_rejected = fields.Integer()
    rows_received = fields.Integer()
    report = fields.List(fields.Nested(RejectedRowSchema), metadata={"description": "The rejected rows (first 1000)"})
    created_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)


class BenefitImportEnvelopeSchema(Schema):
    benefit_import = fields.Nested(BenefitImportSchema, data_key="import")


class BenefitImportFileSchema(Schema):
    file = Upload(
        required=True,
        metadata={
            "description": "CSV (UTF-8 or GBK) or XLSX: code, secret, expiry; at most 16 MiB",
            "maxLength": 16 * 1024 * 1024,
        },
    )


class BenefitImportQuerySchema(Schema):
    all_or_nothing = fields.Boolean(
        load_default=True, metadata={"description": "true: any rejected row refuses the whole file"}
    )


class BenefitStockRowSchema(Schema):
    sku_id = fields.String()
    sku_code = fields.String()
    status = Choice(BenefitCodeStatus)
    expiry_month = fields.String(allow_none=True, metadata={"description": "YYYY-MM; null: no expiry"})
    count = fields.Integer()
