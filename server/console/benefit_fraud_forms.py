"""The console form of the benefit anti-fraud budgets (风控额度): one whole number per budget and alert threshold
(``server/domain/benefit_budgets.py``), and the face value from which a claim needs an SMS code."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, SubmitField
from wtforms.validators import InputRequired, NumberRange

from server.console.forms import YuanField
from server.domain.benefit_budgets import DEFAULT_LIMITS, MAX_LIMIT


def field_name(key: str) -> str:
    """``claim:member:hour`` → ``claim__member__hour`` (a form field's name)."""
    return key.replace(":", "__")


class BenefitLimitsForm(FlaskForm):
    once = HiddenField()
    second_factor = YuanField(
        _l("SMS code for claims worth at least (¥, 0: never)"), [InputRequired(), NumberRange(0, 10_000_000)]
    )
    submit = SubmitField(_l("Save budgets"))


for _key in DEFAULT_LIMITS:
    setattr(BenefitLimitsForm, field_name(_key), IntegerField(_key, [InputRequired(), NumberRange(0, MAX_LIMIT)]))
