"""Request and response schemas of benefit distribution: campaigns, grants, batch grants, partner grants."""

from __future__ import annotations

from flask_smorest.fields import Upload
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from server.api.fields import Text
from server.api.operator_schemas import Choice, NotEmptyMixin, RegionCode
from server.domain.statuses import BenefitCampaignStatus, BenefitChannel

BUDGET = validate.Range(min=1, max=1_000_000)
MAX_BATCH_BYTES = 4 * 1024 * 1024  # a list of 20,000 members (the most one batch takes), CSV or XLSX


class BenefitCampaignSchema(Schema):
    id = fields.String()
    code = fields.String()
    name = fields.String()
    description = fields.String()
    sku_id = fields.String()
    starts_at = fields.DateTime()
    ends_at = fields.DateTime()
    total_budget = fields.Integer()
    remaining = fields.Integer(metadata={"description": "What is left of the total budget"})
    per_member_limit = fields.Integer()
    min_level_rank = fields.Integer(allow_none=True)
    region_code = fields.String(allow_none=True)
    agent_id = fields.String(allow_none=True)
    active_within_days = fields.Integer(allow_none=True)
    status = Choice(BenefitCampaignStatus)
    created_at = fields.DateTime()


class BenefitCampaignEnvelopeSchema(Schema):
    campaign = fields.Nested(BenefitCampaignSchema)


class BenefitCampaignCreateSchema(Schema):
    code = Text(32, required=True)
    name = Text(100, required=True)
    description = Text(500, min_length=0, load_default="")
    sku_id = Text(24, required=True)
    starts_at = fields.AwareDateTime(required=True)
    ends_at = fields.AwareDateTime(required=True, metadata={"description": "After starts_at"})
    total_budget = fields.Integer(required=True, validate=BUDGET)
    per_member_limit = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100))
    min_level_rank = fields.Integer(
        allow_none=True, validate=validate.Range(min=0, max=100), metadata={"description": "Lowest level rank"}
    )
    region_code = RegionCode(allow_none=True)
    agent_id = Text(24, allow_none=True, metadata={"description": "Only members this agent recruited"})
    active_within_days = fields.Integer(
        allow_none=True, validate=validate.Range(min=1, max=3650), metadata={"description": "A sale within N days"}
    )

    @validates_schema
    def window(self, data, **kwargs):
        if data["starts_at"] >= data["ends_at"]:
            raise ValidationError("The campaign must end after it starts.", "ends_at")


class BenefitCampaignUpdateSchema(NotEmptyMixin, Schema):
    status = fields.String(required=True, validate=validate.OneOf(["active", "closed"]))


class BenefitGrantSchema(Schema):
    id = fields.String()
    channel = Choice(BenefitChannel)
    source_id = fields.String()
    member_id = fields.String()
    sku_id = fields.String()
    code_id = fields.String(metadata={"description": "The code issued (its text is shown only to the member)"})
    campaign_id = fields.String(allow_none=True)
    batch_id = fields.String(allow_none=True)
    partner_id = fields.String(allow_none=True)
    points_spent = fields.Integer()
    created_at = fields.DateTime()


class BenefitGrantQuerySchema(Schema):
    member_id = Text(24)
    channel = Choice(BenefitChannel)


class BenefitGrantEnvelopeSchema(Schema):
    grant = fields.Nested(BenefitGrantSchema)


class BenefitBatchFileSchema(Schema):
    file = Upload(
        required=True,
        metadata={
            "description": "CSV or XLSX: a column headed phone (手机号), else the first; at most 4 MiB",
            "maxLength": MAX_BATCH_BYTES,
        },
    )


class BenefitBatchQuerySchema(Schema):
    sku_id = Text(24, required=True)
    dry_run = fields.Boolean(load_default=True, metadata={"description": "true (the default): report only"})


class BenefitBatchRowSchema(Schema):
    row = fields.Integer()
    phone_masked = fields.String()
    outcome = fields.String(validate=validate.OneOf(["grant", "skip"]))
    reason = fields.String(
        metadata={"description": "Why skipped: bad_phone, not_a_member, member_not_active, duplicate"}
    )


class BenefitBatchReportSchema(Schema):
    batch_id = fields.String(allow_none=True, metadata={"description": "None for a dry run"})
    sku_id = fields.String()
    sku_code = fields.String()
    dry_run = fields.Boolean()
    rows_total = fields.Integer()
    to_grant = fields.Integer()
    granted = fields.Integer()
    skipped = fields.Integer()
    available = fields.Integer(metadata={"description": "Codes of the SKU available in stock before the grant"})
    rows = fields.List(fields.Nested(BenefitBatchRowSchema))


class PartnerGrantSchema(Schema):
    request_id = Text(64, required=True, metadata={"description": "The partner's id of this grant (idempotent)"})
    phone = Text(20, required=True, metadata={"description": "The member's mobile number"})
    sku_id = Text(24, required=True)


class PartnerGrantResultSchema(Schema):
    grant_id = fields.String()
    request_id = fields.String()
    sku_id = fields.String()
    member_masked_phone = fields.String()
    created_at = fields.DateTime()


class PartnerRedemptionSchema(Schema):
    codes = fields.List(
        Text(200),
        required=True,
        validate=validate.Length(min=1, max=500),
        metadata={"description": "The codes (卡密 codes) the supplier's customers redeemed, at most 500"},
    )


class PartnerRedemptionResultSchema(Schema):
    class Result(Schema):
        code_last4 = fields.String()
        outcome = fields.String(metadata={"description": "redeemed (now or before), or unknown"})

    results = fields.List(fields.Nested(Result))
