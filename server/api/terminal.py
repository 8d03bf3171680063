"""The terminal endpoints of docs/terminal-api.md: who am I, identify, quote, sales and refunds."""

from __future__ import annotations

import json

from flask import current_app, request
from flask.views import MethodView
from flask_limiter.util import get_remote_address

from server.api.auth import (
    ANY_SECURITY,
    TERMINAL_SECURITY,
    check_merchant_scope,
    current_actor,
    require,
    require_terminal,
)
from server.api.base import ErrorSchema
from server.api.blueprint import Blueprint
from server.api.contract import RETRY_AFTER
from server.api.idempotent import IDEMPOTENCY_PARAMETER, idempotent
from server.api.operator_schemas import EmptySchema
from server.api.terminal_schemas import (
    IdentifyRequestSchema,
    IdentifyResponseSchema,
    ProofCodeResponseSchema,
    ProofRequestSchema,
    ProofResponseSchema,
    QuoteRequestSchema,
    QuoteResponseSchema,
    RefundEnvelopeSchema,
    RefundRequestSchema,
    RefundSchema,
    RejectedSaleEnvelopeSchema,
    RejectedSaleQuerySchema,
    RejectedSaleRequestSchema,
    RejectedSaleResolveSchema,
    RejectedSaleSchema,
    SaleDetailEnvelopeSchema,
    SaleDetailSchema,
    SaleEnvelopeSchema,
    SaleListQuerySchema,
    SaleRequestSchema,
    SaleSchema,
    TerminalInfoSchema,
)
from server.domain.errors import Forbidden, InvalidRequest
from server.domain.identifiers import mask_name, normalize_mobile
from server.models.base import utcnow
from server.notifications.sms import send_now
from server.ratelimit import enforce
from server.services import catalog, checkout, queries, sales, till_vouchers
from server.services.alliance import get_settings
from server.services.sales import RefundRequest, SaleRequest, SaleResult

blp = Blueprint("terminal", __name__, url_prefix="/api/v1", description="Checkout at a POS terminal")

# The hot path's request schemas as instances: webargs would build a schema (deep-copying its fields) for
# every request from a class.
IDENTIFY_REQUEST, SALE_REQUEST = IdentifyRequestSchema(), SaleRequestSchema()


@blp.before_request
def authenticate():
    """A missing or wrong token gets 401 before the request body is looked at; a POST body must be JSON."""
    current_actor()
    if request.method == "POST" and not (request.is_json and request.get_data(cache=True)):
        # never read a missing or non-JSON body as {} (an empty refund request means "refund the whole rest")
        raise InvalidRequest("Send a JSON body with 'Content-Type: application/json'.")


@blp.route("/terminal")
class TerminalInfo(MethodView):
    @blp.doc(security=TERMINAL_SECURITY)
    @blp.response(200, TerminalInfoSchema)
    def get(self):
        """Who am I: the terminal, its merchant, the alliance, the offline limits and offline pricing.

        ``offline_pricing`` gives the merchant's earn rate and, per level rank (as the signed card record
        carries it), the discount its members get here, so a terminal can price a card sale while offline.
        """
        terminal = require_terminal()
        settings = get_settings()
        merchant = terminal.merchant
        return {
            "terminal": {"id": terminal.id, "name": terminal.name},
            "merchant": {"id": merchant.id, "name": merchant.name, "address": merchant.address},
            "alliance": {
                "name": settings.name,
                "member_code_prefix": settings.member_code_prefix,
                "point_value_fen": settings.point_value_fen,
                "card_public_key": current_app.extensions["alliance_keys"].card_public_key,
                "card_read_key": current_app.extensions["alliance_keys"].card_read_key,
                "time_zone": settings.timezone,  # times on paper are in the alliance's zone
            },
            # the terminal numbers its sales itself (offline too): "<prefix>-<seq>", after the last one used
            "receipts": {
                "prefix": terminal.receipt_prefix or terminal.code,
                "last_seq": catalog.get_terminal(terminal.id).receipt_seq,  # the row's: the sales move it
            },
            "refunds": {"authorisation_above_fen": merchant.refund_auth_threshold_fen},
            "offline_limits": {
                "max_sale_fen": settings.offline_max_sale_fen,
                "max_sales_per_shift": settings.offline_max_sales_per_shift,
                "max_age_hours": settings.offline_max_age_hours,
            },
            # beyond the contract: what a terminal needs to price a sale offline from the signed card record
            "offline_pricing": {
                "earn_rate_bp": merchant.earn_rate_bp,
                "levels": [
                    {"rank": level.rank, "code": level.code, "name": level.name, "discount_bp": discount_bp}
                    for level, discount_bp in catalog.level_discounts(merchant.id)
                ],
            },
            "server_time": utcnow(),
        }


@blp.route("/identify")
class Identify(MethodView):
    @blp.doc(security=TERMINAL_SECURITY)
    @blp.arguments(IDENTIFY_REQUEST)
    @blp.response(200, IdentifyResponseSchema)
    @blp.alt_response(
        429, schema=ErrorSchema, description="Too many identifications", headers={"Retry-After": RETRY_AFTER}
    )
    def post(self, args):
        """Identify a member by chip card, scanned code or phone number (rate-limited per terminal).

        Phone lookups are also rate-limited per terminal and per number and show the masked name only. An
        identification without the member's proof (phone, typed card number) cannot spend points while the
        till policy asks for proof (``spend_needs_proof``): see ``/identifications/{token}/proof``.
        """
        terminal = require_terminal()
        enforce("identify:terminal", terminal.id)
        if args.get("phone") is not None:
            enforce("identify_phone:terminal", terminal.id)
            enforce("identify_phone:member", normalize_mobile(args["phone"]))
        result = checkout.identify(terminal, **args)
        member = result.who.member
        return {
            "member": {
                "id": member.id,
                "display_name": mask_name(member.display_name) if result.method == "phone" else member.display_name,
                "masked_phone": member.phone_masked,
                "level": result.who.level,
            },
            "points_balance": result.who.balance,
            "discount_bp": result.who.discount_bp,
            "identification": {
                "method": result.method,
                "token": result.token,
                "expires_at": result.expires_at,
                "proof": result.proof,
                "spend_needs_proof": result.spend_needs_proof,
                "vouchers": result.vouchers,
            },
            "card_update": result.card_update,
        }


@blp.route("/sales/quote")
class Quote(MethodView):
    @blp.doc(security=TERMINAL_SECURITY)
    @blp.arguments(QuoteRequestSchema)
    @blp.response(200, QuoteResponseSchema)
    def post(self, args):
        """Price a sale for an identified member; changes nothing.

        With ``voucher_code`` (scanned or typed) or ``voucher_id`` (one of ``identification.vouchers``) the
        quote applies that alliance voucher: level discount, then the voucher (its minimum spend checked
        against the amount after the discount), then points within the cap on what remains
        (docs/terminal-api.md). A voucher that cannot be used here answers 422 ``voucher_invalid``.
        """
        terminal = require_terminal()
        with till_vouchers.failures_counted(terminal.id, get_remote_address()):  # each refused voucher counted
            return checkout.quote(terminal, **args)


@blp.route("/identifications/<token>/proof-code")
class IdentificationProofCode(MethodView):
    @blp.doc(security=TERMINAL_SECURITY)
    @blp.arguments(EmptySchema)
    @blp.response(200, ProofCodeResponseSchema)
    def post(self, _args, token):
        """Text the identified member a one-time code (body ``{}``); rate-limited per terminal and member."""
        terminal = require_terminal()
        enforce("proof_code:terminal", terminal.id)
        enforce("proof_code:member", checkout.identification_member(terminal, token))
        message_id, masked_phone = checkout.request_proof_code(terminal, token)
        send_now(message_id)
        return {"sent": True, "masked_phone": masked_phone, "resend_after": 60}


@blp.route("/identifications/<token>/proof")
class IdentificationProof(MethodView):
    @blp.doc(security=TERMINAL_SECURITY)
    @blp.arguments(ProofRequestSchema)
    @blp.response(200, ProofResponseSchema)
    def post(self, args, token):
        """Confirm the code the member received: the identification may then spend points.

        A wrong code answers 422 ``login_code_invalid`` with ``attempts_left``; too many wrong tries burn it.
        """
        proof = checkout.confirm_proof(require_terminal(), token, args["code"])
        return {"identification": {"proof": proof, "spend_needs_proof": False}}


def sale_data(result: SaleResult) -> dict:
    """A just-recorded sale with the member, their balance and level after it, for ``SaleEnvelopeSchema``."""
    sale, member = result.sale, result.member
    return {
        "sale": {
            **{name: getattr(sale, name) for name in _SALE_COLUMNS},
            "points_balance": result.points_balance,
            "level": result.level,
            "voucher": result.voucher,
        },
        "member": {
            "id": member.id,
            "display_name": mask_name(member.display_name) if result.method == "phone" else member.display_name,
            "masked_phone": member.phone_masked,
            "level": result.level,
        },
        "card_update": result.card_update,
        "gift": result.gift,
    }


_SALE_COLUMNS = tuple(name for name in SaleSchema().fields if name not in ("points_balance", "level", "voucher"))


@blp.route("/sales")
class Sales(MethodView):
    @blp.doc(security=TERMINAL_SECURITY, parameters=[IDEMPOTENCY_PARAMETER])
    @blp.arguments(SALE_REQUEST)
    @blp.response(201, SaleEnvelopeSchema)
    @blp.alt_response(
        429, schema=ErrorSchema, description="Too many identifications", headers={"Retry-After": RETRY_AFTER}
    )
    def post(self, args):
        """Record a sale (idempotent): with the token of an identify, or the card or code itself (one request).

        A sale carrying the credential is identified as ``POST /identify`` identifies (and counts against the
        same per-terminal limit); offline replays send what they captured instead of a token.

        A ``voucher_code`` or ``voucher_id`` is consumed in the sale's own transaction, exactly once (a retry
        with the same Idempotency-Key answers the first sale); never offline (422 ``voucher_offline``).
        """
        terminal = require_terminal()
        if not args["offline"] and args.get("identification_token") is None:
            enforce("identify:terminal", terminal.id)
        notices = []

        def work():
            result = sales.record_sale(SaleRequest(terminal=terminal, **args))
            notices.append(result.notice_sms_id)
            return sale_data(result)

        # the chip's update carries its sector's write key, the gift a voucher code: both stored sealed
        with till_vouchers.failures_counted(terminal.id, get_remote_address()):  # each refused voucher counted
            response = idempotent(current_actor(), work, sealed_field=("card_update", "gift"))
        if notices and notices[0] is not None:  # "points spent" SMS: sent once the answer is on its way
            app, message_id = current_app._get_current_object(), notices[0]

            def notify():
                with app.app_context():
                    send_now(message_id)

            response.call_on_close(notify)
        return response

    @blp.doc(security=ANY_SECURITY)
    @blp.arguments(SaleListQuerySchema, location="query")
    @blp.response(200, SaleDetailSchema(many=True))
    @blp.paginate()
    def get(self, filters, pagination_parameters):
        """List sales in the caller's scope, newest first (a terminal sees its merchant's only)."""
        actor = require("sales:read")
        if actor.merchant_id is not None:
            filters["merchant_id"] = actor.merchant_id
        return queries.list_sales(filters, pagination_parameters)


@blp.route("/sales/<sale_id>")
class SaleDetail(MethodView):
    @blp.doc(security=ANY_SECURITY)
    @blp.response(200, SaleDetailEnvelopeSchema)
    def get(self, sale_id):
        """One sale (the caller's merchant only)."""
        actor = require("sales:read")
        sale = checkout.get_sale(sale_id, actor.merchant_id)
        check_merchant_scope(actor, sale.merchant_id)
        return {"sale": queries.sale_detail(sale)}


@blp.route("/sales/<sale_id>/refunds")
class SaleRefunds(MethodView):
    @blp.doc(security=ANY_SECURITY, parameters=[IDEMPOTENCY_PARAMETER])
    @blp.arguments(RefundRequestSchema)
    @blp.response(201, RefundEnvelopeSchema)
    def post(self, args, sale_id):
        """Refund part or the rest of a sale (idempotent)."""
        actor = require("sales:refund")

        def work():
            result = sales.refund_sale(
                RefundRequest(
                    actor.key,
                    sale_id,
                    actor.merchant_id,
                    args.get("amount_fen"),
                    args["reason"],
                    payment_method=args["payment_method"],
                    supervisor_pin=args["supervisor_pin"],
                    at_terminal=actor.terminal is not None,
                )
            )
            sale = result.sale
            return {
                "refund": {
                    **{name: getattr(result.refund, name) for name in _REFUND_COLUMNS},
                    "receipt_no": sale.receipt_no,
                    "points_balance": result.points_balance,
                    "refundable_fen": checkout.refundable_fen(sale),
                }
            }

        return idempotent(actor, work)


_REFUND_COLUMNS = tuple(
    name for name in RefundSchema().fields if name not in ("receipt_no", "points_balance", "refundable_fen")
)


@blp.route("/sales/rejected")
class RejectedSales(MethodView):
    @blp.doc(security=TERMINAL_SECURITY)
    @blp.arguments(RejectedSaleRequestSchema)
    @blp.response(201, RejectedSaleEnvelopeSchema)
    def post(self, args):
        """Report a sale this terminal committed (and printed) that the server refused; kept for an operator.

        Reporting the same ``client_sale_id`` again answers with the first report.
        """
        terminal = require_terminal()
        args["request"] = json.dumps(args["request"], ensure_ascii=False)[:20_000]
        return {"rejected_sale": checkout.report_rejected_sale(terminal, **args)}

    @blp.doc(security=ANY_SECURITY)
    @blp.arguments(RejectedSaleQuerySchema, location="query")
    @blp.response(200, RejectedSaleSchema(many=True))
    @blp.paginate()
    def get(self, filters, pagination_parameters):
        """Refused sales the terminals reported, newest first (a merchant's own only for merchant staff)."""
        actor = require("sales:read")
        if actor.merchant_id is not None:
            filters["merchant_id"] = actor.merchant_id
        return queries.list_rejected_sales(filters, pagination_parameters)


@blp.route("/sales/rejected/<rejected_id>/resolve")
class RejectedSaleResolve(MethodView):
    @blp.doc(security=ANY_SECURITY)
    @blp.arguments(RejectedSaleResolveSchema)
    @blp.response(200, RejectedSaleEnvelopeSchema)
    def post(self, args, rejected_id):
        """Mark a reported refused sale as settled, saying how (e.g. "re-entered as sale 0007-000123")."""
        actor = require("sales:refund")
        if actor.terminal is not None:
            raise Forbidden("Operators resolve refused sales.")
        rejected = checkout.resolve_rejected_sale(actor.key, rejected_id, actor.merchant_id, args["resolution"])
        return {"rejected_sale": rejected}
