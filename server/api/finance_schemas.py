"""Schemas of the settlement and finance report endpoints (all money in fen, rates in basis points)."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

FORMATS = ("json", "csv")


class ReportQuerySchema(Schema):
    """A range of business days, one merchant, and the output format."""

    day_from = fields.Date(metadata={"description": "First business day (inclusive), not after day_to"})
    day_to = fields.Date(metadata={"description": "Last business day (inclusive)"})
    merchant_id = fields.String(validate=validate.Length(max=24))
    format = fields.String(
        load_default="json",
        validate=validate.OneOf(FORMATS),
        metadata={"description": "json (default) or csv; `Accept: text/csv` works too"},
    )

    @validates_schema
    def _range(self, data, **kwargs):
        if data.get("day_from") and data.get("day_to") and data["day_from"] > data["day_to"]:
            raise ValidationError("day_from must not be after day_to.", "day_from")


class StatementQuerySchema(Schema):
    """The statement's format."""

    format = fields.String(
        load_default="json",
        validate=validate.OneOf(("json", "csv", "pdf")),
        metadata={"description": "json (default), csv or pdf; `Accept: text/csv` / `application/pdf` work too"},
    )


class CloseDaySchema(Schema):
    """The business day to close."""

    business_day = fields.Date(required=True)


class TotalsMixin(Schema):
    """Activity, points, fees and net position (net > 0: the alliance pays the merchant)."""

    sales_count = fields.Integer()
    member_sales_fen = fields.Integer(metadata={"description": "Money members paid"})
    refunds_count = fields.Integer()
    refunds_fen = fields.Integer()
    points_granted = fields.Integer(metadata={"description": "Points earned minus points refunds took back"})
    points_accepted = fields.Integer(metadata={"description": "Points taken as payment minus points refunds gave back"})
    granted_value_fen = fields.Integer()
    accepted_value_fen = fields.Integer()
    service_fee_fen = fields.Integer()
    commission_fen = fields.Integer(metadata={"description": "Reserved for commissions (zero for now)"})
    net_fen = fields.Integer(metadata={"description": "accepted value - granted value - fees - commissions"})


class SettlementSchema(TotalsMixin):
    """One merchant's closed business day."""

    id = fields.String()
    merchant_id = fields.String()
    merchant_name = fields.String()
    business_day = fields.Date()
    status = fields.String()
    points_earned = fields.Integer()
    points_redeemed = fields.Integer()
    points_reversed = fields.Integer()
    points_restored = fields.Integer()
    point_value_fen = fields.Integer()
    fee_bp = fields.Integer()
    fee_per_sale_fen = fields.Integer()
    closed_at = fields.DateTime()


class StatementLineSchema(Schema):
    """A sale or refund of the day with its share of the position (refunds negative)."""

    kind = fields.String(metadata={"description": "sale or refund"})
    recorded_at = fields.DateTime()
    receipt_no = fields.String()
    sale_id = fields.String()
    refund_id = fields.String(allow_none=True)
    amount_fen = fields.Integer()
    money_fen = fields.Integer()
    points_granted = fields.Integer()
    points_accepted = fields.Integer()
    granted_value_fen = fields.Integer()
    accepted_value_fen = fields.Integer()
    per_sale_fee_fen = fields.Integer()


class StatementSchema(Schema):
    """A settlement with its lines down to each sale."""

    settlement = fields.Nested(SettlementSchema)
    lines = fields.List(fields.Nested(StatementLineSchema))


class SettlementDaySchema(Schema):
    """A closed business day."""

    business_day = fields.Date()
    status = fields.String()
    window_start = fields.DateTime()
    window_end = fields.DateTime()
    merchants = fields.Integer()
    net_fen = fields.Integer()
    point_value_fen = fields.Integer()
    closed_by = fields.String()
    closed_at = fields.DateTime()
    closed_now = fields.Boolean(metadata={"description": "False: the day was closed already; nothing changed"})


class MerchantReportSchema(TotalsMixin):
    """Totals of one merchant over the closed days in range."""

    merchant_id = fields.String()
    merchant_name = fields.String()
    days = fields.Integer()


class DayReportSchema(TotalsMixin):
    """Totals of one closed business day."""

    business_day = fields.Date()
    merchants = fields.Integer()


class LevelReportSchema(Schema):
    """Sales by member level."""

    level_code = fields.String()
    level_name = fields.String()
    sales_count = fields.Integer()
    amount_fen = fields.Integer()
    discount_fen = fields.Integer()
    member_sales_fen = fields.Integer()
    refunded_fen = fields.Integer()
    points_earned = fields.Integer()
    points_redeemed = fields.Integer()


class PointsReportSchema(Schema):
    """The points economy as the ledger stands now."""

    as_of = fields.Date()
    point_value_fen = fields.Integer()
    points_outstanding = fields.Integer(metadata={"description": "Held by members: the alliance's liability"})
    outstanding_value_fen = fields.Integer()
    points_granted = fields.Integer()
    points_adjusted = fields.Integer()
    points_redeemed = fields.Integer()
    points_expired = fields.Integer(metadata={"description": "Breakage: expired points (alliance income)"})
    points_forfeited = fields.Integer(metadata={"description": "Breakage: points of closed member accounts"})
    breakage_value_fen = fields.Integer()
    redemption_rate_bp = fields.Integer(metadata={"description": "Redeemed / (granted + adjusted), rounded down"})
    breakage_rate_bp = fields.Integer()
    expiry_notice_days = fields.Integer()
    points_expiring_soon = fields.Integer(metadata={"description": "Open points expiring within the notice days"})
    open_lots = fields.Integer()


class PointsLotSchema(Schema):
    """Points earned together and when they expire."""

    id = fields.Integer()
    source = fields.String(metadata={"description": "sale, adjustment, opening or restore"})
    sale_id = fields.String(allow_none=True)
    earned_on = fields.Date()
    expires_on = fields.Date(metadata={"description": "Last day the points may be spent"})
    points = fields.Integer()
    remaining = fields.Integer()
    expired_points = fields.Integer()
    notified_on = fields.Date(allow_none=True)
