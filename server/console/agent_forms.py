"""The forms of the agent network's console pages (agents, agent levels, evaluation runs, the policy)."""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, HiddenField, IntegerField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, Regexp, ValidationError

from server.console.forms import PercentField, YuanField, choice

KIND_LABELS = {"person": _l("Person"), "company": _l("Company")}
COMBINE_LABELS = {"all": _l("All of the conditions"), "any": _l("Any one of the conditions")}
TERRITORY = re.compile(r"^(\d{6})(!?)$")


def _text(value):
    return (value or "").strip()


def parse_territories(text: str) -> list[dict]:
    """``440305, 440306!`` → the territories (a ``!`` marks an exclusive one); ValueError on anything else."""
    territories = []
    for part in re.split(r"[\s,，、;]+", text or ""):
        if not part:
            continue
        match = TERRITORY.match(part)
        if not match:
            raise ValueError(part)
        territories.append({"region_code": match.group(1), "exclusive": bool(match.group(2))})
    return territories


def territories_text(territories) -> str:
    """An agent's territories as the form shows them."""
    return ", ".join(f"{item.region_code}{'!' if item.exclusive else ''}" for item in territories)


def _valid_territories(form, field):
    try:
        parse_territories(field.data)
    except ValueError as exc:
        raise ValidationError(_l("Region codes are six digits, e.g. 440305 or 440305! for an exclusive one.")) from exc


class AgentForm(FlaskForm):
    once = HiddenField()
    kind = SelectField(_l("Kind"), choices=[choice(code, label) for code, label in KIND_LABELS.items()])
    name = StringField(_l("Name"), [DataRequired(), Length(max=100)], filters=[_text])
    contact_name = StringField(_l("Contact person"), [Length(max=50)], filters=[_text])
    # a new agent: required; an edit: empty leaves it as it is (the stored number is never sent back)
    phone = StringField(_l("Mobile phone"), [Optional(), Length(max=20)], filters=[_text])
    upper_agent_id = SelectField(_l("Upper agent"), choices=[])
    upper_reason = StringField(_l("Why the upper agent changes"), [Length(max=200)], filters=[_text])
    contract_start = DateField(_l("Contract from"), [Optional()])
    contract_end = DateField(_l("Contract until"), [Optional()])
    territory_codes = StringField(
        _l("Territories (region codes; ! marks an exclusive one)"),
        [Length(max=500), _valid_territories],
        filters=[_text],
    )
    submit = SubmitField(_l("Save"))


class AgentStatusForm(FlaskForm):
    status = SelectField(_l("New status"), choices=[])
    submit = SubmitField(_l("Change status"))


class AgentLevelForm(FlaskForm):
    name = StringField(_l("Name"), [DataRequired(), Length(max=50)], filters=[_text])
    badge = StringField(_l("Badge"), [Length(max=32)], filters=[_text])
    commission = PercentField(_l("Commission rate (%)"), [InputRequired()])
    purchase_discount = PercentField(_l("Purchase discount (%)"), [InputRequired()])
    territory_exclusive = BooleanField(_l("Exclusive territories"))
    exclusive_access = BooleanField(_l("Exclusive merchants and activities"))
    combine = SelectField(
        _l("Conditions combine"), choices=[choice(code, label) for code, label in COMBINE_LABELS.items()]
    )
    min_health_score = IntegerField(_l("Minimum health score (empty: none)"), [Optional(), NumberRange(0, 100)])
    # one optional minimum per metric (empty: no condition on it)
    serviced_gmv = YuanField(_l("Serviced consumption at least (¥)"), [Optional(), NumberRange(0, 100_000_000)])
    active_recruited_members = IntegerField(
        _l("Recruited members who consumed, at least"), [Optional(), NumberRange(0, 10**7)]
    )
    activated_cards = IntegerField(_l("Activated cards, at least"), [Optional(), NumberRange(0, 10**7)])
    active_days = IntegerField(_l("Active days, at least"), [Optional(), NumberRange(0, 31)])
    merchants_with_sales = IntegerField(_l("Merchants with sales, at least"), [Optional(), NumberRange(0, 10**6)])
    active_subordinates = IntegerField(_l("Active direct subordinates, at least"), [Optional(), NumberRange(0, 10**4)])
    subordinate_days = IntegerField(_l("…each active on at least (days)"), [Optional(), NumberRange(0, 31)])
    health_score = IntegerField(_l("Health score condition, at least"), [Optional(), NumberRange(0, 100)])
    submit = SubmitField(_l("Save"))
    preview = SubmitField(_l("Preview who would move"))


class EvaluationRunForm(FlaskForm):
    period = StringField(
        _l("Month (YYYY-MM)"),
        [DataRequired(), Regexp(r"^\d{4}-(0[1-9]|1[0-2])$", message=_l("A month written YYYY-MM, e.g. 2026-11."))],
        filters=[_text],
    )
    submit = SubmitField(_l("Evaluate"))


class AgentPolicyForm(FlaskForm):
    chain_max_depth = IntegerField(
        _l("Chain depth at most (agents, including the top)"), [InputRequired(), NumberRange(1, 3)]
    )
    grace_periods = IntegerField(_l("Grace periods before a downgrade"), [InputRequired(), NumberRange(0, 24)])
    protection_periods = IntegerField(_l("Protection periods after an upgrade"), [InputRequired(), NumberRange(0, 24)])
    fast_track_periods = IntegerField(
        _l("Periods above the next level for the fast track"), [InputRequired(), NumberRange(1, 24)]
    )
    health_floor = IntegerField(_l("Health score floor for an upgrade"), [InputRequired(), NumberRange(0, 100)])
    alert_drop = PercentField(
        _l("Alert when serviced consumption drops by (%)"), [InputRequired(), NumberRange(1, 100)]
    )
    alert_health_below = IntegerField(
        _l("Alert when the health score is under"), [InputRequired(), NumberRange(0, 100)]
    )
    submit = SubmitField(_l("Save policy"))
