"""Anti-brushing (刷单) rules and flags, complaints and agents' violations: what the agents' health score counts."""

from __future__ import annotations

from flask.views import MethodView

from server.api.auth import STAFF_SECURITY, require_staff, staff_only
from server.api.blueprint import Blueprint
from server.api.brushing_schemas import (
    AgentViolationCreateSchema,
    AgentViolationEnvelopeSchema,
    AgentViolationQuerySchema,
    AgentViolationSchema,
    BrushingFlagEnvelopeSchema,
    BrushingFlagQuerySchema,
    BrushingFlagReviewSchema,
    BrushingFlagSchema,
    BrushingRuleEnvelopeSchema,
    BrushingRuleSchema,
    BrushingRuleUpdateSchema,
    BrushingScanSchema,
    ComplaintCreateSchema,
    ComplaintEnvelopeSchema,
    ComplaintQuerySchema,
    ComplaintSchema,
    ComplaintUpdateSchema,
)
from server.api.idempotent import IDEMPOTENCY_PARAMETER, idempotent
from server.services import brushing, complaints, points

blp = Blueprint(
    "operator_brushing", __name__, url_prefix="/api/v1", description="Anti-brushing (刷单), complaints, violations"
)
blp.before_request(staff_only)


def _with_sales(flags):
    held = brushing.flag_sale_ids(flag.id for flag in flags)
    for flag in flags:
        flag.sale_ids = held.get(flag.id, [])
    return flags


@blp.route("/brushing-rules")
class BrushingRules(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.response(200, BrushingRuleSchema(many=True))
    def get(self):
        """Every anti-brushing rule: its kind, parameters and whether it runs (the defaults until changed)."""
        require_staff("agents:read")
        return brushing.list_rules()


@blp.route("/brushing-rules/<rule_id>")
class BrushingRuleDetail(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.arguments(BrushingRuleUpdateSchema)
    @blp.response(200, BrushingRuleEnvelopeSchema)
    def patch(self, args, rule_id):
        """Switch a rule on or off or change its parameters (checked per kind); audit-logged."""
        actor = require_staff("agents:write")
        return {"rule": brushing.update_rule(actor.key, rule_id, **args)}


@blp.route("/brushing-scans")
class BrushingScans(MethodView):
    @blp.doc(security=STAFF_SECURITY, parameters=[IDEMPOTENCY_PARAMETER])
    @blp.response(200, BrushingScanSchema)
    def post(self):
        """Run every enabled rule over the recent sales now (as the detect-brushing job does); no flag twice."""
        actor = require_staff("agents:write")
        return idempotent(actor, lambda: brushing.detect_brushing(actor.key, points.alliance_today()))


@blp.route("/brushing-flags")
class BrushingFlags(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.arguments(BrushingFlagQuerySchema, location="query")
    @blp.response(200, BrushingFlagSchema(many=True))
    @blp.paginate()
    def get(self, filters, pagination_parameters):
        """Anti-brushing flags by status, rule, agent, merchant, subject or sale, newest first."""
        require_staff("agents:read")
        return _with_sales(brushing.list_flags(filters, pagination_parameters))


@blp.route("/brushing-flags/<flag_id>")
class BrushingFlagDetail(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.response(200, BrushingFlagEnvelopeSchema)
    def get(self, flag_id):
        """One flag with the sales it holds."""
        require_staff("agents:read")
        return {"flag": _with_sales([brushing.get_flag(flag_id)])[0]}

    @blp.doc(security=STAFF_SECURITY)
    @blp.arguments(BrushingFlagReviewSchema)
    @blp.response(200, BrushingFlagEnvelopeSchema)
    def patch(self, args, flag_id):
        """Review an open flag: clear it (its sales are released) or confirm it, with a reason; audit-logged."""
        actor = require_staff("agents:write")
        return {"flag": _with_sales([brushing.review_flag(actor.key, flag_id, args["status"], args["reason"])])[0]}


@blp.route("/complaints")
class Complaints(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.arguments(ComplaintQuerySchema, location="query")
    @blp.response(200, ComplaintSchema(many=True))
    @blp.paginate()
    def get(self, filters, pagination_parameters):
        """Complaints by status, merchant and agent, newest first."""
        require_staff("agents:read")
        return complaints.list_complaints(filters, pagination_parameters)

    @blp.doc(security=STAFF_SECURITY, parameters=[IDEMPOTENCY_PARAMETER])
    @blp.arguments(ComplaintCreateSchema)
    @blp.response(201, ComplaintEnvelopeSchema)
    def post(self, args):
        """Record a complaint against a merchant or an agent (idempotent), opened now."""
        actor = require_staff("agents:write")
        return idempotent(actor, lambda: {"complaint": complaints.open_complaint(actor.key, **args)})


@blp.route("/complaints/<complaint_id>")
class ComplaintDetail(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.arguments(ComplaintUpdateSchema)
    @blp.response(200, ComplaintEnvelopeSchema)
    def patch(self, args, complaint_id):
        """Answer (``responded``, with the response) or close a complaint; the times count in the health score."""
        actor = require_staff("agents:write")
        return {"complaint": complaints.update_complaint(actor.key, complaint_id, **args)}


@blp.route("/agent-violations")
class AgentViolations(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.arguments(AgentViolationQuerySchema, location="query")
    @blp.response(200, AgentViolationSchema(many=True))
    @blp.paginate()
    def get(self, filters, pagination_parameters):
        """Agents' violations, newest first."""
        require_staff("agents:read")
        return complaints.list_violations(filters, pagination_parameters)

    @blp.doc(security=STAFF_SECURITY, parameters=[IDEMPOTENCY_PARAMETER])
    @blp.arguments(AgentViolationCreateSchema)
    @blp.response(201, AgentViolationEnvelopeSchema)
    def post(self, args):
        """Record an agent's violation (idempotent); each takes 10 of the health score's 30 for violations."""
        actor = require_staff("agents:write")
        return idempotent(actor, lambda: {"violation": complaints.record_violation(actor.key, **args)})
