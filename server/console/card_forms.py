"""The forms of the card business and of personal API tokens (the rest of the console's are in forms.py)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Regexp

from server.console.forms import choice
from server.services.cards import MAX_BATCH
from server.services.staff import TOKEN_LIFETIMES_DAYS

BATCH_KIND_LABELS = {"printed": _l("Printed cards (no chip)"), "chip": _l("Chip cards (encoded at a desk)")}


def _text(value):
    return (value or "").strip()


class BatchForm(FlaskForm):
    once = HiddenField()
    count = IntegerField(_l("Number of cards"), [InputRequired(), NumberRange(1, MAX_BATCH)])
    kind = SelectField(_l("Kind"), choices=[choice(code, label) for code, label in BATCH_KIND_LABELS.items()])
    level = SelectField(_l("Level the cards lift their member to"), choices=[])
    name = StringField(_l("Batch name (empty: its number range)"), [Length(max=100)], filters=[_text])
    submit = SubmitField(_l("Create batch"))


class BindToMemberForm(FlaskForm):
    once = HiddenField()
    phone = StringField(_l("Member's mobile phone"), [DataRequired(), Length(max=20)], filters=[_text])
    submit = SubmitField(_l("Bind card"))


class HandOutForm(BindToMemberForm):
    """Bind a card of a batch by its number (typed or scanned from its barcode) to a member's phone."""

    card_no = StringField(_l("Card number"), [DataRequired(), Length(max=24), Regexp(r"^[\d ]+$")], filters=[_text])
    field_order = ("card_no", "phone")


class ConsignForm(FlaskForm):
    """Hand the batch, or a range of its card numbers, to an agent (代理拿卡)."""

    once = HiddenField()
    agent_id = SelectField(_l("Agent"), [DataRequired()], choices=[])
    first_card_no = StringField(
        _l("First card number (empty: the batch's first)"), [Length(max=24), Regexp(r"^[\d ]*$")], filters=[_text]
    )
    last_card_no = StringField(
        _l("Last card number (empty: the batch's last)"), [Length(max=24), Regexp(r"^[\d ]*$")], filters=[_text]
    )
    submit = SubmitField(_l("Consign"))


class ReplaceWithForm(FlaskForm):
    once = HiddenField()
    new_card_no = StringField(
        _l("Number of the new card"), [DataRequired(), Length(max=20), Regexp(r"^[\d ]+$")], filters=[_text]
    )
    submit = SubmitField(_l("Replace card"))


class TokenForm(FlaskForm):
    once = HiddenField()
    name = StringField(_l("What the token is for"), [DataRequired(), Length(max=100)], filters=[_text])
    valid_days = SelectField(
        _l("Valid for"),
        choices=[choice(str(days), _l("%(days)s days", days=days)) for days in TOKEN_LIFETIMES_DAYS],
        default=str(TOKEN_LIFETIMES_DAYS[1]),
    )
    submit = SubmitField(_l("Issue token"))
