"""A merchant's POS terminals: registration, status and token reset (tokens are shown once)."""

from __future__ import annotations

from flask.views import MethodView

from server.api.auth import STAFF_SECURITY, check_merchant_scope, require_staff, staff_only
from server.api.blueprint import Blueprint
from server.api.idempotent import IDEMPOTENCY_PARAMETER, idempotent_issuing_secret
from server.api.operator_schemas import (
    EmptySchema,
    IssuedTerminalSchema,
    TerminalCreateSchema,
    TerminalEnvelopeSchema,
    TerminalSchema,
    TerminalUpdateSchema,
)
from server.models import Terminal
from server.services import catalog, queries
from server.services.catalog import IssuedTerminal

blp = Blueprint("operator_terminals", __name__, url_prefix="/api/v1", description="POS terminals of merchants")
blp.before_request(staff_only)


def issued_body(issued: IssuedTerminal) -> dict:
    """The terminal and its new token (the only time the token is shown)."""
    return {"terminal": issued.terminal, "token": issued.token}


def scoped_terminal(actor, terminal_id: str) -> Terminal:
    """The terminal, if it belongs to the caller's scope (404 otherwise)."""
    terminal = catalog.get_terminal(terminal_id)
    check_merchant_scope(actor, terminal.merchant_id)
    return terminal


@blp.route("/merchants/<merchant_id>/terminals")
class MerchantTerminals(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.response(200, TerminalSchema(many=True))
    @blp.paginate()
    def get(self, merchant_id, pagination_parameters):
        """A merchant's terminals in the order they were registered."""
        actor = require_staff("terminals:read")
        check_merchant_scope(actor, merchant_id)
        catalog.get_merchant(merchant_id)
        return queries.list_terminals(merchant_id, pagination_parameters)

    @blp.doc(security=STAFF_SECURITY, parameters=[IDEMPOTENCY_PARAMETER])
    @blp.arguments(TerminalCreateSchema)
    @blp.response(201, IssuedTerminalSchema)
    def post(self, args, merchant_id):
        """Register a terminal; its token is in this response only (idempotent)."""
        actor = require_staff("terminals:write")
        check_merchant_scope(actor, merchant_id)
        return idempotent_issuing_secret(
            actor, lambda: issued_body(catalog.create_terminal(actor.key, merchant_id, args["name"]))
        )


@blp.route("/terminals/<terminal_id>")
class TerminalDetail(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.response(200, TerminalEnvelopeSchema)
    def get(self, terminal_id):
        """One terminal."""
        actor = require_staff("terminals:read")
        return {"terminal": scoped_terminal(actor, terminal_id)}

    @blp.doc(security=STAFF_SECURITY)
    @blp.arguments(TerminalUpdateSchema)
    @blp.response(200, TerminalEnvelopeSchema)
    def patch(self, args, terminal_id):
        """Enable or disable a terminal (a disabled terminal's token is refused)."""
        actor = require_staff("terminals:write")
        scoped_terminal(actor, terminal_id)
        return {"terminal": catalog.set_terminal_status(actor.key, terminal_id, args["status"])}


@blp.route("/terminals/<terminal_id>/token")
class TerminalToken(MethodView):
    @blp.doc(security=STAFF_SECURITY, parameters=[IDEMPOTENCY_PARAMETER])
    @blp.arguments(EmptySchema, required=False)
    @blp.response(200, IssuedTerminalSchema)
    def post(self, args, terminal_id):
        """Replace the terminal's token: the old one stops working at once, the new one is shown once."""
        actor = require_staff("terminals:write")
        scoped_terminal(actor, terminal_id)
        return idempotent_issuing_secret(
            actor, lambda: issued_body(catalog.reset_terminal_token(actor.key, terminal_id))
        )
