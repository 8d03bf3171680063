"""The agent network: agents, agent levels, evaluations, early-warning alerts and the regions they work in."""

from __future__ import annotations

from flask.views import MethodView

from server.api.agent_schemas import (
    AgentAlertQuerySchema,
    AgentAlertSchema,
    AgentCreateSchema,
    AgentEnvelopeSchema,
    AgentEvaluationRequestSchema,
    AgentEvaluationRunSchema,
    AgentEvaluationSchema,
    AgentLevelCreateSchema,
    AgentLevelEnvelopeSchema,
    AgentLevelSchema,
    AgentLevelUpdateSchema,
    AgentPolicySchema,
    AgentPolicyUpdateSchema,
    AgentQuerySchema,
    AgentSchema,
    AgentUpdateSchema,
    RegionQuerySchema,
    RegionSchema,
)
from server.api.auth import STAFF_SECURITY, authenticate_staff, require_staff, staff_only
from server.api.blueprint import Blueprint
from server.api.idempotent import IDEMPOTENCY_PARAMETER, idempotent
from server.services import agent_evaluation, agent_queries, agents, regions

blp = Blueprint("operator_agents", __name__, url_prefix="/api/v1", description="Agents (代理) and their levels")
blp.before_request(staff_only)


@blp.route("/regions")
class Regions(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.arguments(RegionQuerySchema, location="query")
    @blp.response(200, RegionSchema(many=True))
    def get(self, args):
        """China's administrative divisions (GB/T 2260): the provinces, or the regions right under ``parent``."""
        authenticate_staff()
        return regions.list_regions(args.get("parent"))


@blp.route("/agents")
class Agents(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.arguments(AgentQuerySchema, location="query")
    @blp.response(200, AgentSchema(many=True))
    @blp.paginate()
    def get(self, filters, pagination_parameters):
        """Agents by status, level, upper agent, territory or name, oldest first."""
        require_staff("agents:read")
        return agent_queries.list_agents(filters, pagination_parameters)

    @blp.doc(security=STAFF_SECURITY, parameters=[IDEMPOTENCY_PARAMETER])
    @blp.arguments(AgentCreateSchema)
    @blp.response(201, AgentEnvelopeSchema)
    def post(self, args):
        """Record an agent's application (idempotent): status ``applied``, the lowest level, no fee of any kind."""
        actor = require_staff("agents:write")
        return idempotent(actor, lambda: {"agent": agents.create_agent(actor.key, **args)})


@blp.route("/agents/<agent_id>")
class AgentDetail(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.response(200, AgentEnvelopeSchema)
    def get(self, agent_id):
        """One agent (the phone masked)."""
        require_staff("agents:read")
        return {"agent": agents.get_agent(agent_id)}

    @blp.doc(security=STAFF_SECURITY)
    @blp.arguments(AgentUpdateSchema)
    @blp.response(200, AgentEnvelopeSchema)
    def patch(self, args, agent_id):
        """Change an agent: details, contract, status (with its reason), upper agent (history kept), territories.

        The upper agent is refused when it is the agent itself, lies below the agent, or would make a chain
        deeper than the alliance's setting (default 2, never above 3, counting the top).
        """
        actor = require_staff("agents:write")
        return {"agent": agents.update_agent(actor.key, agent_id, **args)}


@blp.route("/agents/<agent_id>/evaluations")
class AgentEvaluations(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.response(200, AgentEvaluationSchema(many=True))
    @blp.paginate()
    def get(self, agent_id, pagination_parameters):
        """An agent's evaluations, latest period first: every figure, the health score, level before and after, why."""
        require_staff("agents:read")
        agents.get_agent(agent_id)
        return agent_queries.list_evaluations(agent_id, pagination_parameters)


@blp.route("/agent-levels")
class AgentLevels(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.response(200, AgentLevelSchema(many=True))
    @blp.paginate()
    def get(self, pagination_parameters):
        """Every agent level, lowest rank first (the five defaults until the operator adds others)."""
        require_staff("agents:read")
        return agent_queries.list_levels(pagination_parameters)

    @blp.doc(security=STAFF_SECURITY, parameters=[IDEMPOTENCY_PARAMETER])
    @blp.arguments(AgentLevelCreateSchema)
    @blp.response(201, AgentLevelEnvelopeSchema)
    def post(self, args):
        """Add an agent level (idempotent); its conditions may not name fees, purchases or headcount."""
        actor = require_staff("agents:write")
        return idempotent(actor, lambda: {"level": agents.create_level(actor.key, **args)})


@blp.route("/agent-levels/<level_id>")
class AgentLevelDetail(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.response(200, AgentLevelEnvelopeSchema)
    def get(self, level_id):
        """One agent level."""
        require_staff("agents:read")
        return {"level": agents.get_level(level_id)}

    @blp.doc(security=STAFF_SECURITY)
    @blp.arguments(AgentLevelUpdateSchema)
    @blp.response(200, AgentLevelEnvelopeSchema)
    def patch(self, args, level_id):
        """Change an agent level's name, badge, terms or conditions (they take effect at the next evaluation)."""
        actor = require_staff("agents:write")
        return {"level": agents.update_level(actor.key, level_id, **args)}


@blp.route("/agent-evaluations")
class AgentEvaluationRuns(MethodView):
    @blp.doc(security=STAFF_SECURITY, parameters=[IDEMPOTENCY_PARAMETER])
    @blp.arguments(AgentEvaluationRequestSchema)
    @blp.response(200, AgentEvaluationRunSchema)
    def post(self, args):
        """Evaluate every active agent for a month that has ended; running it again changes nothing."""
        actor = require_staff("agents:write")
        return idempotent(actor, lambda: agent_evaluation.evaluate_agents(actor.key, args["period"]))


@blp.route("/agent-alerts")
class AgentAlerts(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.arguments(AgentAlertQuerySchema, location="query")
    @blp.response(200, AgentAlertSchema(many=True))
    @blp.paginate()
    def get(self, filters, pagination_parameters):
        """Early warnings (a figure fell by the set share over two weeks, a low health score), newest first."""
        require_staff("agents:read")
        return agent_queries.list_alerts(filters, pagination_parameters)


@blp.route("/agent-policy")
class AgentPolicy(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.response(200, AgentPolicySchema)
    def get(self):
        """The agent network's settings: chain depth, evaluation grace, protection and fast track, alerts."""
        require_staff("agents:read")
        return agents.current_policy()

    @blp.doc(security=STAFF_SECURITY)
    @blp.arguments(AgentPolicyUpdateSchema)
    @blp.response(200, AgentPolicySchema)
    def patch(self, args):
        """Change the settings; a chain depth below the deepest chain that exists is refused (409)."""
        actor = require_staff("agents:write")
        return agents.update_policy(actor.key, **args)
