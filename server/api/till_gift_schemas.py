"""Request and response schemas of a merchant's gift with a purchase (满赠) rules."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from server.api.fields import Text
from server.api.operator_schemas import Choice, NotEmptyMixin
from server.domain.statuses import GiftLimitPeriod

MIN_PAYABLE = validate.Range(min=1, max=100_000_000)
MEMBER_LIMIT = validate.Range(min=1, max=100)


class GiftRuleSchema(Schema):
    id = fields.String()
    merchant_id = fields.String()
    sku_id = fields.String(metadata={"description": "The alliance voucher given"})
    min_payable_fen = fields.Integer(metadata={"description": "A sale paying at least this earns the gift"})
    starts_at = fields.DateTime()
    ends_at = fields.DateTime(allow_none=True)
    per_member_limit = fields.Integer(allow_none=True, metadata={"description": "Gifts per member and period"})
    limit_period = Choice(GiftLimitPeriod)
    active = fields.Boolean()
    granted_count = fields.Integer(metadata={"description": "Gifts given"})
    out_of_stock_count = fields.Integer(metadata={"description": "Qualifying sales that found no code in stock"})
    created_at = fields.DateTime()


class GiftRuleEnvelopeSchema(Schema):
    rule = fields.Nested(GiftRuleSchema)


class _Window:
    @validates_schema
    def window(self, data, **kwargs):
        if data.get("starts_at") and data.get("ends_at") and data["starts_at"] >= data["ends_at"]:
            raise ValidationError("The gift must end after it starts.", "ends_at")


class GiftRuleCreateSchema(_Window, Schema):
    sku_id = Text(24, required=True)
    min_payable_fen = fields.Integer(required=True, validate=MIN_PAYABLE)
    starts_at = fields.AwareDateTime(load_default=None, metadata={"description": "Default: now"})
    ends_at = fields.AwareDateTime(allow_none=True, load_default=None)
    per_member_limit = fields.Integer(allow_none=True, load_default=None, validate=MEMBER_LIMIT)
    limit_period = Choice(GiftLimitPeriod, load_default=GiftLimitPeriod.DAY)
    active = fields.Boolean(load_default=True)


class GiftRuleUpdateSchema(NotEmptyMixin, _Window, Schema):
    sku_id = Text(24)
    min_payable_fen = fields.Integer(validate=MIN_PAYABLE)
    starts_at = fields.AwareDateTime()
    ends_at = fields.AwareDateTime(allow_none=True)
    per_member_limit = fields.Integer(allow_none=True, validate=MEMBER_LIMIT)
    limit_period = Choice(GiftLimitPeriod)
    active = fields.Boolean()
