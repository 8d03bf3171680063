"""Agent portal forms (Flask-WTF: every POST carries the session's CSRF token)."""

from __future__ import annotations

from decimal import Decimal

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, Regexp

from server.console.forms import YuanField


class LoginForm(FlaskForm):
    """The agent's phone number and the one-time code texted to it."""

    phone = StringField(_l("Mobile number"), validators=[DataRequired(), Length(max=20)])
    code = StringField(_l("Verification code"), validators=[DataRequired(), Regexp(r"^\s*[0-9]{6}\s*$")])


class ConfirmForm(FlaskForm):
    """A button that changes something (sign out): only the CSRF token."""


class WithdrawalForm(FlaskForm):
    """A withdrawal (提现): the amount in yuan, where the money goes, and the request's own key (sent twice: one)."""

    amount = YuanField(_l("Amount (¥)"), [InputRequired(), NumberRange(min=Decimal("0.01"), max=10_000_000)])
    channel = SelectField(
        _l("Paid to"),
        choices=[("bank_file", _l("Bank account")), ("wechat", _l("WeChat balance"))],
        default="bank_file",
    )
    payee_name = StringField(_l("Payee's real name"), [DataRequired(), Length(min=2, max=50)])
    account_number = StringField(_l("Bank account number or WeChat openid"), [DataRequired(), Length(min=6, max=64)])
    bank = StringField(_l("Bank (for a bank account)"), [Optional(), Length(max=50)])
    request_key = HiddenField(validators=[DataRequired(), Length(min=8, max=64)])


class HandoutForm(FlaskForm):
    """Hand one consigned code to a member (by phone), or sell it at a price the agent collects itself."""

    phone = StringField(_l("Member's mobile number"), [DataRequired(), Length(max=20)])
    price = YuanField(_l("Price collected (¥, empty: a gift)"), [Optional(), NumberRange(min=0, max=100_000)])
    request_key = HiddenField(validators=[DataRequired(), Length(min=8, max=64)])
