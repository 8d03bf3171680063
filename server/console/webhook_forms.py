"""The form of a webhook subscription: name, receiving URL, the events it wants, active or paused."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, SelectMultipleField, StringField, SubmitField
from wtforms.validators import DataRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from server.console.forms import choice
from server.domain.webhooks import EVENT_TYPES, MAX_URL_LENGTH

EVENT_LABELS = {
    "sale.recorded": _l("Sale recorded"),
    "refund.recorded": _l("Refund recorded"),
    "points.expiring": _l("Points expiring soon"),
    "card.blocked": _l("Card blocked"),
    "benefit.issued": _l("Benefit issued"),
    "benefit.redeemed": _l("Benefit redeemed"),
    "benefit.expired": _l("Benefit expired"),
    "commission.available": _l("Commission available"),
    "withdrawal.paid": _l("Withdrawal paid"),
}


def _text(value):
    return (value or "").strip()


class WebhookSubscriptionForm(FlaskForm):
    once = HiddenField()
    name = StringField(_l("Name"), [DataRequired(), Length(max=80)], filters=[_text])
    url = StringField(_l("Receiving URL"), [DataRequired(), Length(max=MAX_URL_LENGTH)], filters=[_text])
    event_types = SelectMultipleField(
        _l("Events"),
        [DataRequired(_l("Choose at least one event."))],
        choices=[choice(name, EVENT_LABELS[name]) for name in EVENT_TYPES],
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )
    active = BooleanField(_l("Active (deliver events now)"), default=True)
    submit = SubmitField(_l("Save"))
