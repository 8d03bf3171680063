"""Withdrawals (提现) of agents' commission and the bonus pool (奖金池)."""

from __future__ import annotations

from flask.views import MethodView

from server.api.auth import STAFF_SECURITY, require_staff, staff_only
from server.api.blueprint import Blueprint
from server.api.idempotent import IDEMPOTENCY_PARAMETER, idempotent
from server.api.payout_schemas import (
    PERIOD,
    BonusPoolEnvelopeSchema,
    BonusPoolSchema,
    DistributionRequestSchema,
    PayoutPolicySchema,
    PayoutPolicyUpdateSchema,
    WithdrawalCreateSchema,
    WithdrawalEnvelopeSchema,
    WithdrawalQuerySchema,
    WithdrawalRejectSchema,
    WithdrawalSchema,
)
from server.services import payout_queries, withdrawals

blp = Blueprint("operator_payouts", __name__, url_prefix="/api/v1", description="Withdrawals and the bonus pool")
blp.before_request(staff_only)
PERIOD_PARAMETER = {
    "in": "path",
    "name": "period",
    "required": True,
    "schema": {"type": "string", "pattern": PERIOD, "maxLength": 7},
}


@blp.route("/withdrawals")
class Withdrawals(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.arguments(WithdrawalQuerySchema, location="query")
    @blp.response(200, WithdrawalSchema(many=True))
    @blp.paginate()
    def get(self, filters, pagination_parameters):
        """Withdrawals, newest first, by agent and status (the account number masked)."""
        require_staff("withdrawals:read")
        return payout_queries.list_withdrawals(filters, pagination_parameters)

    @blp.doc(security=STAFF_SECURITY, parameters=[IDEMPOTENCY_PARAMETER])
    @blp.arguments(WithdrawalCreateSchema)
    @blp.response(201, WithdrawalEnvelopeSchema)
    def post(self, args):
        """Ask for a withdrawal on an agent's behalf (idempotent): refused while the agent has a debt, under
        the minimum, over the available balance or over the daily maximum; the amount leaves available at once."""
        actor = require_staff("withdrawals:request")
        return idempotent(
            actor,
            lambda: {
                "withdrawal": payout_queries.request_for_api(actor.key, args),
            },
        )


@blp.route("/withdrawals/<withdrawal_id>/approve")
class WithdrawalApprove(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.response(200, WithdrawalEnvelopeSchema)
    def post(self, withdrawal_id):
        """Finance approves a requested withdrawal (again: no change); the next payout run pays it."""
        actor = require_staff("withdrawals:approve")
        return {"withdrawal": withdrawals.approve_withdrawal(actor.key, withdrawal_id)}


@blp.route("/withdrawals/<withdrawal_id>/reject")
class WithdrawalReject(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.arguments(WithdrawalRejectSchema)
    @blp.response(200, WithdrawalEnvelopeSchema)
    def post(self, args, withdrawal_id):
        """Finance rejects a requested withdrawal with a reason; the money returns to the agent's available balance."""
        actor = require_staff("withdrawals:approve")
        return {"withdrawal": withdrawals.reject_withdrawal(actor.key, withdrawal_id, args["reason"])}


@blp.route("/payout-policy")
class PayoutPolicy(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.response(200, PayoutPolicySchema)
    def get(self):
        """The withdrawal, tax and bonus pool settings: minimum, daily maximum, fee, tax rate, payout channel,
        the pool's share of fee income and the reserve's share."""
        require_staff("withdrawals:read")
        return withdrawals.policy_document()

    @blp.doc(security=STAFF_SECURITY)
    @blp.arguments(PayoutPolicyUpdateSchema)
    @blp.response(200, PayoutPolicySchema)
    def put(self, args):
        """Change the settings (finance or admin); settings left out keep their values, a reason is required
        (audit log). Refused, changing nothing, when the minimum would exceed the daily maximum. Withdrawals
        asked from then on follow the new settings; those already asked keep theirs."""
        actor = require_staff("payout_policy:write")
        reason = args.pop("reason")
        return withdrawals.policy_document(withdrawals.update_payout_policy(actor.key, reason, **args))


@blp.route("/bonus-pools")
class BonusPools(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.response(200, BonusPoolSchema(many=True))
    def get(self):
        """The bonus pool by month, newest first: fee income, pool, reserve, distribution state and shares."""
        require_staff("bonus_pool:read")
        return payout_queries.bonus_pools()


@blp.route("/bonus-pools/<period>/distribution")
class BonusPoolDistribution(MethodView):
    @blp.doc(security=STAFF_SECURITY, parameters=[PERIOD_PARAMETER])
    @blp.arguments(DistributionRequestSchema, required=False)
    @blp.response(200, BonusPoolEnvelopeSchema)
    def post(self, args, period):
        """Distribute an ended month's pool among agents by their own serviced GMV × health (never by team volume
        or headcount; shares sum exactly), reverse that distribution before it is paid, or pay it (audited)."""
        actor = require_staff("bonus_pool:write")
        return {"bonus_pool": payout_queries.distribution_action(actor.key, period, args["action"], args["reason"])}
