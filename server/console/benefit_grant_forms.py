"""The console's benefit distribution forms: campaigns (活动), gift settings, batch grants."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, DateField, HiddenField, IntegerField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, Regexp

from server.console.forms import YuanField


def _text(value):
    return value.strip() if isinstance(value, str) else value


class CampaignForm(FlaskForm):
    once = HiddenField()
    code = StringField(_l("Code"), [DataRequired(), Length(max=32)], filters=[_text])
    name = StringField(_l("Name"), [DataRequired(), Length(max=100)], filters=[_text])
    sku_id = SelectField(_l("Benefit product"), [DataRequired()], choices=[])
    starts_on = DateField(_l("First day"), [InputRequired()])
    ends_on = DateField(_l("Last day"), [InputRequired()])
    total_budget = IntegerField(_l("Total budget (codes)"), [InputRequired(), NumberRange(1, 1_000_000)])
    per_member_limit = IntegerField(_l("Per member"), [InputRequired(), NumberRange(1, 100)], default=1)
    min_level_rank = SelectField(_l("Lowest level"), choices=[], validate_choice=False)
    region_code = StringField(
        _l("Region code (optional)"), [Optional(), Regexp(r"^[0-9]{6}$")], filters=[_text, lambda v: v or None]
    )
    agent_id = SelectField(_l("Recruited by agent"), choices=[], validate_choice=False)
    active_within_days = IntegerField(_l("Bought within days (optional)"), [Optional(), NumberRange(1, 3650)])
    description = StringField(_l("Description"), [Length(max=500)], filters=[_text])
    submit = SubmitField(_l("Add campaign"))


class GiftSettingsForm(FlaskForm):
    registration_sku_id = SelectField(_l("Registration gift"), choices=[], validate_choice=False)
    level_up_sku_id = SelectField(_l("Level-up gift"), choices=[], validate_choice=False)
    birthday_sku_id = SelectField(_l("Birthday gift"), choices=[], validate_choice=False)
    cash_like_licensed = BooleanField(_l("Points may buy cash-like benefits (needs the prepaid licence)"))
    expiry_notice_days = IntegerField(
        _l("Expiry reminder (days before)"), [InputRequired(), NumberRange(0, 60)], default=3
    )
    dynamic_voucher_min = YuanField(
        _l("Vouchers worth at least this show a one-time code (yuan, empty: never)"), [Optional(), NumberRange(0.01)]
    )
    submit = SubmitField(_l("Save gift settings"))


class CampaignStatusForm(FlaskForm):
    status = HiddenField(validators=[DataRequired()])


class BatchGrantForm(FlaskForm):
    sku_id = SelectField(_l("Benefit product"), [DataRequired()], choices=[])
    file = FileField(_l("List of members (CSV or XLSX: a phone column)"), [FileRequired()])
    dry_run = BooleanField(_l("Dry run (report only, grant nothing)"), default=True)
    submit = SubmitField(_l("Check and grant"))


class GiftRuleForm(FlaskForm):
    """A merchant's gift with a purchase (满赠)."""

    once = HiddenField()
    sku_id = SelectField(_l("Voucher given"), [DataRequired()], choices=[])
    min_payable = YuanField(_l("For a sale paying at least (yuan)"), [InputRequired(), NumberRange(0.01, 1_000_000)])
    starts_on = DateField(_l("First day"), [Optional()])
    ends_on = DateField(_l("Last day (optional)"), [Optional()])
    per_member_limit = IntegerField(_l("Per member (optional)"), [Optional(), NumberRange(1, 100)])
    limit_period = SelectField(_l("Per"), choices=[])
    submit = SubmitField(_l("Add gift"))
