"""Schemas of card batches, chip encoding and the card lifecycle."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from server.api.fields import Text
from server.domain.statuses import CardBatchKind, CardStatus
from server.services.cards import CARD_TYPES, MAX_BATCH, batch_progress

MAX_PRINT_DETAILS = 20


class BatchCreateSchema(Schema):
    count = fields.Integer(strict=True, required=True, validate=validate.Range(min=1, max=MAX_BATCH))
    kind = fields.String(
        load_default=CardBatchKind.CHIP.value,
        validate=validate.OneOf([str(kind) for kind in CardBatchKind]),
        metadata={"description": "chip: cards to encode; printed: cards without a chip, ready to bind at once"},
    )
    card_type = fields.String(load_default="mifare-classic-1k", validate=validate.OneOf(sorted(CARD_TYPES)))
    level = Text(32, load_default=None, allow_none=True)
    name = Text(100, min_length=0, load_default="")
    print_details = fields.Dict(
        keys=fields.String(validate=validate.Length(max=40)),
        values=fields.String(validate=validate.Length(max=200)),
        validate=validate.Length(max=MAX_PRINT_DETAILS),
        load_default=dict,
    )


class BatchSummarySchema(Schema):
    id = fields.String()
    name = fields.String()
    kind = fields.String()
    card_type = fields.String()
    count = fields.Integer()
    level_id = fields.String(allow_none=True)
    first_card_no = fields.String()
    last_card_no = fields.String()
    print_details = fields.Dict()
    state = fields.String()
    created_at = fields.DateTime()


class BatchSchema(BatchSummarySchema):
    progress = fields.Method("batch_progress", metadata={"description": "How many cards are in each status"})

    def batch_progress(self, batch) -> dict[str, int]:
        return batch_progress(batch.id)


class ConsignmentSchema(Schema):
    """Cards of a batch handed to an agent, with what became of them."""

    id = fields.String()
    agent_id = fields.String()
    agent_name = fields.String()
    first_card_no = fields.String()
    last_card_no = fields.String()
    count = fields.Integer(metadata={"description": "Cards in the range"})
    activated = fields.Integer(metadata={"description": "Cards of the range bound to a member"})
    sales = fields.Integer(metadata={"description": "Sales with cards of the range"})
    consumption_fen = fields.Integer(metadata={"description": "Their consumption net of refunds"})
    created_by = fields.String()
    created_at = fields.DateTime()


class ConsignmentCreateSchema(Schema):
    agent_id = fields.String(required=True, validate=validate.Length(min=1, max=24))
    first_card_no = fields.String(
        validate=[validate.Length(min=1, max=20), validate.Regexp(r"^[0-9]{1,20}$")],
        metadata={"description": "Default: the batch's first"},
    )
    last_card_no = fields.String(
        validate=[validate.Length(min=1, max=20), validate.Regexp(r"^[0-9]{1,20}$")],
        metadata={"description": "Default: the batch's last"},
    )


class BatchEnvelopeSchema(Schema):
    batch = fields.Nested(BatchSchema)
    consignments = fields.List(
        fields.Nested(ConsignmentSchema), dump_default=list, metadata={"description": "Cards handed to agents"}
    )


class BatchCardQuerySchema(Schema):
    status = fields.String(validate=validate.OneOf([str(status) for status in CardStatus]))


class EncodePlanSchema(Schema):
    card_id = fields.String()
    card_no = fields.String()
    uid = fields.String()
    key_version = fields.Integer()
    blocks = fields.Dict(keys=fields.String(), values=fields.String())
    keys = fields.Dict(keys=fields.String(), values=fields.Dict())


class ReasonSchema(Schema):
    reason = Text(200, min_length=0, load_default="")


class ReplaceSchema(Schema):
    new_card_no = fields.String(required=True, validate=[validate.Length(equal=16), validate.Regexp(r"^\d{16}$")])


class ChipKeysSchema(Schema):
    card_no = fields.String()
    uid = fields.String()
    keys = fields.Dict(keys=fields.String(), values=fields.Dict())


class CardAlertSchema(Schema):
    id = fields.String()
    card_id = fields.String()
    card_no = fields.String()
    kind = fields.String()
    terminal_id = fields.String(allow_none=True)
    details = fields.Dict()
    resolved_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


class CardAlertQuerySchema(Schema):
    resolved = fields.Boolean(load_default=False)
