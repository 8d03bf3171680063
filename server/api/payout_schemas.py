"""Schemas of the withdrawal (提现) and bonus pool endpoints (money in fen, rates in basis points)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from server.domain.statuses import BonusDistributionStatus, WithdrawalStatus

PERIOD = r"^20[0-9]{2}-(0[1-9]|1[0-2])$"


class WithdrawalQuerySchema(Schema):
    agent_id = fields.String(validate=validate.Length(min=1, max=24))
    status = fields.String(validate=validate.OneOf([s.value for s in WithdrawalStatus]))


class WithdrawalCreateSchema(Schema):
    """A withdrawal asked on an agent's behalf (the agent asks in the agent portal)."""

    agent_id = fields.String(required=True, validate=validate.Length(min=1, max=24))
    amount_fen = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=1, max=1_000_000_000), metadata={"description": "Gross"}
    )
    channel = fields.String(required=True, validate=validate.OneOf(["bank_file", "wechat"]))
    payee_name = fields.String(required=True, validate=validate.Length(min=2, max=50))
    account_number = fields.String(
        required=True,
        validate=validate.Length(min=6, max=64),
        metadata={"description": "Bank account number (bank_file) or the payee's WeChat openid (wechat)"},
    )
    bank = fields.String(load_default="", validate=validate.Length(max=50))


class WithdrawalRejectSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=2, max=200))


class WithdrawalSchema(Schema):
    id = fields.String()
    agent_id = fields.String()
    status = fields.String(validate=validate.OneOf([s.value for s in WithdrawalStatus]))
    amount_fen = fields.Integer(metadata={"description": "Gross: what left the available balance"})
    fee_fen = fields.Integer()
    tax_fen = fields.Integer(metadata={"description": "Tax withheld (individual agents only)"})
    net_fen = fields.Integer(metadata={"description": "What the agent receives"})
    tax_rate_bp = fields.Integer()
    channel = fields.String()
    payee_name = fields.String()
    account_masked = fields.String()
    bank = fields.String()
    out_detail_no = fields.String(metadata={"description": "Our payout reference, paid at most once"})
    requested_on = fields.Date()
    requested_at = fields.DateTime()
    decided_at = fields.DateTime(allow_none=True)
    reject_reason = fields.String()
    payout_status = fields.String(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)
    fail_reason = fields.String()


class WithdrawalEnvelopeSchema(Schema):
    withdrawal = fields.Nested(WithdrawalSchema)


class BonusShareSchema(Schema):
    agent_id = fields.String()
    serviced_gmv_fen = fields.Integer()
    health_score = fields.Integer()
    weight = fields.Integer(metadata={"description": "serviced_gmv_fen × health_score: the agent's own contribution"})
    share_fen = fields.Integer()


class BonusPoolSchema(Schema):
    period = fields.String(metadata={"description": "YYYY-MM"})
    status = fields.String(validate=validate.OneOf([s.value for s in BonusDistributionStatus]))
    fee_income_fen = fields.Integer()
    pool_fen = fields.Integer(metadata={"description": "Distributable at period end"})
    reserve_fen = fields.Integer(metadata={"description": "Stays in the reserve"})
    pool_share_bp = fields.Integer()
    reserve_share_bp = fields.Integer()
    round = fields.Integer()
    distributed_fen = fields.Integer()
    distributed_at = fields.DateTime(allow_none=True)
    paid_at = fields.DateTime(allow_none=True)
    shares = fields.List(fields.Nested(BonusShareSchema))


class BonusPoolEnvelopeSchema(Schema):
    bonus_pool = fields.Nested(BonusPoolSchema)


class DistributionRequestSchema(Schema):
    action = fields.String(
        load_default="distribute",
        validate=validate.OneOf(["distribute", "reverse", "pay"]),
        metadata={
            "description": "distribute (accrues first if needed), reverse (before paid: shares back to the pool)"
            " or pay (shares become available to the agents; final)"
        },
    )
    reason = fields.String(load_default="", validate=validate.Length(max=200))
