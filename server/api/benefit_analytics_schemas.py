"""Request and response schemas of the benefit analytics (rows: ``server/benefit_report_schemas.py``)."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from server.api.fields import Text
from server.api.finance_schemas import FORMATS
from server.api.operator_schemas import Choice
from server.benefit_report_schemas import BenefitRetentionRowSchema as BenefitRetentionRowSchema
from server.benefit_report_schemas import BenefitSummaryRowSchema as BenefitSummaryRowSchema
from server.services.benefit_analytics import GROUPS

FORMAT_DOC = "json (default), csv or xlsx (one table, Chinese headers); `Accept: text/csv` works too"


class BenefitAnalyticsQuerySchema(Schema):
    """A range of local days, one SKU, the grouping and the output format."""

    day_from = fields.Date(metadata={"description": "First day (inclusive, alliance time), not after day_to"})
    day_to = fields.Date(metadata={"description": "Last day (inclusive)"})
    sku_id = Text(24, metadata={"description": "Only this SKU's codes"})
    group_by = Choice(GROUPS, load_default="sku")
    format = fields.String(load_default="json", validate=validate.OneOf(FORMATS), metadata={"description": FORMAT_DOC})

    @validates_schema
    def _ordered(self, data, **_kwargs):
        if data.get("day_from") and data.get("day_to") and data["day_from"] > data["day_to"]:
            raise ValidationError("day_from must not be after day_to.", "day_from")


MONTH = validate.Regexp(r"^20[0-9]{2}-(0[1-9]|1[0-2])$", error="A month is written YYYY-MM.")


class BenefitRetentionQuerySchema(Schema):
    """The cohorts' months (default: the last 12) and the output format."""

    month_from = fields.String(
        validate=[validate.Length(max=7), MONTH],
        metadata={"description": "First cohort month, YYYY-MM (alliance time), not after month_to"},
    )
    month_to = fields.String(
        validate=[validate.Length(max=7), MONTH],
        metadata={"description": "Last cohort month, YYYY-MM; at most 24 months"},
    )
    format = fields.String(load_default="json", validate=validate.OneOf(FORMATS), metadata={"description": FORMAT_DOC})

    @validates_schema
    def _ordered(self, data, **_kwargs):
        if data.get("month_from") and data.get("month_to") and data["month_from"] > data["month_to"]:
            raise ValidationError("month_from must not be after month_to.", "month_from")
