"""Commissions (分润): the entries, the versioned commission policy and each agent's money balances."""

from __future__ import annotations

from flask.views import MethodView

from server.api.auth import STAFF_SECURITY, require_staff, staff_only
from server.api.blueprint import Blueprint
from server.api.commission_schemas import (
    AgentBalanceSchema,
    CommissionPolicySchema,
    CommissionPolicyUpdateSchema,
    CommissionQuerySchema,
    CommissionSchema,
)
from server.services import commissions

blp = Blueprint(
    "operator_commissions", __name__, url_prefix="/api/v1", description="Commissions (分润) and the money ledger"
)
blp.before_request(staff_only)


@blp.route("/commissions")
class Commissions(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.arguments(CommissionQuerySchema, location="query")
    @blp.response(200, CommissionSchema(many=True))
    @blp.paginate()
    def get(self, filters, pagination_parameters):
        """Commission entries by agent (or promoter member), sale, merchant, status, role and month, newest first."""
        require_staff("agents:read")
        return commissions.page_commissions(filters, pagination_parameters)


@blp.route("/commission-policy")
class CommissionPolicy(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.response(200, CommissionPolicySchema)
    def get(self):
        """The current version of the commission policy, with the merchants' overrides."""
        require_staff("agents:read")
        return commissions.policy_document()

    @blp.doc(security=STAFF_SECURITY)
    @blp.arguments(CommissionPolicyUpdateSchema)
    @blp.response(200, CommissionPolicySchema)
    def put(self, args):
        """Write the next version (the current one is never edited); fields left out keep their values.

        Switching management commission (团队计酬) on needs ``acknowledgement``: it is audit-logged and shown on
        every statement."""
        actor = require_staff("alliance:write")
        reason, acknowledgement = args.pop("reason"), args.pop("acknowledgement", "")
        commissions.update_policy(actor.key, args, reason, acknowledgement)
        return commissions.policy_document()


@blp.route("/agents/<agent_id>/balance")
class AgentBalance(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.response(200, AgentBalanceSchema)
    def get(self, agent_id):
        """The agent's commission money: pending, available, paid, debt, and what it may withdraw now."""
        require_staff("agents:read")
        return commissions.agent_balance_now(agent_id)
