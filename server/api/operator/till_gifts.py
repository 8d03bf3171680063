"""A merchant's gift with a purchase (满赠): the rules, set by operators and by the merchant's owner."""

from __future__ import annotations

from flask.views import MethodView

from server.api.auth import STAFF_SECURITY, check_merchant_scope, require_discount_setter, require_staff, staff_only
from server.api.blueprint import Blueprint
from server.api.idempotent import IDEMPOTENCY_PARAMETER, idempotent
from server.api.till_gift_schemas import (
    GiftRuleCreateSchema,
    GiftRuleEnvelopeSchema,
    GiftRuleSchema,
    GiftRuleUpdateSchema,
)
from server.services import till_gifts

blp = Blueprint("operator_till_gifts", __name__, url_prefix="/api/v1", description="Gifts with a purchase (满赠)")
blp.before_request(staff_only)


@blp.route("/merchants/<merchant_id>/gift-rules")
class GiftRules(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.response(200, GiftRuleSchema(many=True))
    def get(self, merchant_id):
        """The merchant's gift rules, newest first, with how many gifts each gave (merchant staff: their own)."""
        actor = require_staff("merchants:read")
        check_merchant_scope(actor, merchant_id)
        return till_gifts.list_rules(merchant_id)

    @blp.doc(security=STAFF_SECURITY, parameters=[IDEMPOTENCY_PARAMETER])
    @blp.arguments(GiftRuleCreateSchema)
    @blp.response(201, GiftRuleEnvelopeSchema)
    def post(self, args, merchant_id):
        """Add a gift rule: a sale paying at least ``min_payable_fen`` in the window gets one code of the voucher
        ``sku_id``, at most ``per_member_limit`` per member and period; audit-logged (idempotent)."""
        actor = require_discount_setter(merchant_id)  # operators; the owner for their own shop
        return idempotent(actor, lambda: {"rule": till_gifts.create_rule(actor.key, merchant_id, **args)})


@blp.route("/merchants/<merchant_id>/gift-rules/<rule_id>")
class GiftRule(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.arguments(GiftRuleUpdateSchema)
    @blp.response(200, GiftRuleEnvelopeSchema)
    def patch(self, args, merchant_id, rule_id):
        """Change a gift rule, or turn it off (``active: false``) and on; audit-logged."""
        actor = require_discount_setter(merchant_id)
        return {"rule": till_gifts.update_rule(actor.key, merchant_id, rule_id, **args)}
