"""Request and response schemas of anti-brushing rules and flags, complaints and agents' violations."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from server.api.fields import StrictBoolean, Text
from server.api.operator_schemas import Choice, NotEmptyMixin
from server.domain.brushing import KINDS, SUBJECT_TYPES
from server.domain.statuses import BrushingFlagStatus, ComplaintStatus

MAX_PARAMETER = 100_000_000


class BrushingRuleSchema(Schema):
    id = fields.String()
    code = fields.String()
    kind = Choice(KINDS)
    name = fields.String()
    parameters = fields.Dict(keys=fields.String(), values=fields.Integer())
    enabled = fields.Boolean()
    updated_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


class BrushingRuleEnvelopeSchema(Schema):
    rule = fields.Nested(BrushingRuleSchema)


class BrushingRuleUpdateSchema(NotEmptyMixin, Schema):
    enabled = StrictBoolean()
    parameters = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(strict=True, validate=validate.Range(min=0, max=MAX_PARAMETER)),
        validate=validate.Length(min=1, max=10),
        metadata={"description": "Parameters to change (names and ranges per kind; the others are kept)"},
    )


class BrushingScanSchema(Schema):
    sales = fields.Integer()
    flagged = fields.Integer()
    already_flagged = fields.Integer()
    sales_added = fields.Integer()
    scanned_from = fields.DateTime(metadata={"description": "The scan covered the sales since this moment"})


class BrushingFlagSchema(Schema):
    id = fields.String()
    rule_id = fields.String()
    subject_type = Choice(SUBJECT_TYPES)
    subject_id = fields.String()
    merchant_id = fields.String(allow_none=True)
    agent_id = fields.String(allow_none=True)
    window = fields.String(metadata={"description": "The local day (YYYY-MM-DD) or month (YYYY-MM) it covers"})
    window_start = fields.DateTime()
    details = fields.Dict()
    sale_ids = fields.List(fields.String(), metadata={"description": "The sales it holds while open or confirmed"})
    status = Choice(BrushingFlagStatus)
    review_reason = fields.String()
    reviewed_by = fields.String(allow_none=True)
    reviewed_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


class BrushingFlagEnvelopeSchema(Schema):
    flag = fields.Nested(BrushingFlagSchema)


class BrushingFlagQuerySchema(Schema):
    status = Choice(BrushingFlagStatus)
    rule_id = Text(24)
    agent_id = Text(24)
    merchant_id = Text(24)
    subject_type = Choice(SUBJECT_TYPES)
    subject_id = Text(24)
    sale_id = Text(24, metadata={"description": "Flags holding this sale"})


class BrushingFlagReviewSchema(NotEmptyMixin, Schema):
    status = Choice(
        (BrushingFlagStatus.CLEARED, BrushingFlagStatus.CONFIRMED),
        required=True,
        metadata={"description": "cleared: its sales are released; confirmed: held, and the agent's health counts it"},
    )
    reason = Text(200, required=True)


class ComplaintSchema(Schema):
    id = fields.String()
    merchant_id = fields.String(allow_none=True)
    agent_id = fields.String(allow_none=True)
    summary = fields.String()
    status = Choice(ComplaintStatus)
    response = fields.String()
    opened_at = fields.DateTime()
    responded_at = fields.DateTime(allow_none=True)
    closed_at = fields.DateTime(allow_none=True)
    recorded_by = fields.String()


class ComplaintEnvelopeSchema(Schema):
    complaint = fields.Nested(ComplaintSchema)


class ComplaintQuerySchema(Schema):
    status = Choice(ComplaintStatus)
    merchant_id = Text(24)
    agent_id = Text(24)


class ComplaintCreateSchema(Schema):
    """A complaint against a merchant, an agent, or both (one of them at least); opened now."""

    summary = Text(500, required=True)
    merchant_id = Text(24)
    agent_id = Text(24)


class ComplaintUpdateSchema(NotEmptyMixin, Schema):
    status = Choice((ComplaintStatus.RESPONDED, ComplaintStatus.CLOSED), required=True)
    response = Text(500, metadata={"description": "The answer (required to answer)"})


class AgentViolationSchema(Schema):
    id = fields.String()
    agent_id = fields.String()
    occurred_at = fields.DateTime()
    description = fields.String()
    recorded_by = fields.String()


class AgentViolationEnvelopeSchema(Schema):
    violation = fields.Nested(AgentViolationSchema)


class AgentViolationQuerySchema(Schema):
    agent_id = Text(24)


class AgentViolationCreateSchema(Schema):
    """An agent's violation, recorded now; it counts against the agent's health score for the month."""

    agent_id = Text(24, required=True)
    description = Text(500, required=True)
