"""Staff users and their personal tokens (admin only)."""

from __future__ import annotations

from flask.views import MethodView

from server.api.auth import STAFF_SECURITY, require_staff, staff_only
from server.api.blueprint import Blueprint
from server.api.idempotent import IDEMPOTENCY_PARAMETER, idempotent, idempotent_issuing_secret
from server.api.operator_schemas import (
    IssuedPersonalTokenSchema,
    PersonalTokenCreateSchema,
    StaffCreateSchema,
    StaffQuerySchema,
    StaffUserEnvelopeSchema,
    StaffUserSchema,
)
from server.services import queries
from server.services import staff as staff_service

blp = Blueprint("operator_staff", __name__, url_prefix="/api/v1", description="Staff users and API tokens")
blp.before_request(staff_only)


@blp.route("/staff")
class StaffUsers(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.arguments(StaffQuerySchema, location="query")
    @blp.response(200, StaffUserSchema(many=True))
    @blp.paginate()
    def get(self, filters, pagination_parameters):
        """List staff users by role and merchant (admin only)."""
        require_staff("staff:read")
        return queries.list_staff(filters, pagination_parameters)

    @blp.doc(security=STAFF_SECURITY, parameters=[IDEMPOTENCY_PARAMETER])
    @blp.arguments(StaffCreateSchema)
    @blp.response(201, StaffUserEnvelopeSchema)
    def post(self, args):
        """Create a staff user; owners and cashiers need a merchant_id (admin only, idempotent).

        A password must be at least 10 characters, not a common one and not contain the username; the user
        chooses their own at the first console sign-in."""
        actor = require_staff("staff:write")

        def work():
            user = staff_service.create_staff_user(actor.key, **args, must_change_password=True)
            return {"staff_user": user}

        return idempotent(actor, work)


@blp.route("/staff/<user_id>/tokens")
class StaffTokens(MethodView):
    @blp.doc(security=STAFF_SECURITY, parameters=[IDEMPOTENCY_PARAMETER])
    @blp.arguments(PersonalTokenCreateSchema)
    @blp.response(201, IssuedPersonalTokenSchema)
    def post(self, args, user_id):
        """Give a staff user a personal API token, shown in this response only (admin only, idempotent)."""
        actor = require_staff("staff:write")

        def work():
            queries.get_staff_user(user_id)
            issued = staff_service.create_personal_token(
                actor.key, user_id, args["name"], valid_days=args["valid_days"]
            )
            return {"personal_token": issued.record, "token": issued.token}

        return idempotent_issuing_secret(actor, work)
