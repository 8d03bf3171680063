"""Member levels: their rules and discount bounds, and the periodic level evaluation."""

from __future__ import annotations

from flask.views import MethodView

from server.api.auth import STAFF_SECURITY, require_staff, staff_only
from server.api.blueprint import Blueprint
from server.api.idempotent import IDEMPOTENCY_PARAMETER, idempotent
from server.api.operator_schemas import (
    EmptySchema,
    LevelCreateSchema,
    LevelEnvelopeSchema,
    LevelEvaluationSchema,
    LevelSchema,
    LevelUpdateSchema,
)
from server.services import catalog, queries
from server.services.levels import evaluate_levels

blp = Blueprint("operator_levels", __name__, url_prefix="/api/v1", description="Member levels and their rules")
blp.before_request(staff_only)


@blp.route("/levels")
class Levels(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.response(200, LevelSchema(many=True))
    @blp.paginate()
    def get(self, pagination_parameters):
        """All levels, lowest rank first."""
        require_staff("levels:read")
        return queries.list_levels(pagination_parameters)

    @blp.doc(security=STAFF_SECURITY, parameters=[IDEMPOTENCY_PARAMETER])
    @blp.arguments(LevelCreateSchema)
    @blp.response(201, LevelEnvelopeSchema)
    def post(self, args):
        """Add a level; every merchant starts with its default discount (idempotent).

        Discounts satisfy 0 < min_discount_bp <= default_discount_bp <= max_discount_bp <= 10000, and
        keep_spend_fen <= upgrade_spend_fen.
        """
        actor = require_staff("levels:write")
        return idempotent(actor, lambda: {"level": catalog.create_level(actor.key, **args)})


@blp.route("/levels/evaluations")
class LevelEvaluations(MethodView):
    @blp.doc(security=STAFF_SECURITY, parameters=[IDEMPOTENCY_PARAMETER])
    @blp.arguments(EmptySchema, required=False)
    @blp.response(200, LevelEvaluationSchema)
    def post(self, args):
        """Re-evaluate every active member's level now; returns how many were upgraded, downgraded, kept."""
        actor = require_staff("levels:write")

        def work():
            outcome = evaluate_levels(actor.key)
            return {name: outcome.get(name, 0) for name in ("upgraded", "downgraded", "kept")}

        return idempotent(actor, work)


@blp.route("/levels/<level_id>")
class LevelDetail(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.response(200, LevelEnvelopeSchema)
    def get(self, level_id):
        """One level."""
        require_staff("levels:read")
        return {"level": catalog.get_level(level_id)}

    @blp.doc(security=STAFF_SECURITY)
    @blp.arguments(LevelUpdateSchema)
    @blp.response(200, LevelEnvelopeSchema)
    def patch(self, args, level_id):
        """Change a level's names, rules or bounds; merchant discounts outside new bounds are clamped.

        After the change, 0 < min_discount_bp <= default_discount_bp <= max_discount_bp <= 10000 and
        keep_spend_fen <= upgrade_spend_fen (fields not sent keep their values).
        """
        actor = require_staff("levels:write")
        return {"level": catalog.update_level(actor.key, level_id, **args)}
