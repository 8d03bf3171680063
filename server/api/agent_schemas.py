"""Request and response schemas of the agent network endpoints (agents, levels, evaluations, alerts, regions)."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from server.api.contract import MOBILE
from server.api.fields import BasisPoints, StrictBoolean, Text
from server.api.operator_schemas import CODE, Choice, NotEmptyMixin, OptionalText, RegionCode
from server.domain.agent_levels import COMBINATIONS
from server.domain.agent_network import HEALTH_SCORE, LEVEL_METRICS
from server.domain.regions import RegionLevel
from server.domain.statuses import AgentAlertKind, AgentStatus
from server.models.agent import AGENT_KINDS

MAX_TERRITORIES = 50
MAX_CONDITIONS = 20
MAX_FIGURE = 10_000_000_000


class RegionSchema(Schema):
    code = fields.String(metadata={"description": "GB/T 2260 code"})
    name = fields.String()
    parent_code = fields.String(allow_none=True)
    level = Choice(RegionLevel)


class RegionQuerySchema(Schema):
    parent = RegionCode(metadata={"description": "List the regions right under this one (none: the provinces)"})


class TerritorySchema(Schema):
    region_code = RegionCode(required=True)
    exclusive = StrictBoolean(
        load_default=False, metadata={"description": "No other agent may hold this region (the level must grant it)"}
    )


class AgentSchema(Schema):
    id = fields.String()
    kind = Choice(AGENT_KINDS)
    name = fields.String()
    contact_name = fields.String()
    phone_masked = fields.String()
    status = Choice(AgentStatus)
    status_reason = fields.String()
    level_id = fields.String()
    level_since = fields.DateTime()
    upper_agent_id = fields.String(allow_none=True)
    contract_start = fields.Date(allow_none=True)
    contract_end = fields.Date(allow_none=True)
    territories = fields.List(fields.Nested(TerritorySchema))
    created_at = fields.DateTime()


class AgentEnvelopeSchema(Schema):
    agent = fields.Nested(AgentSchema)


class AgentQuerySchema(Schema):
    status = Choice(AgentStatus)
    level_id = Text(24)
    upper_agent_id = Text(24)
    region_code = RegionCode(metadata={"description": "Agents with a territory on this region"})
    q = Text(100, metadata={"description": "Part of the name (case-insensitive)"})


def _territories(**kwargs) -> fields.List:
    return fields.List(fields.Nested(TerritorySchema), validate=validate.Length(max=MAX_TERRITORIES), **kwargs)


class AgentCreateSchema(Schema):
    """A new agent starts as ``applied`` at the lowest level: joining costs nothing and buys no level."""

    kind = Choice(AGENT_KINDS, required=True)
    name = Text(100, required=True)
    phone = Text(32, required=True, metadata=MOBILE)
    contact_name = OptionalText(50)
    upper_agent_id = Text(24, allow_none=True)
    territories = _territories()
    contract_start = fields.Date(allow_none=True)
    contract_end = fields.Date(allow_none=True)


class AgentUpdateSchema(NotEmptyMixin, Schema):
    """A status change carries its reason (``status_reason``)."""

    OPENAPI_RULES = {
        **NotEmptyMixin.OPENAPI_RULES,
        "anyOf": [
            {"title": "status unchanged", "not": {"required": ["status"]}},
            {
                "title": "status change with its reason",
                "required": ["status", "status_reason"],
                "properties": {"status_reason": {"type": "string", "pattern": r"\S"}},
            },
        ],
    }

    kind = Choice(AGENT_KINDS)
    name = Text(100)
    phone = Text(32, metadata=MOBILE)
    contact_name = OptionalText(50)
    status = Choice(AgentStatus)
    status_reason = OptionalText(200)
    upper_agent_id = Text(24, allow_none=True, metadata={"description": "null: no upper agent"})
    upper_reason = OptionalText(200)
    territories = _territories(metadata={"description": "Replaces the agent's territories"})
    contract_start = fields.Date(allow_none=True)
    contract_end = fields.Date(allow_none=True)

    @validates_schema
    def reason_with_status(self, data, **kwargs):
        if "status" in data and not (data.get("status_reason") or "").strip():
            raise ValidationError("Give the reason for the status change.", "status_reason")


class ConditionSchema(Schema):
    """A health score condition asks for at most 100."""

    OPENAPI_RULES = {
        "anyOf": [
            {"title": "a figure", "properties": {"metric": {"not": {"enum": ["health_score"]}}}},
            {"title": "a health score", "properties": {"minimum": {"maximum": 100}}},
        ]
    }

    metric = Choice(LEVEL_METRICS, required=True)
    minimum = fields.Integer(strict=True, required=True, validate=validate.Range(min=0, max=MAX_FIGURE))
    parameter = fields.Integer(
        strict=True,
        allow_none=True,
        dump_default=None,
        validate=validate.Range(min=0, max=31),
        metadata={"description": "active_subordinates: the active days each subordinate needs"},
    )

    @validates_schema
    def health_at_most_100(self, data, **kwargs):
        if data.get("metric") == HEALTH_SCORE and data.get("minimum", 0) > 100:
            raise ValidationError("A health score is 0 to 100.", "minimum")


def _conditions(**kwargs) -> fields.List:
    return fields.List(fields.Nested(ConditionSchema), validate=validate.Length(max=MAX_CONDITIONS), **kwargs)


class AgentLevelSchema(Schema):
    id = fields.String()
    code = fields.String()
    rank = fields.Integer()
    name = fields.String()
    badge = fields.String()
    commission_rate_bp = fields.Integer()
    purchase_discount_bp = fields.Integer()
    territory_exclusive = fields.Boolean()
    exclusive_access = fields.Boolean()
    combine = Choice(COMBINATIONS)
    conditions = fields.List(fields.Nested(ConditionSchema))
    min_health_score = fields.Integer(allow_none=True)
    created_at = fields.DateTime()


class AgentLevelEnvelopeSchema(Schema):
    level = fields.Nested(AgentLevelSchema)


class _AgentLevelFields(Schema):
    badge = OptionalText(32)
    commission_rate_bp = BasisPoints(metadata={"description": "Commission on members' real consumption"})
    purchase_discount_bp = BasisPoints(metadata={"description": "Discount when the agent buys cards and benefits"})
    territory_exclusive = StrictBoolean()
    exclusive_access = StrictBoolean(metadata={"description": "Access to exclusive merchants and activities"})
    combine = Choice(COMBINATIONS, metadata={"description": "all: every condition; any: at least one"})
    conditions = _conditions()
    min_health_score = fields.Integer(strict=True, allow_none=True, validate=validate.Range(min=0, max=100))


class AgentLevelCreateSchema(_AgentLevelFields):
    """Conditions name only consumption, active members, activity, team activity and health (never fees)."""

    code = fields.String(required=True, validate=[validate.Length(min=1, max=32), CODE])
    rank = fields.Integer(strict=True, required=True, validate=validate.Range(min=0, max=100))
    name = Text(50, required=True)


class AgentLevelUpdateSchema(NotEmptyMixin, _AgentLevelFields):
    name = Text(50)


class AgentEvaluationRequestSchema(Schema):
    period = fields.String(
        required=True,
        validate=[
            validate.Length(min=7, max=7),
            validate.Regexp(r"^2[0-9]{3}-(0[1-9]|1[0-2])$", error="A period is a month written YYYY-MM."),
        ],
        metadata={"description": "The month to evaluate, YYYY-MM (it must have ended)"},
    )


class AgentEvaluationRunSchema(Schema):
    period = fields.String()
    evaluated = fields.Integer()
    already_evaluated = fields.Integer()
    upgraded = fields.Integer()
    downgraded = fields.Integer()
    kept = fields.Integer()
    alerts = fields.Integer()
    badges = fields.Integer()


class AgentEvaluationSchema(Schema):
    id = fields.Integer()
    agent_id = fields.String()
    period = fields.String()
    figures = fields.Dict()
    health_score = fields.Integer()
    level_before_id = fields.String()
    level_after_id = fields.String()
    outcome = fields.String()
    reasons = fields.List(fields.Raw())
    created_at = fields.DateTime()


class AgentAlertSchema(Schema):
    id = fields.String()
    agent_id = fields.String()
    upper_agent_id = fields.String(allow_none=True)
    period = fields.String()
    kind = Choice(AgentAlertKind)
    figure = fields.String()
    value_before = fields.Integer(allow_none=True)
    value_after = fields.Integer()
    created_at = fields.DateTime()


class AgentAlertQuerySchema(Schema):
    agent_id = Text(24)
    kind = Choice(AgentAlertKind)
    period = Text(7)


class AgentPolicySchema(Schema):
    chain_max_depth = fields.Integer(metadata={"description": "Agents in one chain, counting the top (1-3)"})
    grace_periods = fields.Integer()
    protection_periods = fields.Integer()
    fast_track_periods = fields.Integer()
    health_floor = fields.Integer()
    alert_drop_bp = fields.Integer()
    alert_health_below = fields.Integer()


def _periods(description: str) -> fields.Integer:
    return fields.Integer(strict=True, validate=validate.Range(min=0, max=24), metadata={"description": description})


def _score(description: str) -> fields.Integer:
    return fields.Integer(strict=True, validate=validate.Range(min=0, max=100), metadata={"description": description})


class AgentPolicyUpdateSchema(NotEmptyMixin, Schema):
    chain_max_depth = fields.Integer(
        strict=True,
        validate=validate.Range(min=1, max=3),
        metadata={"description": "Agents in one chain, counting the top: at most 3 (禁止传销条例), default 2"},
    )
    grace_periods = _periods("Failed evaluations tolerated before a downgrade")
    protection_periods = _periods("Evaluations after an upgrade without a downgrade")
    fast_track_periods = fields.Integer(
        strict=True,
        validate=validate.Range(min=1, max=24),
        metadata={"description": "Consecutive periods beyond the next level before skipping it"},
    )
    health_floor = _score("A health score under this blocks any upgrade")
    alert_drop_bp = fields.Integer(
        strict=True,
        validate=validate.Range(min=1, max=10_000),
        metadata={"description": "A two-week fall of serviced consumption by this share raises an alert"},
    )
    alert_health_below = _score("A health score under this raises an alert")
