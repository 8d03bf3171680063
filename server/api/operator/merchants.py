"""Merchants of the alliance and what each level pays at them."""

from __future__ import annotations

from flask.views import MethodView

from server.api.auth import STAFF_SECURITY, check_merchant_scope, require_discount_setter, require_staff, staff_only
from server.api.blueprint import Blueprint
from server.api.idempotent import IDEMPOTENCY_PARAMETER, idempotent
from server.api.operator_schemas import (
    LevelDiscountSchema,
    LevelDiscountUpdateSchema,
    MerchantCreateSchema,
    MerchantEnvelopeSchema,
    MerchantQuerySchema,
    MerchantSchema,
    MerchantUpdateSchema,
)
from server.models import Level
from server.services import catalog, queries

blp = Blueprint("operator_merchants", __name__, url_prefix="/api/v1", description="Merchants and level discounts")
blp.before_request(staff_only)


def level_discount(merchant_id: str, level: Level, discount_bp: int) -> dict:
    """One level's discount at a merchant with the operator's bounds."""
    return {
        "merchant_id": merchant_id,
        "level_id": level.id,
        "level_code": level.code,
        "level_name": level.name,
        "rank": level.rank,
        "discount_bp": discount_bp,
        "min_discount_bp": level.min_discount_bp,
        "max_discount_bp": level.max_discount_bp,
    }


@blp.route("/merchants")
class Merchants(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.arguments(MerchantQuerySchema, location="query")
    @blp.response(200, MerchantSchema(many=True))
    @blp.paginate()
    def get(self, filters, pagination_parameters):
        """List merchants by trade, region, status or name (merchant staff see their own only)."""
        actor = require_staff("merchants:read")
        return queries.list_merchants(actor.confine(filters, "id"), pagination_parameters)

    @blp.doc(security=STAFF_SECURITY, parameters=[IDEMPOTENCY_PARAMETER])
    @blp.arguments(MerchantCreateSchema)
    @blp.response(201, MerchantEnvelopeSchema)
    def post(self, args):
        """Admit a merchant; every level starts at its default discount (idempotent)."""
        actor = require_staff("merchants:write")
        return idempotent(actor, lambda: {"merchant": catalog.create_merchant(actor.key, **args)})


@blp.route("/merchants/<merchant_id>")
class MerchantDetail(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.response(200, MerchantEnvelopeSchema)
    def get(self, merchant_id):
        """One merchant (merchant staff: their own only)."""
        actor = require_staff("merchants:read")
        check_merchant_scope(actor, merchant_id)
        return {"merchant": catalog.get_merchant(merchant_id)}

    @blp.doc(security=STAFF_SECURITY)
    @blp.arguments(MerchantUpdateSchema)
    @blp.response(200, MerchantEnvelopeSchema)
    def patch(self, args, merchant_id):
        """Change a merchant's details, status, earn rate or redemption cap (operators)."""
        actor = require_staff("merchants:write")
        check_merchant_scope(actor, merchant_id)
        return {"merchant": catalog.update_merchant(actor.key, merchant_id, **args)}


@blp.route("/merchants/<merchant_id>/level-discounts")
class MerchantLevelDiscounts(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.response(200, LevelDiscountSchema(many=True))
    def get(self, merchant_id):
        """What each level pays at the merchant, lowest level first (a short list, not paginated)."""
        actor = require_staff("merchants:read")
        check_merchant_scope(actor, merchant_id)
        catalog.get_merchant(merchant_id)
        return [level_discount(merchant_id, level, bp) for level, bp in catalog.level_discounts(merchant_id)]


@blp.route("/merchants/<merchant_id>/level-discounts/<level_id>")
class MerchantLevelDiscount(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.arguments(LevelDiscountUpdateSchema)
    @blp.response(200, LevelDiscountSchema)
    def put(self, args, merchant_id, level_id):
        """Set what a level pays at the merchant, within the level's bounds (operators; owners: their own)."""
        actor = require_discount_setter(merchant_id)
        row = catalog.set_level_discount(actor.key, merchant_id, level_id, args["discount_bp"])
        return level_discount(merchant_id, catalog.get_level(level_id), row.discount_bp)
