"""Membership cards: creation of unbound cards and look-up."""

from __future__ import annotations

from flask.views import MethodView

from server.api.auth import STAFF_SECURITY, require_staff, staff_only
from server.api.blueprint import Blueprint
from server.api.idempotent import IDEMPOTENCY_PARAMETER, idempotent
from server.api.operator_schemas import (
    CardCreateSchema,
    CardEnvelopeSchema,
    CardListEnvelopeSchema,
    CardQuerySchema,
    CardSchema,
)
from server.services import cards, members, queries

blp = Blueprint("operator_cards", __name__, url_prefix="/api/v1", description="Membership cards")
blp.before_request(staff_only)


@blp.route("/cards")
class Cards(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.arguments(CardQuerySchema, location="query")
    @blp.response(200, CardSchema(many=True))
    @blp.paginate()
    def get(self, filters, pagination_parameters):
        """Cards by status, kind (physical or electronic), card number or member, in card-number order."""
        require_staff("cards:read")
        return queries.list_cards(filters, pagination_parameters)

    @blp.doc(security=STAFF_SECURITY, parameters=[IDEMPOTENCY_PARAMETER])
    @blp.arguments(CardCreateSchema)
    @blp.response(201, CardListEnvelopeSchema)
    def post(self, args):
        """Create unbound cards with consecutive card numbers (idempotent)."""
        actor = require_staff("cards:write")
        return idempotent(actor, lambda: {"cards": members.create_cards(actor.key, args["count"])})


@blp.route("/cards/<card_id>")
class CardDetail(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.response(200, CardEnvelopeSchema)
    def get(self, card_id):
        """One card."""
        require_staff("cards:read")
        return {"card": cards.get_card(card_id)}
