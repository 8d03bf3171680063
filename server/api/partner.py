"""The partners' API: benefit grants by a partner's signed request (docs/benefits.md, "Partners")."""

from __future__ import annotations

from flask import request
from flask.views import MethodView
from flask_limiter.util import get_remote_address

from server.api.benefit_grant_schemas import (
    PartnerGrantResultSchema,
    PartnerGrantSchema,
    PartnerRedemptionResultSchema,
    PartnerRedemptionSchema,
)
from server.api.blueprint import Blueprint
from server.ratelimit import enforce
from server.services import benefit_grants, third_party_redemptions

blp = Blueprint(
    "partner",
    __name__,
    url_prefix="/api/v1/partner",
    description="Partners and suppliers: signed benefit grants, redemptions reported by suppliers",
)

SIGNATURE_HEADERS = {  # header -> the service's name for it
    "X-Partner-Key": "key_id",
    "X-Partner-Timestamp": "timestamp",
    "X-Partner-Nonce": "nonce",
    "X-Partner-Signature": "signature",
}
# the signature itself: the partnerSignature security scheme (hex HMAC-SHA256 under the partner's secret of
# method, path, timestamp, nonce and the body's hex SHA-256, joined by newlines)
PARTNER_SECURITY = [{"partnerSignature": []}]
PARTNER_HEADERS = [
    {"in": "header", "name": "X-Partner-Key", "required": True, "schema": {"type": "string", "maxLength": 40}},
    {
        "in": "header",
        "name": "X-Partner-Timestamp",
        "required": True,
        "description": "Unix seconds; within 5 minutes of the server's clock",
        "schema": {"type": "string", "maxLength": 12},
    },
    {
        "in": "header",
        "name": "X-Partner-Nonce",
        "required": True,
        "description": "8 to 64 characters, never used before by this partner",
        "schema": {"type": "string", "minLength": 8, "maxLength": 64},
    },
]


@blp.route("/benefit-grants")
class PartnerBenefitGrants(MethodView):
    @blp.doc(parameters=PARTNER_HEADERS, security=PARTNER_SECURITY)
    @blp.arguments(PartnerGrantSchema)
    @blp.response(201, PartnerGrantResultSchema)
    def post(self, args):
        """Grant one code of a SKU the partner may give to the member with this phone number.

        Signed per partner key (HMAC-SHA256 with a timestamp and a nonce against replay); idempotent on the
        partner's ``request_id``: the same id again answers the first grant. Every signature failure gets the
        same answer (``partner_signature_invalid``). The member's claim budget and the IP address's apply
        (``benefit_limit_reached``, 429)."""
        ip = get_remote_address()
        enforce("partner_grant:ip", ip)
        headers = {name: request.headers.get(header, "") for header, name in SIGNATURE_HEADERS.items()}
        return benefit_grants.partner_grant(headers, request.method, request.path, request.get_data(), args, ip=ip)


@blp.route("/benefit-redemptions")
class PartnerBenefitRedemptions(MethodView):
    @blp.doc(parameters=PARTNER_HEADERS, security=PARTNER_SECURITY)
    @blp.arguments(PartnerRedemptionSchema)
    @blp.response(200, PartnerRedemptionResultSchema)
    def post(self, args):
        """A supplier reports third-party codes its customers redeemed: each issued code of the supplier's SKUs
        becomes redeemed (a report sent again changes nothing); every other code answers ``unknown``.

        Signed with the supplier's partner key like a grant; every signature failure gets the same answer."""
        enforce("partner_grant:ip", get_remote_address())
        headers = {name: request.headers.get(header, "") for header, name in SIGNATURE_HEADERS.items()}
        return third_party_redemptions.supplier_callback(
            headers, request.method, request.path, request.get_data(), args["codes"]
        )
