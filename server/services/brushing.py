"""Anti-brushing (刷单): the rules as rows, the scan that turns findings into flags, the review, held sales.

``detect_brushing(actor, today)`` (the ``detect-brushing`` job of ``jobs run``) reads the sales from the first
day of the month ``lookback_days`` before ``today`` to now as plain records (:func:`sale_records`), runs every
enabled rule (``server/domain/brushing.py``) and stores one flag per rule, subject and window: running it
again, or from several workers at once (an advisory lock per schema, ``server/services/locks.py``), adds no
flag twice; an open flag only gains the sales newly caught in its window.

A flag holds its sales (:func:`held_sale_ids`, for commissions) while it is open or confirmed; an operator
clears or confirms it with a reason (audit-logged). Confirmed flags count against the agent they bear on in
the health score (:func:`confirmed_flags_by_agent`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select

from server.domain.brushing import (
    DEFAULT_RULES,
    RuleParameterError,
    SaleRecord,
    checked_parameters,
    default_parameters,
    run_rule,
)
from server.domain.errors import Conflict, InvalidRequest, NotFound
from server.domain.statuses import BrushingFlagStatus
from server.extensions import db
from server.models import (
    Agent,
    BrushingFlag,
    BrushingFlagSale,
    BrushingRule,
    Card,
    Level,
    Member,
    Merchant,
    Refund,
    Sale,
    Terminal,
)
from server.models.base import utcnow
from server.services import locks
from server.services.alliance import get_settings
from server.services.audit import audit
from server.services.queries import _page_of_objects, _where_equal
from server.services.unit_of_work import transactional

LOCK_NAME = "brushing:detect"
DEFAULT_LOOKBACK_DAYS = 7
HOLDING = (BrushingFlagStatus.OPEN, BrushingFlagStatus.CONFIRMED)


# --- rules ---------------------------------------------------------------------------------------------


def ensure_default_rules() -> list[BrushingRule]:
    """The rules, the defaults added first if missing (all of them, lowest code first)."""
    if len(DEFAULT_RULES) > db.session.scalar(select(func.count()).select_from(BrushingRule)):
        locks.lock("brushing:rules")  # two first readers at once add the defaults once
    have = set(db.session.scalars(select(BrushingRule.code)))
    for code, kind, name in DEFAULT_RULES:
        if code not in have:
            db.session.add(BrushingRule(code=code, kind=kind, name=name, parameters=default_parameters(kind)))
    db.session.flush()
    return list(db.session.scalars(select(BrushingRule).order_by(BrushingRule.code)))


@transactional
def list_rules() -> list[BrushingRule]:
    """Every anti-brushing rule (the defaults created on first reading)."""
    return ensure_default_rules()


def get_rule(rule_id: str) -> BrushingRule:
    rule = db.session.get(BrushingRule, rule_id)
    if rule is None:
        raise NotFound("Anti-brushing rule not found.")
    return rule


@transactional
def update_rule(actor: str, rule_id: str, enabled: bool | None = None, parameters: dict | None = None) -> BrushingRule:
    """Switch a rule on or off, change its parameters (each checked against its kind); audit-logged."""
    rule = get_rule(rule_id)
    before = {"enabled": rule.enabled, "parameters": dict(rule.parameters)}
    if parameters is not None:
        try:
            rule.parameters = checked_parameters(rule.kind, parameters, rule.parameters)
        except RuleParameterError as exc:
            raise InvalidRequest(str(exc), field=f"parameters.{exc.field}") from exc
    if enabled is not None:
        rule.enabled = enabled
    rule.updated_at = utcnow()
    audit(
        actor,
        "brushing_rule.update",
        "brushing_rule",
        rule.id,
        before=before,
        enabled=rule.enabled,
        parameters=rule.parameters,
    )
    return rule


# --- the scan ------------------------------------------------------------------------------------------


def attribution_columns():
    """The agent servicing the sale's merchant and the agent who recruited its member, as snapshotted on the
    sale when it was made (server/services/sales/attribution.py), so later reassignments never move a flag."""
    return Sale.servicing_agent_id, Sale.recruiting_agent_id


def sale_records(start: datetime, end: datetime, timezone: str) -> list[SaleRecord]:
    """The sales that occurred in ``[start, end)`` as the rules see them."""
    merchant_agent, recruiting_agent = attribution_columns()
    first_refund = (
        select(Refund.sale_id, func.min(Refund.created_at).label("refunded_at")).group_by(Refund.sale_id).subquery()
    )
    query = (
        select(
            Sale.id,
            Sale.occurred_at,
            Sale.created_at,
            Sale.merchant_id,
            Sale.terminal_id,
            Sale.member_id,
            Sale.card_id,
            Sale.amount_fen,
            Sale.refunded_fen,
            first_refund.c.refunded_at,
            Level.rank,
            merchant_agent.label("merchant_agent_id"),
            recruiting_agent.label("recruiting_agent_id"),
        )
        .select_from(Sale)
        .join(Level, Level.id == Sale.level_id)
        .outerjoin(first_refund, first_refund.c.sale_id == Sale.id)
        .where(Sale.occurred_at >= start, Sale.occurred_at < end)
        .order_by(Sale.member_id, Sale.occurred_at, Sale.id)
    )
    rows = db.session.execute(query).all()
    members = {row.member_id for row in rows}
    current = {}
    if members:
        ids = sorted(members)
        for chunk in range(0, len(ids), 1000):
            current.update(
                {
                    member_id: (rank, since)
                    for member_id, rank, since in db.session.execute(
                        select(Member.id, Level.rank, Member.level_since)
                        .join(Level, Level.id == Member.level_id)
                        .where(Member.id.in_(ids[chunk : chunk + 1000]))
                    )
                }
            )
    zone = ZoneInfo(timezone)
    records = []
    for index, row in enumerate(rows):
        following = rows[index + 1] if index + 1 < len(rows) else None
        if following is not None and following.member_id == row.member_id:
            lifted = following.rank > row.rank
        else:  # the member's latest sale of the scan: did the member's level rise with it?
            rank_now, since = current[row.member_id]
            lifted = rank_now > row.rank and since is not None and since >= row.created_at
        records.append(
            SaleRecord(
                id=row.id,
                occurred_at=row.occurred_at,
                local_day=row.occurred_at.astimezone(zone).date().isoformat(),
                merchant_id=row.merchant_id,
                terminal_id=row.terminal_id,
                member_id=row.member_id,
                card_id=row.card_id,
                amount_fen=row.amount_fen,
                refunded_fen=row.refunded_fen,
                refunded_at=row.refunded_at,
                lifted_level=lifted,
                merchant_agent_id=row.merchant_agent_id,
                recruiting_agent_id=row.recruiting_agent_id,
            )
        )
    return records


def scan_start(today: date, lookback_days: int, timezone: str) -> datetime:
    """The first moment of the month ``lookback_days`` before ``today`` (alliance time), in UTC."""
    first = today - timedelta(days=lookback_days)
    local = datetime(first.year, first.month, 1, tzinfo=ZoneInfo(timezone))
    return local.astimezone(UTC)


@transactional
def detect_brushing(
    actor: str, today: date, lookback_days: int = DEFAULT_LOOKBACK_DAYS, now: datetime | None = None
) -> dict:
    """Run every enabled rule over the recent sales; one flag per rule, subject and window (idempotent)."""
    locks.lock(LOCK_NAME)
    settings = get_settings()
    start = scan_start(today, lookback_days, settings.timezone)
    end = now or utcnow()
    rules = [rule for rule in ensure_default_rules() if rule.enabled]
    records = sale_records(start, end, settings.timezone) if rules else []
    occurred = {record.id: record.occurred_at for record in records}
    summary = {"scanned_from": start, "sales": len(records), "flagged": 0, "already_flagged": 0, "sales_added": 0}
    for rule in rules:
        findings = run_rule(rule.kind, rule.parameters, records)
        if not findings:
            continue
        keys = [finding.key for finding in findings]
        existing = {
            flag.dedupe_key: flag
            for flag in db.session.scalars(
                select(BrushingFlag)
                .where(BrushingFlag.rule_id == rule.id, BrushingFlag.dedupe_key.in_(keys))
                .with_for_update()  # a review running meanwhile waits, or has finished and is seen
            )
        }
        links = []
        for finding in findings:
            flag = existing.get(finding.key)
            if flag is None:
                flag = BrushingFlag(
                    rule_id=rule.id,
                    dedupe_key=finding.key,
                    subject_type=finding.subject_type,
                    subject_id=finding.subject_id,
                    merchant_id=finding.merchant_id,
                    agent_id=finding.agent_id,
                    window=finding.window,
                    window_start=min(occurred[sale_id] for sale_id in finding.sale_ids),
                    details=finding.details,
                    status=BrushingFlagStatus.OPEN,
                )
                db.session.add(flag)
                db.session.flush()
                summary["flagged"] += 1
                held = set()
            else:
                summary["already_flagged"] += 1
                if flag.status != BrushingFlagStatus.OPEN:
                    continue  # a reviewed flag stays as it was reviewed
                held = set(
                    db.session.scalars(select(BrushingFlagSale.sale_id).where(BrushingFlagSale.flag_id == flag.id))
                )
                new = [sale_id for sale_id in finding.sale_ids if sale_id not in held]
                summary["sales_added"] += len(new)
                if new:
                    flag.details = finding.details
            links.extend({"flag_id": flag.id, "sale_id": s} for s in finding.sale_ids if s not in held)
        if links:
            db.session.execute(insert(BrushingFlagSale), links)
    return summary


# --- flags ---------------------------------------------------------------------------------------------


def list_flags(filters: dict, pagination) -> list[BrushingFlag]:
    """Flags by status, rule, agent, merchant, subject and sale, newest first."""
    query = _where_equal(
        select(BrushingFlag), BrushingFlag, filters, ("status", "rule_id", "agent_id", "merchant_id", "subject_type")
    )
    if filters.get("subject_id"):
        query = query.where(BrushingFlag.subject_id == filters["subject_id"])
    if filters.get("sale_id"):
        held = select(BrushingFlagSale.flag_id).where(BrushingFlagSale.sale_id == filters["sale_id"])
        query = query.where(BrushingFlag.id.in_(held))
    return _page_of_objects(query.order_by(BrushingFlag.created_at.desc(), BrushingFlag.id), pagination)


def get_flag(flag_id: str) -> BrushingFlag:
    flag = db.session.get(BrushingFlag, flag_id)
    if flag is None:
        raise NotFound("Anti-brushing flag not found.")
    return flag


def flag_sale_ids(flag_ids: Iterable[str]) -> dict[str, list[str]]:
    """The sales each flag holds."""
    ids = list(flag_ids)
    result: dict[str, list[str]] = defaultdict(list)
    if ids:
        query = select(BrushingFlagSale.flag_id, BrushingFlagSale.sale_id).where(BrushingFlagSale.flag_id.in_(ids))
        for flag_id, sale_id in db.session.execute(query.order_by(BrushingFlagSale.sale_id)):
            result[flag_id].append(sale_id)
    return result


@transactional
def review_flag(actor: str, flag_id: str, status: str, reason: str) -> BrushingFlag:
    """Clear (release its sales) or confirm (they stay held, the agent's health score counts it) an open flag."""
    if status not in (BrushingFlagStatus.CLEARED, BrushingFlagStatus.CONFIRMED):
        raise InvalidRequest("A review either clears or confirms the flag.", field="status")
    if not (reason or "").strip():
        raise InvalidRequest("A review needs a reason.", field="reason")
    flag = db.session.scalar(select(BrushingFlag).where(BrushingFlag.id == flag_id).with_for_update())
    if flag is None:
        raise NotFound("Anti-brushing flag not found.")
    if flag.status != BrushingFlagStatus.OPEN:
        raise Conflict("This flag has already been reviewed.", status=flag.status)
    flag.status, flag.review_reason = status, reason.strip()
    flag.reviewed_by, flag.reviewed_at = actor, utcnow()
    audit(actor, f"brushing_flag.{status}", "brushing_flag", flag.id, reason=flag.review_reason)
    if status == BrushingFlagStatus.CONFIRMED:
        from server.services import commissions  # the commissions read the flags: imported when used

        commissions.reverse_for_flag(actor, flag.id)
    return flag


def held_sales_select(statuses=HOLDING):
    """A SELECT of the ids of the sales a flag in ``statuses`` (open or confirmed: held) holds."""
    return (
        select(BrushingFlagSale.sale_id)
        .join(BrushingFlag, BrushingFlag.id == BrushingFlagSale.flag_id)
        .where(BrushingFlag.status.in_(statuses))
    )


def held_sale_ids(sale_ids: Iterable[str] | None = None) -> set[str]:
    """The sales (of ``sale_ids``, or all) an open or confirmed flag holds: no reward tied to them is paid."""
    query = held_sales_select()
    if sale_ids is None:
        return set(db.session.scalars(query))
    ids, held = list(sale_ids), set()
    for chunk in range(0, len(ids), 1000):
        held.update(db.session.scalars(query.where(BrushingFlagSale.sale_id.in_(ids[chunk : chunk + 1000]))))
    return held


def confirmed_flags_by_agent(start: datetime, end: datetime) -> dict[str, int]:
    """Confirmed flags per agent whose sales began in ``[start, end)`` (for the health score)."""
    query = (
        select(BrushingFlag.agent_id, func.count())
        .where(
            BrushingFlag.agent_id.is_not(None),
            BrushingFlag.status == BrushingFlagStatus.CONFIRMED,
            BrushingFlag.window_start >= start,
            BrushingFlag.window_start < end,
        )
        .group_by(BrushingFlag.agent_id)
    )
    return {agent_id: int(count) for agent_id, count in db.session.execute(query)}


def subject_labels(flags: Iterable[BrushingFlag]) -> dict[tuple[str, str], str]:
    """What to call each flag's subject and agent on a page: card numbers, member and agent names (phones
    masked), terminal and merchant names, keyed by (type, id)."""
    wanted: dict[str, set[str]] = defaultdict(set)
    for flag in flags:
        wanted[flag.subject_type].add(flag.subject_id)
        if flag.agent_id:
            wanted["agent"].add(flag.agent_id)
        if flag.merchant_id:
            wanted["merchant"].add(flag.merchant_id)
    sources = {
        "card": (Card.id, Card.card_no),
        "member": (Member.id, Member.display_name + " " + Member.phone_masked),
        "merchant": (Merchant.id, Merchant.name),
        "terminal": (Terminal.id, Terminal.name),
        "agent": (Agent.id, Agent.name),
    }
    labels = {}
    for kind, ids in wanted.items():
        key, label = sources[kind]
        for found_id, text in db.session.execute(select(key, label).where(key.in_(sorted(ids)))):
            labels[(kind, found_id)] = text
    return labels


def flag_sales(flag_id: str) -> list[Sale]:
    """The sales a flag holds, oldest first."""
    held = select(BrushingFlagSale.sale_id).where(BrushingFlagSale.flag_id == flag_id)
    return list(db.session.scalars(select(Sale).where(Sale.id.in_(held)).order_by(Sale.occurred_at, Sale.id)))
