"""Member page forms (Flask-WTF: every POST carries the session's CSRF token)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, StringField
from wtforms.validators import DataRequired, Length, Regexp


class LoginForm(FlaskForm):
    """Phone number and the one-time code sent to it."""

    phone = StringField(_l("Mobile number"), validators=[DataRequired(), Length(max=20)])
    code = StringField(_l("Verification code"), validators=[DataRequired(), Regexp(r"^\s*[0-9]{6}\s*$")])


class RegisterForm(LoginForm):
    """Login fields plus consent to the privacy terms and the poster that brought the member."""

    consent = BooleanField(_l("I have read and agree to the privacy terms"), validators=[DataRequired()])
    m = HiddenField()
    i = HiddenField()  # a member's invite link (裂变分享)
    agent = HiddenField()  # an agent's recruit link


class ConfirmForm(FlaskForm):
    """A button that changes something (log out, export): only the CSRF token."""


class BindCardForm(FlaskForm):
    """A physical card's number and the check code printed with it."""

    card_no = StringField(_l("Card number"), validators=[DataRequired(), Length(max=24)])
    check_code = StringField(_l("Check code"), validators=[DataRequired(), Length(max=8)])


class LostCardForm(FlaskForm):
    """Which of my cards is lost."""

    card_no = HiddenField(validators=[DataRequired()])


class CloseAccountForm(FlaskForm):
    """Closing the account needs an explicit tick."""

    confirm = BooleanField(_l("I understand that my points are forfeited"), validators=[DataRequired()])
