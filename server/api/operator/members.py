"""Members (operators only): registration, look-up, phone reveal, cards, points adjustments, history."""

from __future__ import annotations

from flask.views import MethodView

from server.api.auth import STAFF_SECURITY, require_staff, staff_only
from server.api.blueprint import Blueprint
from server.api.idempotent import IDEMPOTENCY_PARAMETER, idempotent
from server.api.operator_schemas import (
    AccountEntrySchema,
    BindCardSchema,
    CardEnvelopeSchema,
    MemberCreateSchema,
    MemberEnvelopeSchema,
    MemberPhoneSchema,
    MemberQuerySchema,
    MemberSearchSchema,
    MemberSummarySchema,
    PointsAdjustmentResultSchema,
    PointsAdjustmentSchema,
)
from server.services import members, queries

blp = Blueprint("operator_members", __name__, url_prefix="/api/v1", description="Members (operator staff only)")
blp.before_request(staff_only)


@blp.route("/members")
class Members(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.arguments(MemberQuerySchema, location="query")
    @blp.response(200, MemberSummarySchema(many=True))
    @blp.paginate()
    def get(self, filters, pagination_parameters):
        """Members by card number, level code or status, newest first; phones are masked (by phone: POST search)."""
        require_staff("members:read")
        return queries.list_members(filters, pagination_parameters)

    @blp.doc(security=STAFF_SECURITY, parameters=[IDEMPOTENCY_PARAMETER])
    @blp.arguments(MemberCreateSchema)
    @blp.response(201, MemberEnvelopeSchema)
    def post(self, args):
        """Register a member at the lowest level (idempotent)."""
        actor = require_staff("members:write")

        def work():
            recruited_by = args.get("recruited_by_merchant_id")
            member = members.register_member(actor.key, args["phone"], args["display_name"], recruited_by)
            return {"member": queries.member_detail(member)}

        return idempotent(actor, work)


@blp.route("/members/search")
class MemberSearch(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.arguments(MemberSearchSchema)
    @blp.response(200, MemberSummarySchema(many=True))
    @blp.paginate()
    def post(self, filters, pagination_parameters):
        """Members by exact phone (in the body, so it stays out of URLs and access logs); phones are masked.

        Reads only: no Idempotency-Key. Card number, level code and status narrow the search as in the list.
        """
        require_staff("members:read")
        return queries.list_members(filters, pagination_parameters)


@blp.route("/members/<member_id>")
class MemberDetail(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.response(200, MemberEnvelopeSchema)
    def get(self, member_id):
        """One member with level, points balance and cards; the phone is masked."""
        require_staff("members:read")
        return {"member": queries.member_detail(members.get_member(member_id))}


@blp.route("/members/<member_id>/phone")
class MemberPhone(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.response(200, MemberPhoneSchema)
    def get(self, member_id):
        """The member's full phone number; every access is written to the audit log."""
        actor = require_staff("members:phone")
        phone = members.reveal_phone(actor.key, member_id)
        return {"member_id": member_id, "phone": phone}, 200, {"Cache-Control": "no-store"}


@blp.route("/members/<member_id>/cards")
class MemberCards(MethodView):
    @blp.doc(security=STAFF_SECURITY, parameters=[IDEMPOTENCY_PARAMETER])
    @blp.arguments(BindCardSchema)
    @blp.response(201, CardEnvelopeSchema)
    def post(self, args, member_id):
        """Bind an issued card to the member and activate it (idempotent)."""
        actor = require_staff("cards:write")
        return idempotent(actor, lambda: {"card": members.bind_card(actor.key, member_id, args["card_no"])})


@blp.route("/members/<member_id>/points-adjustments")
class MemberPointsAdjustments(MethodView):
    @blp.doc(security=STAFF_SECURITY, parameters=[IDEMPOTENCY_PARAMETER])
    @blp.arguments(PointsAdjustmentSchema)
    @blp.response(201, PointsAdjustmentResultSchema)
    def post(self, args, member_id):
        """Correct a member's points with a reason; audited (idempotent)."""
        actor = require_staff("points:adjust")

        def work():
            balance = members.adjust_points(actor.key, member_id, args["points"], args["reason"])
            return {"member_id": member_id, "points": args["points"], "points_balance": balance}

        return idempotent(actor, work)


@blp.route("/members/<member_id>/ledger")
class MemberLedger(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.response(200, AccountEntrySchema(many=True))
    @blp.paginate()
    def get(self, member_id, pagination_parameters):
        """The entries of the member's points account, newest first."""
        require_staff("ledger:read")
        member = members.get_member(member_id)
        return queries.account_entries(member.points_account_id, pagination_parameters)
