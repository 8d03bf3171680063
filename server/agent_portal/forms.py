"""Agent portal forms (Flask-WTF: every POST carries the session's CSRF token)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length, Regexp


class LoginForm(FlaskForm):
    """The agent's phone number and the one-time code texted to it."""

    phone = StringField(_l("Mobile number"), validators=[DataRequired(), Length(max=20)])
    code = StringField(_l("Verification code"), validators=[DataRequired(), Regexp(r"^\s*[0-9]{6}\s*$")])


class ConfirmForm(FlaskForm):
    """A button that changes something (sign out): only the CSRF token."""
