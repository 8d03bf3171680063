"""Request and response schemas of handing out a card at the till (docs/terminal-api.md)."""

from __future__ import annotations

from marshmallow import Schema, fields

from server.api.fields import Text
from server.api.terminal_schemas import LevelRefSchema


class TillBindingRequestSchema(Schema):
    identification_token = Text(
        200, required=True, metadata={"description": "The member's live identification, with the member's proof"}
    )


class TillBoundCardSchema(Schema):
    card_no_masked = fields.String(metadata={"description": "The card number as the slip shows it"})
    kind = fields.String(metadata={"description": "physical (printed or chip) or electronic"})
    status = fields.String()


class TillBoundMemberSchema(Schema):
    display_name = fields.String(metadata={"description": "Masked (王*明)"})
    masked_phone = fields.String()
    level = fields.Nested(LevelRefSchema)
    discount_bp = fields.Integer(metadata={"description": "The level's discount at this merchant, for the next sale"})


class TillBindingResponseSchema(Schema):
    card = fields.Nested(TillBoundCardSchema)
    member = fields.Nested(TillBoundMemberSchema)
    bound_at = fields.DateTime()
