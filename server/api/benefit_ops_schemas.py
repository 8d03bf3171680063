"""Request and response schemas of benefit stock alerts and supplier reconciliation."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from server.api.fields import Text
from server.api.operator_schemas import Choice
from server.domain.statuses import BenefitAlertKind, BenefitAlertStatus


class BenefitAlertSchema(Schema):
    id = fields.String()
    kind = Choice(BenefitAlertKind)
    period = fields.String(metadata={"description": "ISO week (2026-W50) for stock alerts, month for suppliers"})
    sku_id = fields.String(allow_none=True)
    supplier_id = fields.String(allow_none=True)
    subject_name = fields.String(metadata={"description": "The SKU's or supplier's name"})
    figures = fields.Dict(
        keys=fields.String(),
        metadata={
            "description": "What raised it: low_stock {available, threshold}; demand_shortfall {demanded, available, "
            "short, first_short_on, demands}; near_expiry {count, cost_fen, first_expiry, days}; "
            "supplier_failures {attempts, failed, rate_bp, threshold_bp, window_days}"
        },
    )
    texted = fields.Integer(metadata={"description": "How many staff phones the alert was texted to"})
    status = Choice(BenefitAlertStatus)
    raised_at = fields.DateTime()
    acknowledged_by = fields.String(allow_none=True)
    acknowledged_at = fields.DateTime(allow_none=True)


class BenefitAlertQuerySchema(Schema):
    status = Choice(BenefitAlertStatus)
    kind = Choice(BenefitAlertKind)


class SupplierReconciliationQuerySchema(Schema):
    supplier = Text(24, required=True, metadata={"description": "The supplier's id"})
    month = fields.String(
        required=True,
        validate=validate.Regexp(r"^2\d{3}-(0[1-9]|1[0-2])$"),
        metadata={"description": "The month, YYYY-MM, in the alliance's time zone", "example": "2026-11"},
    )


class SupplierMonthLineSchema(Schema):
    sku_id = fields.String(allow_none=True, metadata={"description": "None on the total line"})
    sku_name = fields.String()
    bought = fields.Integer(metadata={"description": "Quantity of the purchases dated in the month"})
    bought_cost_fen = fields.Integer()
    received = fields.Integer(metadata={"description": "Codes received into stock in the month"})
    received_cost_fen = fields.Integer()
    issued = fields.Integer()
    redeemed = fields.Integer()
    void = fields.Integer()
    expired = fields.Integer()
    failed = fields.Integer(metadata={"description": "Codes claimed dead at redemption in the month (not rejected)"})
    credit_fen = fields.Integer(metadata={"description": "Credits for the failed codes (their unit cost)"})
    due_fen = fields.Integer(metadata={"description": "received_cost_fen − credit_fen"})


class SupplierDifferenceSchema(Schema):
    text = fields.String(metadata={"description": "The difference in the request's language"})
    template = fields.String(metadata={"description": "Its English template (stable)"})
    values = fields.Dict(keys=fields.String())


class SupplierReconciliationSchema(Schema):
    supplier_id = fields.String()
    supplier_name = fields.String()
    month = fields.String()
    lines = fields.List(fields.Nested(SupplierMonthLineSchema))
    total = fields.Nested(SupplierMonthLineSchema)
    differences = fields.List(fields.Nested(SupplierDifferenceSchema))
