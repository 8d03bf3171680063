"""Agents (代理): their policy, levels, contracts, status, territories, upper agents and serviced merchants.

The compliance rules live in ``server/domain/agent_network.py`` and the level rules in
``server/domain/agent_levels.py``; this module applies them, one transaction per use case, and keeps the
history (upper agents, serviced merchants) and the audit log.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from server.domain.agent_levels import Condition, LevelRule, check_rule
from server.domain.agent_network import (
    ACTIVE_DAYS,
    ACTIVE_RECRUITED_MEMBERS,
    ACTIVE_SUBORDINATES,
    MERCHANTS_WITH_SALES,
    SERVICED_GMV_FEN,
    chain_depth,
    check_chain_max_depth,
    check_status_change,
    check_upper,
)
from server.domain.errors import Conflict, InvalidRequest, MemberNotFound, NotFound, TerritoryTaken
from server.domain.identifiers import mask_mobile, normalize_mobile
from server.domain.statuses import AgentStatus
from server.extensions import db
from server.models import (
    Agent,
    AgentLevel,
    AgentPolicy,
    AgentTerritory,
    AgentUpperChange,
    Merchant,
    MerchantAgentChange,
)
from server.models.base import new_id, utcnow
from server.security.pii import decrypt_phone, encrypt_phone, phone_lookup_hash
from server.services.audit import audit, values_before
from server.services.regions import check_region_code
from server.services.unit_of_work import transactional

POLICY_FIELDS = (
    "chain_max_depth",
    "grace_periods",
    "protection_periods",
    "fast_track_periods",
    "health_floor",
    "alert_drop_bp",
    "alert_health_below",
)
LEVEL_FIELDS = (
    "name",
    "badge",
    "commission_rate_bp",
    "purchase_discount_bp",
    "territory_exclusive",
    "exclusive_access",
    "combine",
    "conditions",
    "min_health_score",
)


def _sub(days: int) -> dict:
    return {"metric": ACTIVE_SUBORDINATES, "minimum": days, "parameter": 12}


# The five default levels: commission on real consumption only; conditions on consumption, active members,
# activity, team activity (gating) and health — never on fees, purchases or headcount.
DEFAULT_LEVELS = [
    dict(code="novice", rank=0, name="新手", badge="seedling", commission_rate_bp=500, purchase_discount_bp=0),
    dict(
        code="bronze",
        rank=1,
        name="青铜",
        badge="bronze",
        commission_rate_bp=800,
        purchase_discount_bp=300,
        conditions=[
            {"metric": SERVICED_GMV_FEN, "minimum": 500_000},
            {"metric": ACTIVE_RECRUITED_MEMBERS, "minimum": 10},
        ],
        combine="any",
        min_health_score=60,
    ),
    dict(
        code="silver",
        rank=2,
        name="白银",
        badge="silver",
        commission_rate_bp=1200,
        purchase_discount_bp=500,
        conditions=[
            {"metric": SERVICED_GMV_FEN, "minimum": 2_000_000},
            {"metric": ACTIVE_RECRUITED_MEMBERS, "minimum": 30},
            {"metric": ACTIVE_DAYS, "minimum": 12},
        ],
        min_health_score=70,
    ),
    dict(
        code="gold",
        rank=3,
        name="黄金",
        badge="gold",
        commission_rate_bp=1500,
        purchase_discount_bp=800,
        territory_exclusive=True,
        conditions=[
            {"metric": SERVICED_GMV_FEN, "minimum": 8_000_000},
            {"metric": MERCHANTS_WITH_SALES, "minimum": 5},
            {"metric": ACTIVE_DAYS, "minimum": 16},
            _sub(3),
        ],
        min_health_score=80,
    ),
    dict(
        code="platinum",
        rank=4,
        name="铂金",
        badge="platinum",
        commission_rate_bp=1800,
        purchase_discount_bp=1000,
        territory_exclusive=True,
        exclusive_access=True,
        conditions=[
            {"metric": SERVICED_GMV_FEN, "minimum": 20_000_000},
            {"metric": MERCHANTS_WITH_SALES, "minimum": 10},
            {"metric": ACTIVE_DAYS, "minimum": 20},
            _sub(5),
        ],
        min_health_score=85,
    ),
]


# --- policy --------------------------------------------------------------------------------------------


def get_policy() -> AgentPolicy:
    """The agent network settings (the defaults until the operator changes them)."""
    policy = db.session.get(AgentPolicy, 1)
    if policy is None:
        policy = AgentPolicy(id=1)
        db.session.add(policy)
        db.session.flush()
    return policy


def current_policy() -> AgentPolicy:
    """The settings as stored, or the defaults (nothing is written by reading)."""
    defaults = {column.name: column.default.arg for column in AgentPolicy.__table__.columns if column.default}
    return db.session.get(AgentPolicy, 1) or AgentPolicy(**defaults)


@transactional
def update_policy(actor: str, **fields) -> AgentPolicy:
    """Change the agent network settings; a shallower chain than the network has is refused."""
    policy = get_policy()
    if "chain_max_depth" in fields:
        check_chain_max_depth(fields["chain_max_depth"])
        if chain_depth(upper_map()) > fields["chain_max_depth"]:
            raise Conflict("Agent chains deeper than this exist; re-assign them first.", field="chain_max_depth")
    before = values_before(policy, fields)
    for name in POLICY_FIELDS:
        if name in fields:
            setattr(policy, name, fields[name])
    audit(actor, "agent_policy.update", "agent_policy", "1", **fields, before=before)
    return policy


# --- levels --------------------------------------------------------------------------------------------


def level_rule(level: AgentLevel) -> LevelRule:
    """A stored level as the domain's rule."""
    conditions = tuple(
        Condition(item["metric"], int(item["minimum"]), item.get("parameter")) for item in level.conditions or ()
    )
    return LevelRule(level.rank, conditions, level.combine, level.min_health_score)


def levels_by_rank() -> list[AgentLevel]:
    """Every agent level, lowest first."""
    return list(db.session.scalars(select(AgentLevel).order_by(AgentLevel.rank)))


def ensure_default_levels() -> list[AgentLevel]:
    """Create the five default levels when there are none (joins the caller's transaction)."""
    levels = levels_by_rank()
    if levels:
        return levels
    for values in DEFAULT_LEVELS:
        level = AgentLevel(id=new_id("alv"), **{"conditions": [], "combine": "all"} | values)
        check_rule(level_rule(level))
        db.session.add(level)
    db.session.flush()
    return levels_by_rank()


def get_level(level_id: str) -> AgentLevel:
    """An agent level by id."""
    level = db.session.get(AgentLevel, level_id)
    if level is None:
        raise NotFound("No such agent level.", level_id=level_id)
    return level


def _normalized_conditions(conditions: list[dict]) -> list[dict]:
    return [
        {"metric": item["metric"], "minimum": item["minimum"]}
        | ({"parameter": item["parameter"]} if item.get("parameter") is not None else {})
        for item in conditions
    ]


@transactional
def create_level(actor: str, *, code: str, rank: int, name: str, **fields) -> AgentLevel:
    """Add an agent level (its conditions pass the compliance rules); the five defaults come first."""
    ensure_default_levels()
    if db.session.scalar(select(AgentLevel.id).where((AgentLevel.code == code) | (AgentLevel.rank == rank))):
        raise Conflict("An agent level with this code or rank exists.", code=code, rank=rank)
    values = {name: fields[name] for name in LEVEL_FIELDS if name in fields}
    values["conditions"] = _normalized_conditions(values.get("conditions", []))
    level = AgentLevel(id=new_id("alv"), code=code, rank=rank, name=name, **{"combine": "all"} | values)
    check_rule(level_rule(level))
    db.session.add(level)
    audit(actor, "agent_level.create", "agent_level", level.id, code=code, rank=rank, **values)
    return level


@transactional
def update_level(actor: str, level_id: str, **fields) -> AgentLevel:
    """Change an agent level's name, badge, terms or conditions (checked against the compliance rules)."""
    level = get_level(level_id)
    before = values_before(level, fields)
    for name in LEVEL_FIELDS:
        if name in fields:
            value = _normalized_conditions(fields[name]) if name == "conditions" else fields[name]
            setattr(level, name, value)
    check_rule(level_rule(level))
    audit(actor, "agent_level.update", "agent_level", level.id, **fields, before=before)
    return level


# --- agents --------------------------------------------------------------------------------------------


def get_agent(agent_id: str) -> Agent:
    """An agent by id."""
    agent = db.session.get(Agent, agent_id)
    if agent is None:
        raise NotFound("No such agent.", agent_id=agent_id)
    return agent


def upper_map() -> dict[str, str | None]:
    """The whole network: agent id → upper agent id."""
    return {agent_id: upper for agent_id, upper in db.session.execute(select(Agent.id, Agent.upper_agent_id))}


def territories_of(agent_id: str) -> list[AgentTerritory]:
    """An agent's territories by region code."""
    query = select(AgentTerritory).where(AgentTerritory.agent_id == agent_id).order_by(AgentTerritory.region_code)
    return list(db.session.scalars(query))


def _check_contract(start, end) -> None:
    if start is not None and end is not None and end < start:
        raise InvalidRequest("The contract ends before it starts.", field="contract_end")


def _set_upper(actor: str, agent: Agent, upper_id: str | None, reason: str) -> None:
    """Bind ``agent`` under ``upper_id`` (or none) within the compliance rules; history and audit kept."""
    if upper_id == agent.upper_agent_id:
        return
    if upper_id is not None:
        upper = get_agent(upper_id) if upper_id != agent.id else agent
        if upper.status == AgentStatus.TERMINATED:
            raise Conflict("A terminated agent cannot be an upper agent.", field="upper_agent_id")
    network = upper_map()
    network.setdefault(agent.id, agent.upper_agent_id)
    check_upper(agent.id, upper_id, network, get_policy().chain_max_depth)
    previous = agent.upper_agent_id
    agent.upper_agent_id = upper_id
    db.session.add(
        AgentUpperChange(
            agent_id=agent.id, previous_upper_id=previous, upper_agent_id=upper_id, reason=reason, changed_by=actor
        )
    )
    audit(actor, "agent.upper", "agent", agent.id, upper_agent_id=upper_id, before=previous, reason=reason)


def _set_territories(agent: Agent, territories: list[dict]) -> None:
    """Replace the agent's territories; an exclusive one needs a level granting it and a region no one else holds."""
    codes = [item["region_code"] for item in territories]
    if len(set(codes)) != len(codes):
        raise InvalidRequest("A region appears twice in the territories.", field="territories")
    level = get_level(agent.level_id)
    for item in territories:
        check_region_code(item["region_code"], "territories")
        if item.get("exclusive") and not level.territory_exclusive:
            raise InvalidRequest("This agent's level does not grant exclusive territories.", field="territories")
    for row in territories_of(agent.id):
        db.session.delete(row)
    db.session.flush()
    for item in territories:
        others = db.session.scalars(
            select(AgentTerritory).where(
                AgentTerritory.region_code == item["region_code"], AgentTerritory.agent_id != agent.id
            )
        ).all()
        if others and (item.get("exclusive") or any(other.exclusive for other in others)):
            raise TerritoryTaken(region_code=item["region_code"])
        db.session.add(
            AgentTerritory(agent_id=agent.id, region_code=item["region_code"], exclusive=bool(item.get("exclusive")))
        )
    db.session.flush()
    db.session.expire(agent, ["territories"])


@transactional
def create_agent(
    actor: str,
    *,
    kind: str,
    name: str,
    phone: str,
    contact_name: str = "",
    upper_agent_id: str | None = None,
    territories: list[dict] | None = None,
    contract_start=None,
    contract_end=None,
) -> Agent:
    """Record an agent's application at the lowest level (joining costs nothing and buys no level)."""
    mobile = normalize_mobile(phone)
    lookup = phone_lookup_hash(mobile)
    if db.session.scalar(select(Agent.id).where(Agent.phone_hash == lookup)):
        raise Conflict("An agent with this phone number exists.", field="phone")
    _check_contract(contract_start, contract_end)
    lowest = ensure_default_levels()[0]
    agent = Agent(
        id=new_id("agt"),
        kind=kind,
        name=name,
        contact_name=contact_name,
        phone_ciphertext=encrypt_phone(mobile),
        phone_hash=lookup,
        phone_masked=mask_mobile(mobile),
        status=AgentStatus.APPLIED,
        level_id=lowest.id,
        level_since=utcnow(),
        contract_start=contract_start,
        contract_end=contract_end,
    )
    db.session.add(agent)
    db.session.flush()
    audit(actor, "agent.create", "agent", agent.id, kind=kind, name=name, phone=agent.phone_masked)
    _set_upper(actor, agent, upper_agent_id, "")
    _set_territories(agent, territories or [])
    return agent


@transactional
def update_agent(actor: str, agent_id: str, **fields) -> Agent:
    """Change an agent's details, contract, status (with a reason), upper agent (with history) or territories."""
    agent = get_agent(agent_id)
    logged = {k: v for k, v in fields.items() if k not in {"phone", "territories"}}
    before = values_before(agent, [name for name in logged if name in ("name", "contact_name", "kind")])
    for name in ("name", "contact_name", "kind"):
        if name in fields:
            setattr(agent, name, fields[name])
    if "phone" in fields:
        mobile = normalize_mobile(fields["phone"])
        lookup = phone_lookup_hash(mobile)
        if db.session.scalar(select(Agent.id).where(Agent.phone_hash == lookup, Agent.id != agent.id)):
            raise Conflict("An agent with this phone number exists.", field="phone")
        agent.phone_ciphertext, agent.phone_hash, agent.phone_masked = (
            encrypt_phone(mobile),
            lookup,
            mask_mobile(mobile),
        )
        logged["phone"] = agent.phone_masked
    if "contract_start" in fields or "contract_end" in fields:
        start = fields.get("contract_start", agent.contract_start)
        end = fields.get("contract_end", agent.contract_end)
        _check_contract(start, end)
        before.update(contract_start=agent.contract_start, contract_end=agent.contract_end)
        agent.contract_start, agent.contract_end = start, end
    if "status" in fields and fields["status"] != agent.status:
        reason = (fields.get("status_reason") or "").strip()
        if not reason:
            raise InvalidRequest("Give the reason for the status change.", field="status_reason")
        check_status_change(agent.status, fields["status"])
        before["status"] = agent.status
        agent.status, agent.status_reason = fields["status"], reason
    if "upper_agent_id" in fields:
        _set_upper(actor, agent, fields["upper_agent_id"], fields.get("upper_reason", ""))
    if "territories" in fields:
        before["territories"] = [t.region_code for t in territories_of(agent.id)]
        _set_territories(agent, fields["territories"])
        logged["territories"] = fields["territories"]
    audit(actor, "agent.update", "agent", agent.id, **_plain(logged), before=_plain(before))
    return agent


def _plain(values: dict) -> dict:
    """``values`` with dates as ISO text (the audit log's details are JSON)."""
    return {name: value.isoformat() if isinstance(value, date) else value for name, value in values.items()}


def reveal_agent_phone(actor: str, agent_id: str) -> str:
    """An agent's full phone number (the access is audit-logged by the caller's transaction)."""
    agent = get_agent(agent_id)
    audit(actor, "agent.reveal_phone", "agent", agent.id)
    return decrypt_phone(agent.phone_ciphertext)


def set_merchant_agent(actor: str, merchant: Merchant, agent_id: str | None, reason: str = "") -> None:
    """Make ``agent_id`` (or no one) the merchant's servicing agent, keeping the history (joins the caller's)."""
    if agent_id == merchant.agent_id:
        return
    if agent_id is not None:
        agent = db.session.get(Agent, agent_id)
        if agent is None:
            raise InvalidRequest("No such agent.", field="agent_id")
        if agent.status == AgentStatus.TERMINATED:
            raise Conflict("A terminated agent cannot service merchants.", field="agent_id")
    db.session.add(
        MerchantAgentChange(
            merchant_id=merchant.id,
            previous_agent_id=merchant.agent_id,
            agent_id=agent_id,
            reason=reason,
            changed_by=actor,
        )
    )
    merchant.agent_id = agent_id


def merchant_agent_history(merchant_id: str) -> list[MerchantAgentChange]:
    """Who serviced a merchant, oldest change first."""
    query = select(MerchantAgentChange).where(MerchantAgentChange.merchant_id == merchant_id)
    return list(db.session.scalars(query.order_by(MerchantAgentChange.id)))


def upper_history(agent_id: str) -> list[AgentUpperChange]:
    """An agent's upper agents over time, oldest change first."""
    query = select(AgentUpperChange).where(AgentUpperChange.agent_id == agent_id)
    return list(db.session.scalars(query.order_by(AgentUpperChange.id)))


def count_subordinates(agent_id: str) -> int:
    """How many agents have ``agent_id`` as their upper agent."""
    return db.session.scalar(select(func.count()).select_from(Agent).where(Agent.upper_agent_id == agent_id)) or 0


@transactional
def record_recruitment(actor: str, member_id: str, agent_id: str) -> None:
    """Record that ``agent_id`` recruited the member (only once: a member's recruiter never changes)."""
    from server.models import Member

    member = db.session.get(Member, member_id)
    if member is None:
        raise MemberNotFound(member_id=member_id)
    agent = get_agent(agent_id)
    if member.recruited_by_agent_id is not None:
        raise Conflict("This member's recruiter is already recorded.", member_id=member_id)
    member.recruited_by_agent_id = agent.id
    audit(actor, "member.recruited_by_agent", "member", member.id, agent_id=agent.id)
