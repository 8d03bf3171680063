"""Staff users and their personal tokens (admin only), and the access helpers every operator module uses."""

from __future__ import annotations

import base64
import os
from collections.abc import Callable

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import current_app, jsonify
from flask.views import MethodView
from flask_smorest import Blueprint

from server.api.auth import STAFF_SECURITY, Actor, current_actor, require
from server.api.idempotent import IDEMPOTENCY_HEADER, idempotent
from server.api.operator_schemas import (
    IssuedPersonalTokenSchema,
    PersonalTokenCreateSchema,
    PersonalTokenSchema,
    StaffCreateSchema,
    StaffQuerySchema,
    StaffUserEnvelopeSchema,
    StaffUserSchema,
)
from server.domain.errors import Forbidden, InvalidRequest, NotFound
from server.services import catalog, queries
from server.services import staff as staff_service

IDEMPOTENCY_PARAMETER = {"in": "header", "name": "Idempotency-Key", **IDEMPOTENCY_HEADER["Idempotency-Key"]}
_SEALED_SECRET_AAD = b"idempotent-response-secret"


def authenticate_staff() -> Actor:
    """The calling staff member; a missing or bad token gets 401, a terminal 403."""
    actor = current_actor()
    if actor.user is None:
        raise Forbidden("Only staff may do this.")
    return actor


def staff_only() -> None:
    """Blueprint guard: only staff reach operator endpoints, so 401/403 come before any validation."""
    authenticate_staff()


def require_staff(permission: str) -> Actor:
    """The calling staff member, if their role grants ``permission``; 403 otherwise (terminals too)."""
    authenticate_staff()
    return require(permission)


def known_merchant(merchant_id: str | None, field: str) -> None:
    """A merchant id given in a request body must exist (422 otherwise, not a database error)."""
    if merchant_id is None:
        return
    try:
        catalog.get_merchant(merchant_id)
    except NotFound:
        raise InvalidRequest("No such merchant.", field=field) from None


def _seal(secret: str) -> str:
    nonce = os.urandom(12)
    key = current_app.extensions["alliance_keys"].pii_encryption
    return base64.b64encode(nonce + AESGCM(key).encrypt(nonce, secret.encode(), _SEALED_SECRET_AAD)).decode()


def _unseal(sealed: str) -> str:
    blob = base64.b64decode(sealed)
    key = current_app.extensions["alliance_keys"].pii_encryption
    return AESGCM(key).decrypt(blob[:12], blob[12:], _SEALED_SECRET_AAD).decode()


def idempotent_issuing_secret(actor: Actor, status: int, work: Callable[[], dict]):
    """Like ``idempotent``, for a body whose ``token`` is a new secret: the stored copy holds it encrypted.

    A retry with the same Idempotency-Key still gets the token back, but the database never holds a
    usable token in clear (tokens themselves are stored only as hashes).
    """

    def sealed_work() -> dict:
        body = work()
        return body | {"token": _seal(body["token"])}

    response = idempotent(actor, status, sealed_work)
    body = response.get_json()
    unsealed = jsonify(body | {"token": _unseal(body["token"])})
    unsealed.status_code = response.status_code
    if "Idempotent-Replayed" in response.headers:
        unsealed.headers["Idempotent-Replayed"] = response.headers["Idempotent-Replayed"]
    return unsealed


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
        """Create a staff user; owners and cashiers need a merchant_id (admin only, idempotent)."""
        actor = require_staff("staff:write")

        def work():
            known_merchant(args.get("merchant_id"), "merchant_id")
            user = staff_service.create_staff_user(actor.key, **args)
            return StaffUserEnvelopeSchema().dump({"staff_user": user})

        return idempotent(actor, 201, work)


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
            issued = staff_service.create_personal_token(actor.key, user_id, args["name"])
            return {"personal_token": PersonalTokenSchema().dump(issued.record), "token": issued.token}

        return idempotent_issuing_secret(actor, 201, work)
