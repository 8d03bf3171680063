"""Request and response schemas of the terminal API (docs/terminal-api.md), field for field."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from alliance_shared.money import MAX_AMOUNT_FEN
from card_layout.layout import CARD_BLOCKS
from server.api.contract import CHIP_UID_PATTERN, MEMBER_CODE, MOBILE, null_or_absent
from server.api.fields import Fen, Points, StrictBoolean, Text
from server.domain.payments import DEFAULT_PAYMENT_METHOD, PAYMENT_METHODS

HEX = validate.Regexp(r"^[0-9A-Fa-f]+$", error="Hexadecimal digits only.")


BLOCK_DATA = {
    "type": "string",
    "minLength": 32,
    "maxLength": 32,
    "pattern": "^[0-9A-Fa-f]{32}$",
    "description": "16 bytes in hex",
}


def PaymentMethod(**kwargs) -> fields.String:  # noqa: N802 - reads like a field class
    """How the customer paid the payable amount: cash 现金, wechat 微信, alipay 支付宝, card 银行卡, other 其他."""
    return fields.String(
        validate=validate.OneOf(PAYMENT_METHODS),
        load_default=DEFAULT_PAYMENT_METHOD,
        metadata={"description": "How the customer paid the rest: " + ", ".join(PAYMENT_METHODS)},
        **kwargs,
    )


class CardReadSchema(Schema):
    uid = fields.String(
        required=True,
        validate=[validate.Length(min=8, max=20), HEX],
        metadata={"pattern": CHIP_UID_PATTERN, "description": "Chip UID: 4, 7 or 10 bytes in hex"},
    )
    blocks = fields.Dict(
        keys=fields.String(validate=validate.Regexp(r"^\d{1,3}$")),
        values=fields.String(validate=[validate.Length(equal=32), HEX]),
        required=True,
        validate=validate.Length(max=64),
        metadata={
            "description": "The blocks read, by block number: those of the card record",
            # OpenAPI 3.0 has no propertyNames: the blocks a terminal reads, listed
            "properties": {str(block): BLOCK_DATA for block in CARD_BLOCKS},
            "additionalProperties": False,
        },
    )


def _exactly_one(data: dict, names: tuple[str, ...]) -> None:
    given = [name for name in names if data.get(name) is not None]
    if len(given) != 1:
        choices = ", ".join(names)
        raise ValidationError(f"Give exactly one of: {choices}.", "_schema")


class IdentifyRequestSchema(Schema):
    """Exactly one of ``card`` (a chip read), ``code`` (a scanned member code or card number), ``phone``."""

    OPENAPI_RULES = {"oneOf": [{"title": name, "required": [name]} for name in ("card", "code", "phone")]}

    card = fields.Nested(CardReadSchema)
    code = Text(64, metadata=MEMBER_CODE)
    phone = Text(32, metadata=MOBILE)

    @validates_schema
    def one_method(self, data, **kwargs):
        _exactly_one(data, ("card", "code", "phone"))


class LevelRefSchema(Schema):
    code = fields.String()
    name = fields.String()


class IdentifiedMemberSchema(Schema):
    id = fields.String()
    display_name = fields.String()
    masked_phone = fields.String()
    level = fields.Nested(LevelRefSchema)


class IdentifiedVoucherSchema(Schema):
    """One of the member's alliance vouchers usable at this merchant now (fields a kind does not use: 0 or "")."""

    id = fields.String(metadata={"description": "Send it as voucher_id with the quote and the sale"})
    name = fields.String()
    kind = fields.String(metadata={"description": "voucher_cash, voucher_threshold, voucher_percent, voucher_item"})
    face_value_fen = fields.Integer()
    min_spend_fen = fields.Integer(metadata={"description": "Checked against the bill after the level discount"})
    discount_bp = fields.Integer(metadata={"description": "voucher_percent: the share taken off"})
    max_off_fen = fields.Integer(metadata={"description": "voucher_percent: the most it takes off (0: no cap)"})
    item_name = fields.String(metadata={"description": "voucher_item: the named item"})
    expires_on = fields.Date(allow_none=True)
    code_last4 = fields.String()


class VoucherRefSchema(Schema):
    """The voucher a quote or sale applies."""

    id = fields.String()
    name = fields.String()
    kind = fields.String()
    code_last4 = fields.String()


VOUCHER_CODE_FIELD = {
    "description": "A voucher scanned or typed at the till (dashes and spaces ignored); not with voucher_id"
}
VOUCHER_ID_FIELD = {"description": "One of identification.vouchers (the identified member's); not with voucher_code"}


# not both voucher fields (either may be null)
NOT_BOTH_VOUCHERS = {
    "not": {
        "title": "voucher_code and voucher_id",
        "required": ["voucher_code", "voucher_id"],
        "properties": {"voucher_code": {"type": "string"}, "voucher_id": {"type": "string"}},
    }
}


def _one_voucher(data: dict) -> None:
    if data.get("voucher_code") is not None and data.get("voucher_id") is not None:
        raise ValidationError("Give voucher_code or voucher_id, not both.", "voucher_id")


class IdentificationSchema(Schema):
    method = fields.String()
    token = fields.String()
    expires_at = fields.DateTime()
    proof = fields.String(
        allow_none=True, metadata={"description": "card, code, sms, or null (phone or typed card number)"}
    )
    spend_needs_proof = fields.Boolean(
        metadata={"description": "True: redeeming points needs the member's proof first (till policy)"}
    )
    vouchers = fields.List(
        fields.Nested(IdentifiedVoucherSchema),
        metadata={"description": "The member's alliance vouchers usable at this merchant now (no third-party codes)"},
    )


class IdentifyResponseSchema(Schema):
    member = fields.Nested(IdentifiedMemberSchema)
    points_balance = fields.Integer()
    discount_bp = fields.Integer()
    identification = fields.Nested(IdentificationSchema)
    card_update = fields.Dict(allow_none=True)


class ProofCodeResponseSchema(Schema):
    sent = fields.Boolean()
    masked_phone = fields.String()
    resend_after = fields.Integer(metadata={"description": "Seconds before another code may be asked for"})


class ProofRequestSchema(Schema):
    code = fields.String(
        required=True, validate=[validate.Length(max=16), validate.Regexp(r"^\s*[0-9]{6}\s*$", error="Six digits.")]
    )


class ProofStateSchema(Schema):
    proof = fields.String()
    spend_needs_proof = fields.Boolean()


class ProofResponseSchema(Schema):
    identification = fields.Nested(ProofStateSchema)


class QuoteRequestSchema(Schema):
    OPENAPI_RULES = NOT_BOTH_VOUCHERS

    identification_token = Text(200, required=True)
    amount_fen = Fen(required=True)
    redeem_points = Points(load_default=0)
    voucher_code = Text(64, allow_none=True, metadata=VOUCHER_CODE_FIELD)
    voucher_id = Text(40, allow_none=True, metadata=VOUCHER_ID_FIELD)

    @validates_schema
    def one_voucher(self, data, **kwargs):
        _one_voucher(data)


class QuoteResponseSchema(Schema):
    """``amount = discount + voucher + redeem_value + payable``: discount, then voucher, then points."""

    amount_fen = fields.Integer()
    discount_fen = fields.Integer()
    redeem_points = fields.Integer()
    redeem_value_fen = fields.Integer()
    payable_fen = fields.Integer()
    points_to_earn = fields.Integer()
    max_redeem_points = fields.Integer()
    voucher_fen = fields.Integer(metadata={"description": "The voucher's value applied (0: none)"})
    voucher = fields.Nested(VoucherRefSchema, allow_none=True)


class SaleRequestSchema(Schema):
    """An online sale sends exactly one of: the ``identification_token`` of a fresh identify, or the
    credential itself — the chip's ``card`` read or a scanned ``code`` — identified in the sale's own
    transaction as ``POST /identify`` would (one request: tap and pay). An offline replay sends
    ``offline: true`` and exactly one of the captured ``card`` or ``code`` (no token), redeems no points,
    and stays within the ``offline_limits`` of GET /terminal (amount, age of ``occurred_at``).
    """

    OPENAPI_RULES = {
        "oneOf": [
            {
                "title": "online",
                "required": ["identification_token"],
                "properties": {
                    "identification_token": {"type": "string"},
                    "offline": {"type": "boolean", "enum": [False]},
                    "card": null_or_absent(),
                    "code": null_or_absent(),
                },
            },
            {
                "title": "online card",
                "required": ["card"],
                "properties": {
                    "card": {"type": "object"},
                    "offline": {"type": "boolean", "enum": [False]},
                    "identification_token": null_or_absent(),
                    "code": null_or_absent(),
                },
            },
            {
                "title": "online code",
                "required": ["code"],
                "properties": {
                    "code": {"type": "string"},
                    "offline": {"type": "boolean", "enum": [False]},
                    "identification_token": null_or_absent(),
                    "card": null_or_absent(),
                },
            },
            {
                "title": "offline",
                "required": ["offline"],
                "properties": {
                    "offline": {"type": "boolean", "enum": [True]},
                    "identification_token": null_or_absent(),
                    "redeem_points": {"type": "integer", "enum": [0]},
                    "voucher_code": null_or_absent(),  # vouchers are never redeemed offline
                    "voucher_id": null_or_absent(),
                },
                "oneOf": [
                    {
                        "title": "offline card",
                        "required": ["card"],
                        "properties": {"card": {"type": "object"}, "code": null_or_absent()},
                    },
                    {
                        "title": "offline code",
                        "required": ["code"],
                        "properties": {"code": {"type": "string"}, "card": null_or_absent()},
                    },
                ],
            },
        ],
        **NOT_BOTH_VOUCHERS,
    }

    identification_token = Text(200, allow_none=True)
    amount_fen = Fen(required=True)
    redeem_points = Points(load_default=0)
    client_sale_id = Text(64, allow_none=True)
    occurred_at = fields.AwareDateTime(allow_none=True)
    offline = StrictBoolean(load_default=False)
    card_update_written = StrictBoolean(allow_none=True)
    card = fields.Nested(CardReadSchema, allow_none=True)
    code = Text(64, allow_none=True, metadata=MEMBER_CODE)
    payment_method = PaymentMethod()
    receipt_no = Text(
        32,
        allow_none=True,
        metadata={"description": "The number the terminal printed (its prefix from GET /terminal); else one is given"},
    )
    voucher_code = Text(64, allow_none=True, metadata=VOUCHER_CODE_FIELD)
    voucher_id = Text(40, allow_none=True, metadata=VOUCHER_ID_FIELD)

    @validates_schema
    def one_voucher(self, data, **kwargs):
        _one_voucher(data)

    @validates_schema
    def token_or_capture(self, data, **kwargs):
        if data.get("offline"):
            # the identification token of an online sale that reached the server after it expired is a capture too
            _exactly_one(data, ("card", "code", "identification_token"))
        else:  # the identification of a fresh identify, or the credential itself (one request)
            if all(data.get(name) is None for name in ("identification_token", "card", "code")):
                raise ValidationError("Required for an online sale.", "identification_token")
            _exactly_one(data, ("identification_token", "card", "code"))


class SaleSchema(Schema):
    id = fields.String()
    receipt_no = fields.String()
    amount_fen = fields.Integer()
    discount_fen = fields.Integer()
    redeem_points = fields.Integer()
    redeem_value_fen = fields.Integer()
    payable_fen = fields.Integer()
    points_earned = fields.Integer()
    points_balance = fields.Integer()
    level = fields.Nested(LevelRefSchema)
    payment_method = fields.String()
    created_at = fields.DateTime()
    voucher_fen = fields.Integer(metadata={"description": "The voucher's value applied (0: none)"})
    voucher = fields.Nested(VoucherRefSchema, allow_none=True)


class SaleEnvelopeSchema(Schema):
    sale = fields.Nested(SaleSchema)
    member = fields.Nested(
        IdentifiedMemberSchema,
        metadata={"description": "Who bought, as identify shows them (the level and balance after it are in sale)"},
    )
    card_update = fields.Dict(
        allow_none=True,
        metadata={"description": "A chip tapped with the sale (card sent, no token): the update to write to it"},
    )


class SaleDetailSchema(SaleSchema):
    """A stored sale as the terminal's merchant or an operator sees it."""

    class Meta:
        exclude = ("points_balance",)  # the balance right after the sale: in the response to POST /sales only

    merchant_id = fields.String()
    terminal_id = fields.String()
    member_id = fields.String()
    method = fields.String()
    client_sale_id = fields.String(allow_none=True)
    discount_bp = fields.Integer()
    refunded_fen = fields.Integer()
    points_reversed = fields.Integer()
    points_restored = fields.Integer()
    offline = fields.Boolean()
    occurred_at = fields.DateTime()
    refundable_fen = fields.Integer(metadata={"description": "The most that can still be refunded"})


class SaleDetailEnvelopeSchema(Schema):
    sale = fields.Nested(SaleDetailSchema)


class SaleListQuerySchema(Schema):
    receipt_no = Text(32)
    merchant_id = Text(24)
    member_id = Text(24)
    terminal_id = Text(24)
    occurred_from = fields.AwareDateTime()
    occurred_to = fields.AwareDateTime()


class RefundRequestSchema(Schema):
    amount_fen = Fen()
    reason = Text(200, min_length=0, load_default="")
    payment_method = PaymentMethod()
    supervisor_pin = fields.String(
        validate=[validate.Length(max=8), validate.Regexp(r"^\d{4,8}$", error="4 to 8 digits.")],
        load_default=None,
        metadata={"description": "Needed at a terminal above the merchant's refund threshold (GET /terminal)"},
    )


class RefundSchema(Schema):
    id = fields.String()
    sale_id = fields.String()
    receipt_no = fields.String()
    amount_fen = fields.Integer()
    points_reversed = fields.Integer()
    points_restored = fields.Integer()
    points_balance = fields.Integer()
    refundable_fen = fields.Integer(metadata={"description": "What is left to refund of the sale after this one"})
    reason = fields.String()
    payment_method = fields.String()
    authorised_by = fields.String(allow_none=True)
    created_at = fields.DateTime()
    voucher_fen = fields.Integer(metadata={"description": "The refund's share of the sale's voucher value"})
    voucher_restored = fields.Boolean(
        metadata={"description": "The sale's voucher went back to the member (the sale is now fully refunded)"}
    )


class RefundEnvelopeSchema(Schema):
    refund = fields.Nested(RefundSchema)


class TerminalRefSchema(Schema):
    id = fields.String()
    name = fields.String()


class TerminalMerchantSchema(Schema):
    id = fields.String()
    name = fields.String()
    address = fields.String()


class TerminalAllianceSchema(Schema):
    name = fields.String()
    member_code_prefix = fields.String()
    point_value_fen = fields.Integer()
    card_public_key = fields.String(metadata={"description": "Ed25519 public key verifying card records (base64)"})
    card_read_key = fields.String(metadata={"description": "Secret the terminal derives card read keys from (base64)"})
    time_zone = fields.String(metadata={"description": "The alliance's time zone: times on paper are in it"})


class ReceiptNumberingSchema(Schema):
    prefix = fields.String(metadata={"description": 'The terminal numbers its sales "<prefix>-<seq>"'})
    last_seq = fields.Integer(metadata={"description": "The last sequence number used"})


class RefundPolicySchema(Schema):
    authorisation_above_fen = fields.Integer(
        allow_none=True, metadata={"description": "Refunds above this need the supervisor PIN; null: none do"}
    )


class OfflineLimitsSchema(Schema):
    max_sale_fen = fields.Integer()
    max_sales_per_shift = fields.Integer()
    max_age_hours = fields.Integer()


class OfflineLevelSchema(Schema):
    rank = fields.Integer(metadata={"description": "The level rank as the signed card record carries it"})
    code = fields.String()
    name = fields.String()
    discount_bp = fields.Integer(metadata={"description": "The discount its members get at this merchant"})


class OfflinePricingSchema(Schema):
    earn_rate_bp = fields.Integer()
    levels = fields.List(fields.Nested(OfflineLevelSchema))


class TerminalInfoSchema(Schema):
    """``GET /terminal``: who the terminal is, its merchant, the alliance, receipts, refunds, offline rules."""

    terminal = fields.Nested(TerminalRefSchema)
    merchant = fields.Nested(TerminalMerchantSchema)
    alliance = fields.Nested(TerminalAllianceSchema)
    receipts = fields.Nested(ReceiptNumberingSchema)
    refunds = fields.Nested(RefundPolicySchema)
    offline_limits = fields.Nested(OfflineLimitsSchema)
    offline_pricing = fields.Nested(
        OfflinePricingSchema,
        metadata={"description": "Beyond the contract: what a terminal needs to price a card sale offline"},
    )
    server_time = fields.DateTime()


class RejectedSaleRequestSchema(Schema):
    """A sale the terminal committed and printed that the server refused, reported for an operator."""

    client_sale_id = Text(64, required=True)
    receipt_no = Text(32, min_length=0, load_default="")
    amount_fen = Fen(required=True)
    payable_fen = fields.Integer(strict=True, required=True, validate=validate.Range(min=0, max=MAX_AMOUNT_FEN))
    payment_method = PaymentMethod()
    error_code = Text(40, required=True)
    error_message = Text(400, min_length=0, load_default="")
    occurred_at = fields.AwareDateTime(required=True)
    request = fields.Dict(load_default=dict, validate=validate.Length(max=32))  # the sale's body as it was sent


class RejectedSaleSchema(Schema):
    id = fields.String()
    merchant_id = fields.String()
    terminal_id = fields.String()
    client_sale_id = fields.String()
    receipt_no = fields.String()
    amount_fen = fields.Integer()
    payable_fen = fields.Integer()
    payment_method = fields.String()
    error_code = fields.String()
    error_message = fields.String()
    occurred_at = fields.DateTime()
    status = fields.String()
    resolution = fields.String()
    resolved_by = fields.String(allow_none=True)
    resolved_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


class RejectedSaleEnvelopeSchema(Schema):
    rejected_sale = fields.Nested(RejectedSaleSchema)


class RejectedSaleQuerySchema(Schema):
    status = fields.String(validate=validate.OneOf(("open", "resolved")))
    terminal_id = Text(24)


class RejectedSaleResolveSchema(Schema):
    resolution = Text(200, required=True)
