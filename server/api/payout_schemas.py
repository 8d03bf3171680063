"""Schemas of the withdrawal (提现) and bonus pool endpoints (money in fen, rates in basis points)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from server.api.fields import Text
from server.domain.statuses import BonusDistributionStatus, WithdrawalStatus
from server.domain.withdrawals import POLICY_BOUNDS

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


POLICY_DESCRIPTIONS = {
    "withdrawal_minimum_fen": "Smallest withdrawal (fen)",
    "withdrawal_daily_maximum_fen": "Most one agent may withdraw per local day (fen); at least the minimum",
    "withdrawal_fee_fixed_fen": "Fixed fee per withdrawal (fen)",
    "withdrawal_fee_bp": "Fee rate on the amount (basis points)",
    "tax_rate_bp": "Tax withheld from individual agents (basis points, at most 45 %)",
    "bonus_pool_share_bp": "Share of the platform's fee income that accrues to the bonus pool (basis points)",
    "bonus_reserve_share_bp": "Share of what accrues that stays in the reserve (basis points)",
    "bonus_min_health_score": "Agents below this health score get no share",
}
CHANNEL_DESCRIPTION = "How approved withdrawals are paid: bank_file (a bank transfer file) or wechat (WeChat Pay)"


class PayoutPolicySchema(Schema):
    """The withdrawal, tax and bonus pool settings (money in fen, rates in basis points)."""

    withdrawal_minimum_fen = fields.Integer(metadata={"description": POLICY_DESCRIPTIONS["withdrawal_minimum_fen"]})
    withdrawal_daily_maximum_fen = fields.Integer(
        metadata={"description": POLICY_DESCRIPTIONS["withdrawal_daily_maximum_fen"]}
    )
    withdrawal_fee_fixed_fen = fields.Integer(metadata={"description": POLICY_DESCRIPTIONS["withdrawal_fee_fixed_fen"]})
    withdrawal_fee_bp = fields.Integer(metadata={"description": POLICY_DESCRIPTIONS["withdrawal_fee_bp"]})
    tax_rate_bp = fields.Integer(metadata={"description": POLICY_DESCRIPTIONS["tax_rate_bp"]})
    payout_channel = fields.String(
        validate=validate.OneOf(["bank_file", "wechat"]), metadata={"description": CHANNEL_DESCRIPTION}
    )
    bonus_pool_share_bp = fields.Integer(metadata={"description": POLICY_DESCRIPTIONS["bonus_pool_share_bp"]})
    bonus_reserve_share_bp = fields.Integer(metadata={"description": POLICY_DESCRIPTIONS["bonus_reserve_share_bp"]})
    bonus_min_health_score = fields.Integer(metadata={"description": POLICY_DESCRIPTIONS["bonus_min_health_score"]})


def _bounded(name: str) -> fields.Integer:
    low, high = POLICY_BOUNDS[name]
    return fields.Integer(
        strict=True, validate=validate.Range(min=low, max=high), metadata={"description": POLICY_DESCRIPTIONS[name]}
    )


class PayoutPolicyUpdateSchema(Schema):
    """A change of the payout policy: settings left out keep their values; a reason is required (audit log)."""

    withdrawal_minimum_fen = _bounded("withdrawal_minimum_fen")
    withdrawal_daily_maximum_fen = _bounded("withdrawal_daily_maximum_fen")
    withdrawal_fee_fixed_fen = _bounded("withdrawal_fee_fixed_fen")
    withdrawal_fee_bp = _bounded("withdrawal_fee_bp")
    tax_rate_bp = _bounded("tax_rate_bp")
    payout_channel = fields.String(
        validate=validate.OneOf(["bank_file", "wechat"]), metadata={"description": CHANNEL_DESCRIPTION}
    )
    bonus_pool_share_bp = _bounded("bonus_pool_share_bp")
    bonus_reserve_share_bp = _bounded("bonus_reserve_share_bp")
    bonus_min_health_score = _bounded("bonus_min_health_score")
    reason = Text(200, required=True, metadata={"description": "Why the policy changes (audit log)"})
