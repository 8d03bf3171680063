"""Rows of the finance reports, shared by the API (JSON, CSV) and the console (tables, CSV downloads).

All money in fen, rates in basis points.
"""

from __future__ import annotations

from marshmallow import Schema, fields


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
