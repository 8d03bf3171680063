"""Request and response schemas of commissions (分润), the commission policy and agents' money balances."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from server.api.fields import StrictBoolean, Text
from server.api.operator_schemas import Choice, OptionalText
from server.domain.commissions import BASES, FUNDINGS, HARD_MAX_DEPTH, ROLES
from server.domain.statuses import CommissionStatus

BP = validate.Range(min=0, max=10_000)
PERIOD = validate.Regexp(r"^2\d{3}-(0[1-9]|1[0-2])$", error="A period is a month, YYYY-MM.")


def _bp(description: str) -> fields.Integer:
    return fields.Integer(strict=True, validate=BP, metadata={"description": description})


class CommissionSchema(Schema):
    id = fields.Integer()
    sale_id = fields.String()
    merchant_id = fields.String()
    business_day = fields.Date()
    beneficiary_kind = Choice(("agent", "member"))
    beneficiary_id = fields.String()
    role = Choice(ROLES)
    depth = fields.Integer(metadata={"description": "0 for the sale's own roles; 1-2: the upper agent's level"})
    policy_version = fields.Integer()
    base_fen = fields.Integer(metadata={"description": "What the rate applied to (management: the commission below)"})
    rate_bp = fields.Integer()
    amount_fen = fields.Integer(metadata={"description": "After the per-sale envelope"})
    reversed_fen = fields.Integer(metadata={"description": "Taken back by refunds or a confirmed flag, cumulative"})
    funded_by = Choice(("merchant", "platform"))
    status = Choice(CommissionStatus)
    available_on = fields.Date()
    released_on = fields.Date(allow_none=True)
    created_at = fields.DateTime()


class CommissionQuerySchema(Schema):
    agent_id = fields.String(validate=validate.Length(max=24))
    member_id = fields.String(validate=validate.Length(max=24))
    sale_id = fields.String(validate=validate.Length(max=24))
    merchant_id = fields.String(validate=validate.Length(max=24))
    status = Choice(CommissionStatus)
    role = Choice(ROLES)
    period = fields.String(
        validate=[validate.Length(max=7), PERIOD], metadata={"description": "The sales' business month, YYYY-MM"}
    )


class MerchantTermSchema(Schema):
    merchant_id = fields.String(required=True, validate=validate.Length(min=1, max=24))
    rate_bp = fields.Integer(strict=True, validate=BP, allow_none=True, load_default=None)
    return_window_days = fields.Integer(
        strict=True, validate=validate.Range(min=0, max=365), allow_none=True, load_default=None
    )


class CommissionPolicySchema(Schema):
    version = fields.Integer()
    base = Choice(BASES, metadata={"description": "paid: the sale's paid amount (实付); service_fee: the fee"})
    funding = Choice(FUNDINGS, metadata={"description": "on_top of the merchant's service fee, or within_fee"})
    envelope_bp = fields.Integer(metadata={"description": "Cap of all commissions on one sale, bp of the base"})
    recruiter_rate_bp = fields.Integer()
    member_recruiter_rate_bp = fields.Integer()
    management_enabled = fields.Boolean()
    management_rate_bp = fields.Integer()
    management_depth = fields.Integer()
    management_ack_text = fields.String()
    management_ack_by = fields.String(allow_none=True)
    management_warning = fields.String()
    regional_fee_bp = fields.Integer()
    return_window_days = fields.Integer()
    merchant_terms = fields.List(fields.Nested(MerchantTermSchema))
    reason = fields.String()
    created_by = fields.String()
    created_at = fields.DateTime()


class CommissionPolicyUpdateSchema(Schema):
    base = Choice(BASES)
    funding = Choice(FUNDINGS)
    envelope_bp = _bp("Cap of all commissions on one sale, bp of the base")
    recruiter_rate_bp = _bp("Rate of the agent who recruited the member")
    member_recruiter_rate_bp = _bp("Rate of the promoter member who invited the member")
    management_enabled = StrictBoolean(
        metadata={"description": "团队计酬: off by default; on only with an acknowledgement (禁止传销条例 art. 7(3))"}
    )
    management_rate_bp = _bp("Share of the commission one level below")
    management_depth = fields.Integer(
        strict=True,
        validate=validate.Range(min=1, max=HARD_MAX_DEPTH - 1),
        metadata={"description": "Upper levels paid (3 levels at most including the top)"},
    )
    regional_fee_bp = _bp("Regional management fee on the GMV in the agent's exclusive territory")
    return_window_days = fields.Integer(strict=True, validate=validate.Range(min=0, max=365))
    merchant_terms = fields.List(fields.Nested(MerchantTermSchema), validate=validate.Length(max=1_000))
    reason = Text(200, required=True, metadata={"description": "Why the policy changes (audit log)"})
    acknowledgement = OptionalText(400, metadata={"description": "Required to switch management commission on"})


class AgentBalanceSchema(Schema):
    agent_id = fields.String()
    pending_fen = fields.Integer()
    available_fen = fields.Integer()
    paid_fen = fields.Integer()
    debt_fen = fields.Integer(metadata={"description": "≤ 0: commission taken back after it was available"})
    withdrawable_fen = fields.Integer(metadata={"description": "0 while in debt"})
