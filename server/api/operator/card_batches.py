"""Card batches for the card factory, chip encoding, and the card lifecycle (挂失, 冻结, 补卡, 注销)."""

from __future__ import annotations

from flask.views import MethodView

from server.api.auth import STAFF_SECURITY, require_staff, staff_only
from server.api.blueprint import Blueprint
from server.api.card_schemas import (
    BatchCardQuerySchema,
    BatchCreateSchema,
    BatchEnvelopeSchema,
    BatchSummarySchema,
    CardAlertQuerySchema,
    CardAlertSchema,
    ChipKeysSchema,
    ConsignmentCreateSchema,
    ConsignmentSchema,
    EncodePlanSchema,
    ReasonSchema,
    ReplaceSchema,
)
from server.api.contract import CHIP_UID_PATTERN, path_parameter
from server.api.idempotent import IDEMPOTENCY_PARAMETER, idempotent
from server.api.operator_schemas import CardEnvelopeSchema, PrintCardSchema
from server.services import cards, recruitment

CHIP_UID = path_parameter("uid", {"type": "string", "pattern": CHIP_UID_PATTERN}, "Chip UID: 4, 7 or 10 bytes in hex")

blp = Blueprint("card_batches", __name__, url_prefix="/api/v1", description="Card batches, encoding and lifecycle")
blp.before_request(staff_only)


@blp.route("/card-batches")
class Batches(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.response(200, BatchSummarySchema(many=True))
    @blp.paginate()
    def get(self, pagination_parameters):
        """Card batches, newest first."""
        require_staff("cards:read")
        return cards.list_batches(pagination_parameters)

    @blp.doc(security=STAFF_SECURITY, parameters=[IDEMPOTENCY_PARAMETER])
    @blp.arguments(BatchCreateSchema)
    @blp.response(201, BatchEnvelopeSchema)
    def post(self, args):
        """Create a batch of cards with consecutive numbers (idempotent)."""
        actor = require_staff("cards:write")
        return idempotent(
            actor,
            lambda: {
                "batch": cards.create_batch(
                    actor.key,
                    args["count"],
                    args["card_type"],
                    args["level"],
                    args["name"],
                    args["print_details"],
                    kind=args["kind"],
                )
            },
        )


@blp.route("/card-batches/<batch_id>")
class BatchDetail(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.response(200, BatchEnvelopeSchema)
    def get(self, batch_id):
        """One batch with its progress."""
        require_staff("cards:read")
        return {"batch": cards.get_batch(batch_id), "consignments": recruitment.consignments_of(batch_id)}


@blp.route("/card-batches/<batch_id>/consignments")
class BatchConsignments(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.response(200, ConsignmentSchema(many=True))
    def get(self, batch_id):
        """The batch's consignments to agents, with the cards activated and what they sold."""
        require_staff("cards:read")
        return recruitment.consignments_of(batch_id)

    @blp.doc(security=STAFF_SECURITY)
    @blp.arguments(ConsignmentCreateSchema)
    @blp.response(201, ConsignmentSchema)
    def post(self, args, batch_id):
        """Consign the batch, or a range of its card numbers, to an agent; members binding these cards are
        recorded as the agent's recruits (nothing is paid for that: they count once they consume)."""
        actor = require_staff("cards:write")
        consignment = recruitment.consign_cards(
            actor.key, batch_id, args["agent_id"], args.get("first_card_no"), args.get("last_card_no")
        )
        return next(row for row in recruitment.consignments_of(batch_id) if row["id"] == consignment.id)


@blp.route("/card-batches/<batch_id>/cards")
class BatchCards(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.arguments(BatchCardQuerySchema, location="query")
    @blp.response(200, PrintCardSchema(many=True))
    @blp.paginate(max_page_size=10_000)
    def get(self, filters, batch_id, pagination_parameters):
        """The cards of a batch in card-number order (for print files and resuming encoding)."""
        require_staff("cards:read")
        cards.get_batch(batch_id)
        return cards.list_batch_cards(batch_id, pagination_parameters, filters.get("status"))


@blp.route("/card-batches/<batch_id>/chips/<uid>", parameters=[CHIP_UID])
class ChipEncoding(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.response(200, EncodePlanSchema)
    def put(self, batch_id, uid):
        """Assign this chip the batch's next free card number (or the one it already has) and return
        the blocks and keys to write. Idempotent by design (PUT): the same chip always gets the same card."""
        actor = require_staff("cards:write")
        return cards.plan_encoding(actor.key, batch_id, uid).as_json()


@blp.route("/card-batches/<batch_id>/chips/<uid>/confirmation", parameters=[CHIP_UID])
class ChipConfirmation(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.response(200, CardEnvelopeSchema)
    def put(self, batch_id, uid):
        """The tool read the chip back and verified it: the card becomes issued. Idempotent (PUT)."""
        actor = require_staff("cards:write")
        return {"card": cards.confirm_encoding(actor.key, batch_id, uid)}


@blp.route("/card-alerts")
class CardAlerts(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.arguments(CardAlertQuerySchema, location="query")
    @blp.response(200, CardAlertSchema(many=True))
    @blp.paginate()
    def get(self, filters, pagination_parameters):
        """Alerts for the operator, newest first: e.g. a card blocked as a suspected clone (unfreeze resolves)."""
        require_staff("cards:read")
        return cards.list_alerts(pagination_parameters, filters["resolved"])


@blp.route("/cards/by-number/<card_no>")
class CardByNumber(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.response(200, CardEnvelopeSchema)
    def get(self, card_no):
        """A card by its printed number."""
        require_staff("cards:read")
        return {"card": cards.card_by_number(card_no)}


def _lifecycle(action):
    """A POST endpoint changing a card's status (idempotent), audited by the service."""

    @blp.doc(security=STAFF_SECURITY, parameters=[IDEMPOTENCY_PARAMETER])
    @blp.arguments(ReasonSchema)
    @blp.response(200, CardEnvelopeSchema)
    def post(self, args, card_no):
        actor = require_staff("cards:write")
        return idempotent(actor, lambda: {"card": action(actor.key, card_no, args["reason"])})

    post.__doc__ = action.__doc__
    return post


@blp.route("/cards/by-number/<card_no>/lost")
class CardLost(MethodView):
    post = _lifecycle(cards.report_lost)


@blp.route("/cards/by-number/<card_no>/freeze")
class CardFreeze(MethodView):
    post = _lifecycle(cards.freeze)


@blp.route("/cards/by-number/<card_no>/unfreeze")
class CardUnfreeze(MethodView):
    post = _lifecycle(cards.unfreeze)


@blp.route("/cards/by-number/<card_no>/cancel")
class CardCancel(MethodView):
    post = _lifecycle(cards.cancel)


@blp.route("/cards/by-number/<card_no>/replace")
class CardReplace(MethodView):
    @blp.doc(security=STAFF_SECURITY, parameters=[IDEMPOTENCY_PARAMETER])
    @blp.arguments(ReplaceSchema)
    @blp.response(200, CardEnvelopeSchema)
    def post(self, args, card_no):
        """补卡: the new card takes over the member of this one, which is blocked for good (idempotent)."""
        actor = require_staff("cards:write")
        return idempotent(actor, lambda: {"card": cards.replace(actor.key, card_no, args["new_card_no"])})


@blp.route("/chips/<uid>/keys", parameters=[CHIP_UID])
class ChipKeys(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.response(200, ChipKeysSchema)
    def get(self, uid):
        """Every sector key of an issued chip, to reformat a test card (admin and card issuers; audited)."""
        actor = require_staff("cards:format")
        return cards.chip_keys(actor.key, uid)
