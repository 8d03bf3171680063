"""The console's forms (Flask-WTF: every POST form carries the session's CSRF token)."""

from __future__ import annotations

from decimal import Decimal

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    SubmitField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, Regexp, ValidationError

from server.console.display import ROLE_LABELS

try:  # WTForms 3.3+ wants choice objects; older releases take (value, label) pairs
    from wtforms.fields.choices import SelectChoice as choice
except ImportError:  # pragma: no cover

    def choice(value, label):
        return (value, label)


def _text(value):
    """Text fields arrive trimmed and never as None (a field missing from the POST is empty)."""
    return (value or "").strip()


def _two_places(form, field):
    if field.data is not None and field.data != field.data.quantize(Decimal("0.01")):
        raise ValidationError(_l("Use at most two decimal places."))


class YuanField(DecimalField):
    """An amount typed in yuan (up to two decimals); ``fen`` is the integer amount."""

    def __init__(self, label=None, validators=(), **kwargs):
        super().__init__(label, [*validators, _two_places], places=2, **kwargs)

    @property
    def fen(self) -> int | None:
        return None if self.data is None else int(self.data * 100)

    def set_fen(self, value: int) -> None:
        self.data = Decimal(value) / 100


class PercentField(DecimalField):
    """A rate typed in percent (up to two decimals); ``bp`` is the integer rate in basis points."""

    def __init__(self, label=None, validators=(), **kwargs):
        super().__init__(label, [*validators, NumberRange(0, 100), _two_places], places=2, **kwargs)

    @property
    def bp(self) -> int | None:
        return None if self.data is None else int(self.data * 100)

    def set_bp(self, value: int) -> None:
        self.data = Decimal(value) / 100


class ZheField(DecimalField):
    """A discount typed in 折 (9.5 → the member pays 95%: 9500 bp of the price); 10 is no discount."""

    def __init__(self, label=None, validators=(), **kwargs):
        range_check = NumberRange(Decimal("0.1"), 10, message=_l("Between 0.1 and 10 折."))
        super().__init__(label, [*validators, range_check, _two_places], places=2, **kwargs)

    @property
    def bp(self) -> int | None:
        return None if self.data is None else int(self.data * 1000)

    def set_bp(self, value: int) -> None:
        self.data = Decimal(value) / 1000


class ActionForm(FlaskForm):
    """A button that changes something: only the CSRF token and a one-time key against double submits."""

    once = HiddenField()


class SignInForm(FlaskForm):
    username = StringField(_l("Username"), [DataRequired(), Length(max=64)], filters=[_text])
    password = PasswordField(_l("Password"), [DataRequired(), Length(max=200)])
    submit = SubmitField(_l("Sign in"))


class SecondFactorForm(FlaskForm):
    code = StringField(
        _l("Code from the authenticator app"),
        [DataRequired(), Regexp(r"^\s*\d{3}\s?\d{3}\s*$", message=_l("Six digits."))],
        filters=[_text],
        render_kw={"inputmode": "numeric", "autocomplete": "one-time-code"},
    )
    submit = SubmitField(_l("Confirm"))


class ChangePasswordForm(FlaskForm):
    current = PasswordField(_l("Current password"), [DataRequired(), Length(max=200)])
    password = PasswordField(_l("New password (at least 10 characters)"), [DataRequired(), Length(min=10, max=200)])
    repeat = PasswordField(_l("New password again"), [DataRequired(), Length(max=200)])
    submit = SubmitField(_l("Change password"))

    def validate_repeat(self, field):
        if field.data != self.password.data:
            raise ValidationError(_l("The two new passwords differ."))


class DisableSecondFactorForm(FlaskForm):
    code = StringField(
        _l("Code from the authenticator app"),
        [DataRequired(), Regexp(r"^\s*\d{3}\s?\d{3}\s*$", message=_l("Six digits."))],
        filters=[_text],
    )
    submit = SubmitField(_l("Turn off"))


class MerchantForm(FlaskForm):
    name = StringField(_l("Name"), [DataRequired(), Length(max=100)], filters=[_text])
    trade = SelectField(_l("Trade"))
    region = StringField(_l("Region"), [Length(max=64)], filters=[_text])
    # the region code by province → city → county, and the servicing agent (see server/console/region_picker.py)
    province = SelectField(_l("Province"), choices=[], default="")
    city = SelectField(_l("City"), choices=[], default="")
    county = SelectField(_l("County"), choices=[], default="")
    pick_region = SubmitField(_l("Show the regions under it"))
    agent_id = SelectField(_l("Servicing agent"), choices=[], default="")
    agent_reason = StringField(_l("Why the servicing agent changes"), [Length(max=200)], filters=[_text])
    address = StringField(_l("Address"), [Length(max=200)], filters=[_text])
    contact_phone = StringField(_l("Contact phone"), [Length(max=32)], filters=[_text])
    status = SelectField(_l("Status"), choices=[])
    earn_rate = PercentField(_l("Points earned (% of the amount paid)"), [InputRequired()])
    max_redeem = PercentField(_l("Points may pay at most (% of the bill)"), [InputRequired()])
    # empty: unchanged (a new merchant: no fee)
    service_fee = PercentField(_l("Alliance service fee (% of member sales)"), [Optional()])
    service_fee_per_sale = YuanField(_l("Alliance service fee per sale (¥)"), [Optional(), NumberRange(0, 1_000)])
    # empty: refunds need no authorisation; the PIN field empty: the PIN stays as it is
    refund_threshold = YuanField(
        _l("Refunds above this need the supervisor PIN (¥)"), [Optional(), NumberRange(0, 1_000_000)]
    )
    refund_pin = PasswordField(
        _l("Supervisor PIN for refunds (4-8 digits)"),
        [Optional(), Regexp(r"^\d{4,8}$", message=_l("4 to 8 digits."))],
    )
    bank_account_name = StringField(_l("Settlement account holder"), [Length(max=100)], filters=[_text])
    bank_name = StringField(_l("Bank and branch"), [Length(max=100)], filters=[_text])
    # empty: unchanged (the stored number is never sent back to the browser)
    bank_account_no = StringField(
        _l("Account number"),
        [Optional(), Regexp(r"^[0-9A-Za-z ]{8,40}$", message=_l("8 to 34 letters and digits."))],
        filters=[_text],
    )
    submit = SubmitField(_l("Save"))


class PaymentForm(FlaskForm):
    paid = HiddenField(validators=[Regexp("^[01]$")])
    reference = StringField(_l("Transfer reference"), [Length(max=100)], filters=[_text])
    submit = SubmitField(_l("Save"))


class LevelDiscountForm(FlaskForm):
    level_id = HiddenField(validators=[DataRequired()])
    pays = PercentField(_l("Member pays (%)"), [InputRequired()])
    submit = SubmitField(_l("Set"))


class TerminalForm(FlaskForm):
    once = HiddenField()
    name = StringField(_l("Terminal name"), [DataRequired(), Length(max=100)], filters=[_text])
    submit = SubmitField(_l("Register terminal"))


class LevelForm(FlaskForm):
    code = StringField(_l("Code"), [DataRequired(), Length(max=32), Regexp(r"^[a-z0-9_-]+$")], filters=[_text])
    name = StringField(_l("Name"), [DataRequired(), Length(max=50)], filters=[_text])
    name_en = StringField(_l("English name"), [Length(max=50)], filters=[_text])
    rank = IntegerField(_l("Rank (0 is the lowest)"), [InputRequired(), NumberRange(0, 100)])
    upgrade_spend = YuanField(_l("Upgrade at spend over the window (¥)"), [InputRequired(), NumberRange(0)])
    keep_spend = YuanField(_l("Keep the level with spend (¥)"), [InputRequired(), NumberRange(0)])
    protection_days = IntegerField(_l("Protection after reaching the level (days)"), [InputRequired(), NumberRange(0)])
    default_pays = ZheField(_l("Default discount (折)"), [InputRequired()])
    min_pays = ZheField(_l("Deepest discount a merchant may set (折)"), [InputRequired()])
    max_pays = ZheField(_l("Slightest discount a merchant may set (折)"), [InputRequired()])
    submit = SubmitField(_l("Save"))


class RefundForm(FlaskForm):
    once = HiddenField()
    amount = YuanField(_l("Amount to refund (¥, empty: the rest)"), [Optional(), NumberRange(min=Decimal("0.01"))])
    reason = StringField(_l("Reason"), [DataRequired(), Length(max=200)], filters=[_text])
    submit = SubmitField(_l("Refund"))


class BindCardForm(FlaskForm):
    card_no = StringField(_l("Card number"), [DataRequired(), Length(max=20), Regexp(r"^\d+$")], filters=[_text])
    submit = SubmitField(_l("Bind card"))


class MemberForm(FlaskForm):
    once = HiddenField()
    phone = StringField(_l("Mobile phone"), [DataRequired(), Length(max=20)], filters=[_text])
    display_name = StringField(_l("Name"), [Length(max=50)], filters=[_text])
    submit = SubmitField(_l("Register member"))


class PointsAdjustmentForm(FlaskForm):
    once = HiddenField()
    points = IntegerField(_l("Points (negative to take away)"), [InputRequired(), NumberRange(-10_000_000, 10_000_000)])
    reason = StringField(_l("Reason"), [DataRequired(), Length(max=200)], filters=[_text])
    submit = SubmitField(_l("Adjust points"))


class AllianceForm(FlaskForm):
    name = StringField(_l("Alliance name"), [DataRequired(), Length(max=100)], filters=[_text])
    point_value_fen = IntegerField(_l("Value of one point (fen)"), [InputRequired(), NumberRange(1, 10_000)])
    level_window_days = IntegerField(_l("Level window (days)"), [InputRequired(), NumberRange(1, 3_650)])
    offline_max_sale = YuanField(_l("Offline sale cap (¥)"), [InputRequired(), NumberRange(0)])
    offline_max_sales_per_shift = IntegerField(_l("Offline sales per shift"), [InputRequired(), NumberRange(0, 10_000)])
    offline_max_age_hours = IntegerField(
        _l("Offline sales kept at most (hours)"), [InputRequired(), NumberRange(1, 168)]
    )
    submit = SubmitField(_l("Save"))


class PointsPolicyForm(FlaskForm):
    points_expiry_policy = SelectField(_l("Points expire"), choices=[])
    points_expiry_months = IntegerField(
        _l("Months after earning (policy: months)"), [InputRequired(), NumberRange(1, 120)]
    )
    expiry_notice_days = IntegerField(_l("Notify members before expiry (days)"), [InputRequired(), NumberRange(0, 365)])
    business_day_cutoff_hour = IntegerField(
        _l("Business day starts at (local hour)"), [InputRequired(), NumberRange(0, 23)]
    )
    spend_requires_proof = BooleanField(_l("Spending points needs the member's proof"))
    invite_reward_points_per_yuan = IntegerField(
        _l("Invitation reward: points per yuan the invited friend pays (0 = off)"), [Optional(), NumberRange(0, 100)]
    )
    invite_reward_days = IntegerField(
        _l("Invitation reward: days after the friend joins that count"), [Optional(), NumberRange(1, 365)]
    )
    submit = SubmitField(_l("Save points policy"))


class CloseDayForm(FlaskForm):
    once = HiddenField()
    business_day = DateField(_l("Business day"), [InputRequired()])
    submit = SubmitField(_l("Close the day"))


class StaffForm(FlaskForm):
    username = StringField(
        _l("Username"), [DataRequired(), Length(max=64), Regexp(r"^[A-Za-z0-9_.@-]+$")], filters=[_text]
    )
    display_name = StringField(_l("Display name"), [Length(max=100)], filters=[_text])
    role = SelectField(_l("Role"), choices=[choice(code, label) for code, label in ROLE_LABELS.items()])
    merchant_id = SelectField(_l("Merchant (owners and cashiers)"), choices=[])
    password = PasswordField(_l("Password (at least 10 characters)"), [DataRequired(), Length(min=10, max=200)])
    submit = SubmitField(_l("Create user"))


class MemberEditForm(FlaskForm):
    display_name = StringField(_l("Name"), [DataRequired(), Length(max=50)], filters=[_text])
    phone = StringField(_l("New mobile phone (empty: unchanged)"), [Length(max=20)], filters=[_text])
    submit = SubmitField(_l("Save"))


class RevealPhoneForm(FlaskForm):
    reason = StringField(_l("Why do you need the full number?"), [DataRequired(), Length(max=200)], filters=[_text])
    submit = SubmitField(_l("Show full number"))


class LevelWindowForm(FlaskForm):
    level_window_days = IntegerField(_l("Level window (days)"), [InputRequired(), NumberRange(1, 3_650)])
    submit = SubmitField(_l("Save"))


class PasswordForm(FlaskForm):
    password = PasswordField(_l("New password (at least 10 characters)"), [DataRequired(), Length(min=10, max=200)])
    submit = SubmitField(_l("Set password"))


class ConfirmForm(FlaskForm):
    """The confirmation step of an action that cannot be taken back: a reason is required (it is audited)."""

    once = HiddenField()
    reason = StringField(_l("Reason"), [DataRequired(), Length(max=200)], filters=[_text])
