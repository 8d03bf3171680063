"""Schemas of the settlement and finance report endpoints (all money in fen, rates in basis points)."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from server.report_schemas import DayReportSchema as DayReportSchema
from server.report_schemas import LevelReportSchema as LevelReportSchema
from server.report_schemas import MerchantReportSchema as MerchantReportSchema
from server.report_schemas import PointsReportSchema as PointsReportSchema
from server.report_schemas import TotalsMixin

FORMATS = ("json", "csv", "xlsx")


class ReportQuerySchema(Schema):
    """A range of business days, one merchant, and the output format."""

    day_from = fields.Date(metadata={"description": "First business day (inclusive), not after day_to"})
    day_to = fields.Date(metadata={"description": "Last business day (inclusive)"})
    merchant_id = fields.String(validate=validate.Length(max=24))
    format = fields.String(
        load_default="json",
        validate=validate.OneOf(FORMATS),
        metadata={
            "description": "json (default), csv or xlsx (one table, Chinese headers, yuan, alliance time);"
            " `Accept: text/csv` works too"
        },
    )

    @validates_schema
    def _range(self, data, **kwargs):
        if data.get("day_from") and data.get("day_to") and data["day_from"] > data["day_to"]:
            raise ValidationError("day_from must not be after day_to.", "day_from")


class StatementQuerySchema(Schema):
    """The statement's format."""

    format = fields.String(
        load_default="json",
        validate=validate.OneOf(("json", "csv", "xlsx", "pdf")),
        metadata={"description": "json (default), csv, xlsx or pdf; `Accept: text/csv` / `application/pdf` work too"},
    )


class CloseDaySchema(Schema):
    """The business day to close."""

    business_day = fields.Date(required=True)


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
    vouchers_count = fields.Integer(metadata={"description": "Sales that redeemed an alliance voucher here"})
    voucher_fen = fields.Integer(metadata={"description": "Those vouchers' value (every funder)"})
    voucher_refunded_fen = fields.Integer(metadata={"description": "The refunds' shares of vouchers accepted here"})
    voucher_owed_fen = fields.Integer(metadata={"description": "Net value of vouchers accepted here others fund"})
    voucher_sponsored_fen = fields.Integer(
        metadata={"description": "Net value of vouchers this merchant sponsors accepted elsewhere (it owes)"}
    )
    point_value_fen = fields.Integer()
    fee_bp = fields.Integer()
    fee_per_sale_fen = fields.Integer()
    closed_at = fields.DateTime()
    paid = fields.Boolean(metadata={"description": "Whether finance has marked the net position paid"})
    paid_at = fields.DateTime(allow_none=True)
    paid_by = fields.String(allow_none=True)
    payment_reference = fields.String(metadata={"description": "The transfer's reference, as finance noted it"})


class PaymentSchema(Schema):
    """Mark a settlement paid (with the transfer's reference) or unpaid again."""

    paid = fields.Boolean(required=True)
    reference = fields.String(load_default="", validate=validate.Length(max=100))


class StatementLineSchema(Schema):
    """A sale or refund of the day with its share of the position (refunds negative)."""

    kind = fields.String(
        metadata={
            "description": "sale, refund, service_fee (on net member sales), commission, voucher, voucher_refund, "
            "voucher_sponsored or voucher_sponsored_refund; nets add up"
        }
    )
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
    fee_fen = fields.Integer(metadata={"description": "Fees of the line (per-sale fee, or the day's service fee)"})
    voucher_fen = fields.Integer(metadata={"description": "A voucher accepted here: its value (refunds negative)"})
    voucher_owed_fen = fields.Integer(
        metadata={"description": "What the voucher's funder owes this merchant (negative: this merchant sponsors it)"}
    )
    net_fen = fields.Integer(
        metadata={"description": "accepted value - granted value - fees + owed for vouchers; lines sum to net_fen"}
    )


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
    voucher_alliance_fen = fields.Integer(
        metadata={"description": "The alliance's side: alliance-funded vouchers accepted that day, net of refunds"}
    )
    point_value_fen = fields.Integer()
    closed_by = fields.String()
    closed_at = fields.DateTime()
    closed_now = fields.Boolean(metadata={"description": "False: the day was closed already; nothing changed"})


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
