"""A terminal endpoint of docs/terminal-api.md: hand out a card at the till (bind it to a proven member)."""

from __future__ import annotations

from flask.views import MethodView

from server.api.auth import TERMINAL_SECURITY, current_actor, require_terminal
from server.api.base import ErrorSchema
from server.api.blueprint import Blueprint
from server.api.contract import CARD_NUMBER, RETRY_AFTER, path_parameter
from server.api.idempotent import IDEMPOTENCY_PARAMETER, idempotent
from server.api.terminal import authenticate
from server.api.till_card_schemas import TillBindingRequestSchema, TillBindingResponseSchema
from server.domain.errors import InvalidRequest
from server.domain.identifiers import is_valid_card_number, mask_card_number, mask_name
from server.ratelimit import enforce
from server.services.till_cards import bind_at_till

blp = Blueprint("till_cards", __name__, url_prefix="/api/v1", description="Handing out cards at a POS terminal")
blp.before_request(authenticate)  # as every terminal endpoint: 401 first, a POST body must be JSON

CARD_NO = path_parameter("card_no", CARD_NUMBER, "The number printed on the card (typed or scanned)")


@blp.route("/cards/<card_no>/binding", parameters=[CARD_NO], tags=["terminal"])
class TillCardBinding(MethodView):
    @blp.doc(security=TERMINAL_SECURITY, parameters=[IDEMPOTENCY_PARAMETER])
    @blp.arguments(TillBindingRequestSchema)
    @blp.response(201, TillBindingResponseSchema)
    @blp.alt_response(
        429, schema=ErrorSchema, description="Too many cards handed out", headers={"Retry-After": RETRY_AFTER}
    )
    def post(self, args, card_no):
        """Bind a new card (printed or encoded, not yet bound) to the identified member (idempotent).

        The identification needs the member's proof (the SMS code of ``/identifications/{token}/proof``,
        a member code or the member's chip card) and is not used up. Audited as done by the terminal.
        """
        terminal = require_terminal()
        enforce("card_bind:terminal", terminal.id)
        if not is_valid_card_number(card_no):
            raise InvalidRequest("Not a valid card number (16 digits with a check digit).", field="card_no")

        def work():
            bound = bind_at_till(terminal, card_no, args["identification_token"])
            member, level = bound.who.member, bound.who.level
            return {
                "card": {
                    "card_no_masked": mask_card_number(bound.card.card_no),
                    "kind": bound.card.kind,
                    "status": bound.card.status,
                },
                "member": {
                    "display_name": mask_name(member.display_name),
                    "masked_phone": member.phone_masked,
                    "level": level,
                    "discount_bp": bound.who.discount_bp,
                },
                "bound_at": bound.bound_at,
            }

        return idempotent(current_actor(), work)
