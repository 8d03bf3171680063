"""The alliance's settings and the public card-verification material, for operator tools."""

from __future__ import annotations

from flask import current_app
from flask.views import MethodView
from marshmallow import Schema, fields, validate

from server.api.auth import STAFF_SECURITY, require_staff, staff_only
from server.api.blueprint import Blueprint
from server.api.fields import StrictBoolean
from server.api.operator_schemas import NotEmptyMixin
from server.domain.lots import EXPIRY_POLICIES
from server.services.alliance import get_settings, update_points_policy

blp = Blueprint("alliance", __name__, url_prefix="/api/v1", description="Alliance settings")
blp.before_request(staff_only)


class AllianceSchema(Schema):
    name = fields.String()
    member_code_prefix = fields.String()
    card_number_prefix = fields.String()
    point_value_fen = fields.Integer()
    timezone = fields.String()
    level_window_days = fields.Integer()
    offline_max_sale_fen = fields.Integer()
    offline_max_sales_per_shift = fields.Integer()
    offline_max_age_hours = fields.Integer()
    points_expiry_policy = fields.String(metadata={"description": "months, year_end or never"})
    points_expiry_months = fields.Integer()
    expiry_notice_days = fields.Integer()
    business_day_cutoff_hour = fields.Integer(metadata={"description": "A business day starts at this local hour"})
    spend_requires_proof = fields.Boolean(
        metadata={"description": "Till policy: spending points needs a chip card, member code or SMS code"}
    )
    invite_reward_points_per_yuan = fields.Integer(
        metadata={"description": "Member invitations: points per yuan a friend pays in their first days (0: off)"}
    )
    invite_reward_days = fields.Integer(metadata={"description": "The days after joining that count"})
    card_public_key = fields.String(metadata={"description": "Ed25519 public key verifying card records (base64)"})
    card_read_key = fields.String(metadata={"description": "Secret terminals derive card read keys from (base64)"})


class AlliancePolicyUpdateSchema(NotEmptyMixin, Schema):
    points_expiry_policy = fields.String(validate=validate.OneOf(EXPIRY_POLICIES))
    points_expiry_months = fields.Integer(strict=True, validate=validate.Range(min=1, max=120))
    expiry_notice_days = fields.Integer(strict=True, validate=validate.Range(min=0, max=365))
    business_day_cutoff_hour = fields.Integer(strict=True, validate=validate.Range(min=0, max=23))
    spend_requires_proof = StrictBoolean()
    invite_reward_points_per_yuan = fields.Integer(strict=True, validate=validate.Range(min=0, max=100))
    invite_reward_days = fields.Integer(strict=True, validate=validate.Range(min=1, max=365))


_CARD_KEYS = ("card_public_key", "card_read_key")
_SETTINGS_FIELDS = tuple(name for name in AllianceSchema().fields if name not in _CARD_KEYS)


def with_card_keys(settings) -> dict:
    """The alliance settings with the card keys, as ``AllianceSchema`` dumps them."""
    keys = current_app.extensions["alliance_keys"]
    return {name: getattr(settings, name) for name in _SETTINGS_FIELDS} | {
        name: getattr(keys, name) for name in _CARD_KEYS
    }


@blp.route("/alliance")
class Alliance(MethodView):
    @blp.doc(security=STAFF_SECURITY)
    @blp.response(200, AllianceSchema)
    def get(self):
        """The alliance settings, with the card public key and read key that card tools verify cards with."""
        require_staff("alliance:read")
        return with_card_keys(get_settings())

    @blp.doc(security=STAFF_SECURITY)
    @blp.arguments(AlliancePolicyUpdateSchema)
    @blp.response(200, AllianceSchema)
    def patch(self, args):
        """Change the points expiry policy, the expiry notice period, the business day's cut-off hour or the
        till policy ``spend_requires_proof`` (admin)."""
        actor = require_staff("alliance:write")
        return with_card_keys(update_points_policy(actor.key, **args))
