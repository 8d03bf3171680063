"""Request and response schemas of the operator and merchant-staff endpoints."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, pre_load, validate, validates_schema

from alliance_shared.money import MAX_AMOUNT_FEN
from card_layout.layout import MAX_LEVEL_RANK
from server.api.contract import CARD_NUMBER, MOBILE, null_or_absent
from server.api.fields import MAX_POINTS, BasisPoints, Text
from server.domain.identifiers import is_valid_card_number
from server.domain.ledger import (
    ALLIANCE_ADJUSTMENTS,
    ALLIANCE_EXPIRY,
    MEMBER_POINTS,
    MERCHANT_ACCEPTED,
    MERCHANT_ISSUED,
)
from server.domain.permissions import MERCHANT_ROLES, OPERATOR_ROLES, ROLES
from server.domain.statuses import CardStatus, MerchantStatus, TerminalStatus
from server.models.card import CARD_KINDS
from server.services.cards import card_check_code
from server.services.catalog import TRADES

ACCOUNT_KINDS = (MEMBER_POINTS, MERCHANT_ISSUED, MERCHANT_ACCEPTED, ALLIANCE_ADJUSTMENTS, ALLIANCE_EXPIRY)
MAX_CARDS_PER_REQUEST = 1_000

CODE = validate.Regexp(r"^[a-z0-9][a-z0-9_-]*$", error="Lower-case letters, digits, '_' and '-' only.")
USERNAME = validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9_.@-]*$", error="Letters, digits, '_', '.', '@' and '-' only.")


def OptionalText(max_length: int, **kwargs) -> fields.String:  # noqa: N802 - reads like a field class
    """A string that may be empty."""
    return Text(max_length, min_length=0, **kwargs)


def SpendFen(**kwargs) -> fields.Integer:  # noqa: N802
    """A spend threshold in fen: a JSON integer from 0 to 10^10."""
    return fields.Integer(strict=True, validate=validate.Range(min=0, max=MAX_AMOUNT_FEN), **kwargs)


def Choice(values, **kwargs) -> fields.String:  # noqa: N802
    """One of a fixed set of strings."""
    return fields.String(validate=validate.OneOf(sorted(str(value) for value in values)), **kwargs)


def RegionCode(**kwargs) -> fields.String:  # noqa: N802
    """A six-digit GB/T 2260 region code (GET /regions lists them)."""
    kwargs.setdefault("metadata", {"description": "GB/T 2260 region code"})
    six_digits = validate.Regexp(r"^[0-9]{6}$", error="A region code has six digits.")
    return fields.String(validate=[validate.Length(min=6, max=6), six_digits], **kwargs)


def _card_number(value: str) -> None:
    if not is_valid_card_number(value):
        raise ValidationError("Not a valid card number (16 digits with a check digit).")


class NotEmptyMixin:
    """A PATCH body must change something."""

    OPENAPI_RULES = {"minProperties": 1}

    @validates_schema
    def not_empty(self, data, **kwargs):
        if not data:
            raise ValidationError("Give at least one field to change.", "_schema")


class EmptySchema(Schema):
    """A request without parameters (unknown fields are refused)."""


# Merchants and level discounts


class MerchantSchema(Schema):
    id = fields.String()
    name = fields.String()
    trade = fields.String()
    region = fields.String()
    region_code = fields.String(allow_none=True, metadata={"description": "GB/T 2260 code (GET /regions)"})
    agent_id = fields.String(allow_none=True, metadata={"description": "The agent servicing the merchant"})
    address = fields.String()
    contact_phone = fields.String()
    status = fields.String()
    earn_rate_bp = fields.Integer()
    max_redeem_bp = fields.Integer()
    service_fee_bp = fields.Integer(metadata={"description": "Alliance service fee: bp of net member sales"})
    service_fee_per_sale_fen = fields.Integer(metadata={"description": "Alliance service fee per sale"})
    refund_auth_threshold_fen = fields.Integer(
        allow_none=True,
        metadata={"description": "Terminal refunds above this many fen need the supervisor PIN (null: never)"},
    )
    refund_pin_set = fields.Function(
        lambda merchant: merchant.refund_pin_hash is not None, metadata={"description": "A supervisor PIN is set"}
    )
    created_at = fields.DateTime()


class MerchantEnvelopeSchema(Schema):
    merchant = fields.Nested(MerchantSchema)


class MerchantQuerySchema(Schema):
    trade = Choice(TRADES)
    region = Text(64)
    region_code = Text(6, metadata={"description": "GB/T 2260 code"})
    agent_id = Text(24, metadata={"description": "The servicing agent"})
    status = Choice(MerchantStatus)
    q = Text(100, metadata={"description": "Part of the name (case-insensitive)"})


def _refund_pin_rule(pin_required: bool) -> dict:
    """A refund threshold needs a supervisor PIN (enforced by server.services.catalog._set_refund_pin).

    With a threshold, a ``refund_pin`` sent along is a PIN (not empty, which would remove it). A new
    merchant has no PIN yet, so it must come along; a PATCH may rely on the PIN stored before.
    """
    with_threshold = {
        "title": "refund authorisation",
        "required": ["refund_auth_threshold_fen", "refund_pin"] if pin_required else ["refund_auth_threshold_fen"],
        "properties": {
            "refund_auth_threshold_fen": {"type": "integer"},
            "refund_pin": {"type": "string", "minLength": 4},
        },
    }
    without = {"title": "no refund authorisation", "properties": {"refund_auth_threshold_fen": null_or_absent()}}
    return {"oneOf": [without, with_threshold]}


class RefundAuthorisationFields(Schema):
    """A merchant's refund authorisation: refunds above a threshold need the supervisor PIN (rule: catalog)."""

    refund_auth_threshold_fen = fields.Integer(
        strict=True,
        allow_none=True,
        validate=validate.Range(min=0, max=100_000_000),
        metadata={"description": "Terminal refunds above this many fen need the supervisor PIN (null: never)"},
    )
    refund_pin = fields.String(
        validate=[
            validate.Length(max=8),
            validate.Regexp(r"^(\d{4,8})?$", error="4 to 8 digits, or empty to remove the PIN."),
        ],
        load_only=True,
        metadata={"description": "The supervisor PIN for refunds (stored hashed; empty removes it)"},
    )


class MerchantCreateSchema(RefundAuthorisationFields):
    """``refund_auth_threshold_fen`` (not null) comes with the ``refund_pin`` that authorises such refunds."""

    OPENAPI_RULES = _refund_pin_rule(pin_required=True)

    name = Text(100, required=True)
    trade = Choice(TRADES, required=True)
    region = OptionalText(64)
    region_code = RegionCode(allow_none=True)
    agent_id = Text(24, allow_none=True, metadata={"description": "The agent servicing the merchant (null: none)"})
    address = OptionalText(200)
    contact_phone = OptionalText(32)
    earn_rate_bp = BasisPoints()
    max_redeem_bp = BasisPoints()
    service_fee_bp = BasisPoints(metadata={"description": "Settlement: bp of net member sales"})
    service_fee_per_sale_fen = fields.Integer(strict=True, validate=validate.Range(min=0, max=100_000))


class MerchantUpdateSchema(NotEmptyMixin, RefundAuthorisationFields):
    """A ``refund_auth_threshold_fen`` (not null) needs a supervisor PIN: the one stored or a ``refund_pin``
    sent along (not empty). Removing the PIN (``""``) while a threshold is kept is refused."""

    OPENAPI_RULES = {**NotEmptyMixin.OPENAPI_RULES, **_refund_pin_rule(pin_required=False)}

    name = Text(100)
    trade = Choice(TRADES)
    region = OptionalText(64)
    region_code = RegionCode(allow_none=True)
    agent_id = Text(24, allow_none=True, metadata={"description": "The agent servicing the merchant (null: none)"})
    address = OptionalText(200)
    contact_phone = OptionalText(32)
    status = Choice(MerchantStatus)
    earn_rate_bp = BasisPoints()
    max_redeem_bp = BasisPoints()
    service_fee_bp = BasisPoints(metadata={"description": "Settlement: bp of net member sales (operators)"})
    service_fee_per_sale_fen = fields.Integer(strict=True, validate=validate.Range(min=0, max=100_000))


class LevelDiscountSchema(Schema):
    """What one level pays at a merchant, with the operator's bounds for it."""

    merchant_id = fields.String()
    level_id = fields.String()
    level_code = fields.String()
    level_name = fields.String()
    rank = fields.Integer()
    discount_bp = fields.Integer()
    min_discount_bp = fields.Integer()
    max_discount_bp = fields.Integer()


class LevelDiscountUpdateSchema(Schema):
    discount_bp = BasisPoints(required=True)


# Terminals


class TerminalSchema(Schema):
    id = fields.String()
    merchant_id = fields.String()
    code = fields.String()
    name = fields.String()
    status = fields.String()
    created_at = fields.DateTime()


class TerminalEnvelopeSchema(Schema):
    terminal = fields.Nested(TerminalSchema)


class IssuedTerminalSchema(Schema):
    terminal = fields.Nested(TerminalSchema)
    token = fields.String(metadata={"description": "The terminal's bearer token (tt_...), shown only here"})


class TerminalCreateSchema(Schema):
    name = Text(100, required=True)


class TerminalUpdateSchema(Schema):
    status = Choice(TerminalStatus, required=True)


# Levels


class LevelSchema(Schema):
    id = fields.String()
    code = fields.String()
    name = fields.String()
    name_en = fields.String()
    rank = fields.Integer()
    upgrade_spend_fen = fields.Integer()
    keep_spend_fen = fields.Integer()
    protection_days = fields.Integer()
    default_discount_bp = fields.Integer()
    min_discount_bp = fields.Integer()
    max_discount_bp = fields.Integer()
    created_at = fields.DateTime()


class LevelEnvelopeSchema(Schema):
    level = fields.Nested(LevelSchema)


class LevelUpdateSchema(NotEmptyMixin, Schema):
    name = Text(50)
    name_en = OptionalText(50)
    upgrade_spend_fen = SpendFen()
    keep_spend_fen = SpendFen()
    protection_days = fields.Integer(strict=True, validate=validate.Range(min=0, max=3650))
    default_discount_bp = BasisPoints()
    min_discount_bp = BasisPoints()
    max_discount_bp = BasisPoints()


class LevelCreateSchema(LevelUpdateSchema):
    code = fields.String(required=True, validate=[validate.Length(min=1, max=32), CODE])
    name = Text(50, required=True)
    rank = fields.Integer(
        strict=True,
        required=True,
        validate=validate.Range(min=0, max=MAX_LEVEL_RANK),
        metadata={"description": "0 is the lowest; a card records it in one byte"},
    )


class LevelEvaluationSchema(Schema):
    upgraded = fields.Integer()
    downgraded = fields.Integer()
    kept = fields.Integer()


# Members and cards


class LevelBriefSchema(Schema):
    id = fields.String()
    code = fields.String()
    name = fields.String()


class CardSchema(Schema):
    id = fields.String()
    card_no = fields.String()
    kind = fields.String(metadata={"description": "physical (printed, with or without a chip) or electronic (e-card)"})
    chip_uid = fields.String(allow_none=True)
    status = fields.String()
    member_id = fields.String(allow_none=True)
    batch_id = fields.String(allow_none=True)
    key_version = fields.Integer()
    replaced_by_id = fields.String(allow_none=True)
    status_changed_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


class PrintCardSchema(CardSchema):
    check_code = fields.Function(
        lambda card: card_check_code(card.card_no), metadata={"description": "Printed for the member to bind the card"}
    )


class CardEnvelopeSchema(Schema):
    card = fields.Nested(CardSchema)


class CardListEnvelopeSchema(Schema):
    cards = fields.List(fields.Nested(CardSchema))


class CardQuerySchema(Schema):
    status = Choice(CardStatus)
    kind = Choice(CARD_KINDS)
    card_no = Text(20)
    member_id = Text(24)


class CardCreateSchema(Schema):
    count = fields.Integer(strict=True, required=True, validate=validate.Range(min=1, max=MAX_CARDS_PER_REQUEST))


class MemberSummarySchema(Schema):
    """A member as operators list them: the phone is masked."""

    id = fields.String()
    display_name = fields.String()
    masked_phone = fields.String()
    status = fields.String()
    level = fields.Nested(LevelBriefSchema)
    level_since = fields.DateTime()
    recruited_by_merchant_id = fields.String(allow_none=True)
    created_at = fields.DateTime()


class MemberDetailSchema(MemberSummarySchema):
    points_balance = fields.Integer()
    cards = fields.List(fields.Nested(CardSchema))


class MemberEnvelopeSchema(Schema):
    member = fields.Nested(MemberDetailSchema)


class MemberFilterSchema(Schema):
    card_no = Text(20)
    level = Text(32, metadata={"description": "Level code"})
    status = Text(16)


class MemberQuerySchema(MemberFilterSchema):
    """List filters. A phone number is refused here: URLs end up in access logs (search by POST instead)."""

    @pre_load
    def _no_phone_in_urls(self, data, **kwargs):
        if any(name in data for name in ("phone", "mobile")):
            raise ValidationError("Search by phone with POST /api/v1/members/search.", "phone")
        return data


class MemberSearchSchema(MemberFilterSchema):
    """Find members by phone, by the phone's last digits or by name: these travel in the body, never in the URL."""

    OPENAPI_RULES = {"anyOf": [{"required": ["phone"]}, {"required": ["phone_ending"]}, {"required": ["name"]}]}

    phone = Text(32, metadata=MOBILE)
    phone_ending = fields.String(
        validate=[
            validate.Length(min=4, max=11, error="Type at least the last four digits of the phone number."),
            validate.Regexp(r"^\d{4,11}$", error="Type at least the last four digits of the phone number."),
        ],
        metadata={"description": "The last 4 to 11 digits of the phone number", "example": "5678"},
    )
    name = Text(50, metadata={"description": "Part of the member's name"})

    @validates_schema
    def _something_to_search_by(self, data, **kwargs):
        if not any(data.get(name) for name in ("phone", "phone_ending", "name")):
            raise ValidationError("Search by phone, phone_ending or name.", "phone")


class MemberCreateSchema(Schema):
    phone = Text(32, required=True, metadata=MOBILE)
    display_name = OptionalText(50, load_default="")
    recruited_by_merchant_id = Text(24)


class MemberPhoneSchema(Schema):
    member_id = fields.String()
    phone = fields.String()


class BindCardSchema(Schema):
    card_no = fields.String(required=True, validate=[validate.Length(equal=16), _card_number], metadata=CARD_NUMBER)


class PointsAdjustmentSchema(Schema):
    points = fields.Integer(
        strict=True,
        required=True,
        validate=validate.Range(min=-MAX_POINTS, max=MAX_POINTS),
        metadata={"description": "Points to add (negative: take away); not zero", "not": {"enum": [0]}},
    )
    reason = Text(200, required=True, metadata={"pattern": r"\S", "description": "Not blank"})

    @validates_schema
    def real_change(self, data, **kwargs):
        if data.get("points") == 0:
            raise ValidationError("An adjustment must change the balance.", "points")
        if "reason" in data and not data["reason"].strip():
            raise ValidationError("Give a reason.", "reason")


class PointsAdjustmentResultSchema(Schema):
    member_id = fields.String()
    points = fields.Integer()
    points_balance = fields.Integer()


# Ledger


class LedgerAccountSchema(Schema):
    id = fields.Integer()
    kind = fields.String()
    owner_id = fields.String()
    balance = fields.Integer()
    allow_negative = fields.Boolean()
    created_at = fields.DateTime()


class LedgerAccountQuerySchema(Schema):
    kind = Choice(ACCOUNT_KINDS)
    owner_id = Text(24)


class AccountEntrySchema(Schema):
    """One entry on an account, with what its transaction was."""

    id = fields.Integer()
    transaction_id = fields.Integer()
    account_id = fields.Integer()
    amount = fields.Integer()
    kind = fields.String()
    sale_id = fields.String(allow_none=True)
    refund_id = fields.String(allow_none=True)
    actor = fields.String()
    memo = fields.String()
    created_at = fields.DateTime()


class TransactionEntrySchema(Schema):
    id = fields.Integer()
    account_id = fields.Integer()
    account_kind = fields.String()
    owner_id = fields.String()
    amount = fields.Integer()


class LedgerTransactionSchema(Schema):
    id = fields.Integer()
    kind = fields.String()
    sale_id = fields.String(allow_none=True)
    refund_id = fields.String(allow_none=True)
    actor = fields.String()
    memo = fields.String()
    created_at = fields.DateTime()
    entries = fields.List(fields.Nested(TransactionEntrySchema))


class LedgerTransactionQuerySchema(Schema):
    kind = Text(32)
    sale_id = Text(24)


# Staff


class StaffUserSchema(Schema):
    id = fields.String()
    username = fields.String()
    display_name = fields.String()
    role = fields.String()
    merchant_id = fields.String(allow_none=True)
    status = fields.String()
    created_at = fields.DateTime()


class StaffUserEnvelopeSchema(Schema):
    staff_user = fields.Nested(StaffUserSchema)


class StaffQuerySchema(Schema):
    role = Choice(ROLES)
    merchant_id = Text(24)


class StaffCreateSchema(Schema):
    """Merchant roles (owner, cashier) belong to the ``merchant_id`` given; operator roles to no merchant."""

    OPENAPI_RULES = {
        "oneOf": [
            {
                "title": "operator staff",
                "properties": {"role": {"enum": sorted(OPERATOR_ROLES)}, "merchant_id": null_or_absent()},
            },
            {
                "title": "merchant staff",
                "required": ["merchant_id"],
                "properties": {"role": {"enum": sorted(MERCHANT_ROLES)}, "merchant_id": {"type": "string"}},
            },
        ]
    }

    username = fields.String(required=True, validate=[validate.Length(min=1, max=64), USERNAME])
    role = Choice(ROLES, required=True)
    merchant_id = Text(24)
    display_name = OptionalText(100, load_default="")
    password = fields.String(
        validate=validate.Length(min=10, max=200),
        metadata={
            "description": "At least 10 characters, not one of the most common passwords (zxcvbn's list), not "
            "one character repeated, and not containing the username; changed by the user at the first sign-in"
        },
    )


class PersonalTokenSchema(Schema):
    id = fields.String()
    user_id = fields.String()
    name = fields.String()
    expires_at = fields.DateTime(allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


class PersonalTokenCreateSchema(Schema):
    name = Text(100, required=True)
    valid_days = fields.Integer(
        strict=True,
        load_default=None,
        allow_none=True,
        validate=validate.Range(min=1, max=3_650),
        metadata={"description": "Days until the token stops working (none: until it is revoked)"},
    )


class IssuedPersonalTokenSchema(Schema):
    personal_token = fields.Nested(PersonalTokenSchema)
    token = fields.String(metadata={"description": "The personal token (pt_...), shown only here"})
