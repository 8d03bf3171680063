"""Commissions (分润): the versioned policy, the day closing's set-based computation, refunds, flags, queries.

The rule lives in ``server.domain.commissions``; the day closing computes it for a whole business day in
one ``INSERT … SELECT`` (``_EARN_SQL``), proven equal to the domain function by a test, and posts the
money in one aggregated transaction per day (``money_ledger.post_select``): a million sales are a few
statements, not a million round trips. One commission per (sale, beneficiary, role): the unique
constraint and ``ON CONFLICT DO NOTHING`` make any re-run pay nothing twice.

Lifecycle: earned pending at the closing of the sale's day → available at the closing of the day its
merchant's return window ends (a sale held by an anti-brushing flag stays pending) → paid by a
withdrawal (server/services/withdrawals.py, account level). A refund reverses in proportion (pending:
back to the merchant; available: into the beneficiary's debt, netted against later commissions). A
confirmed flag reverses the sale's commissions in full.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import Date, and_, bindparam, func, select, text, update

from server.domain import commissions as rules
from server.domain import money_ledger as money
from server.domain.errors import InvalidRequest, NotFound
from server.domain.settlement import business_day_of
from server.domain.statuses import BrushingFlagStatus, CommissionStatus
from server.extensions import db
from server.models import (
    Agent,
    AgentLevel,
    AgentTerritory,
    Commission,
    CommissionAdjustment,
    CommissionMerchantTerm,
    CommissionPolicy,
    Merchant,
    MoneyAccount,
    MoneyEntry,
    MoneyTransaction,
    Refund,
    Sale,
    SettlementDay,
)
from server.models.base import UTCDateTime, utcnow
from server.services import locks, money_ledger, webhooks
from server.services.alliance import get_settings
from server.services.audit import audit
from server.services.brushing import held_sales_select
from server.services.queries import _page_of_objects
from server.services.unit_of_work import transactional

SYSTEM = "system:commissions"
POLICY_FIELDS = (
    "base",
    "funding",
    "envelope_bp",
    "recruiter_rate_bp",
    "member_recruiter_rate_bp",
    "management_enabled",
    "management_rate_bp",
    "management_depth",
    "regional_fee_bp",
    "return_window_days",
)
MANAGEMENT_WARNING = (
    "Management commission pays an upper agent on a subordinate's earnings (团队计酬), which art. 7(3) of the "
    "Regulations on Prohibiting Pyramid Selling (禁止传销条例) names as pyramid selling. Switch it on only "
    "with legal advice; it is shown on every statement."
)


def lock_day(day: date) -> None:
    """Serialize the commission work of one business day: its closing and the refunds of its sales."""
    locks.lock(f"commissions:{day.isoformat()}")


# --- the policy --------------------------------------------------------------------------------------


def _row_policy(row: CommissionPolicy) -> rules.Policy:
    terms = db.session.scalars(
        select(CommissionMerchantTerm).where(CommissionMerchantTerm.policy_version == row.version)
    ).all()
    return rules.Policy(
        version=row.version,
        **{name: getattr(row, name) for name in POLICY_FIELDS},
        merchant_rates={term.merchant_id: term.rate_bp for term in terms if term.rate_bp is not None},
        merchant_windows={
            term.merchant_id: term.return_window_days for term in terms if term.return_window_days is not None
        },
    )


def policy_row() -> CommissionPolicy:
    """The current version of the policy (version 1 with the defaults is written on first use)."""
    row = db.session.scalar(select(CommissionPolicy).order_by(CommissionPolicy.version.desc()).limit(1))
    if row is None:
        defaults = rules.Policy()
        row = CommissionPolicy(
            version=1,
            **{name: getattr(defaults, name) for name in POLICY_FIELDS},
            created_by=SYSTEM,
            reason="defaults",
        )
        db.session.add(row)
        db.session.flush()
    return row


def current_policy() -> rules.Policy:
    """The current policy as the domain's value."""
    return _row_policy(policy_row())


@transactional
def get_policy() -> tuple[CommissionPolicy, rules.Policy]:
    """The current policy: its row (who, when, acknowledgement) and its value (with the merchant overrides)."""
    row = policy_row()
    return row, _row_policy(row)


def policy_versions() -> list[CommissionPolicy]:
    """Every version, newest first."""
    return list(db.session.scalars(select(CommissionPolicy).order_by(CommissionPolicy.version.desc())))


@transactional
def update_policy(actor: str, changes: dict, reason: str, acknowledgement: str = "") -> CommissionPolicy:
    """Write the next version of the policy; the current one is never edited.

    ``changes`` may hold any of POLICY_FIELDS and ``merchant_terms`` (a list of {merchant_id, rate_bp,
    return_window_days}, replacing the overrides). Switching management commission on needs an explicit
    ``acknowledgement`` (the operator's own words), recorded in the audit log and on every statement.
    """
    locks.lock("commission_policy")
    if not (reason or "").strip():
        raise InvalidRequest("A policy change needs a reason.", field="reason")
    current = policy_row()
    before = _row_policy(current)
    unknown = set(changes) - set(POLICY_FIELDS) - {"merchant_terms"}
    if unknown:
        raise InvalidRequest("Unknown policy field.", field=sorted(unknown)[0])
    values = {name: changes.get(name, getattr(current, name)) for name in POLICY_FIELDS}
    terms = changes.get("merchant_terms")
    if terms is None:
        terms = [
            {"merchant_id": merchant_id, "rate_bp": before.merchant_rates.get(merchant_id), "return_window_days": days}
            for merchant_id, days in {
                **dict.fromkeys(before.merchant_rates),
                **before.merchant_windows,
            }.items()
        ]
    terms = list({term["merchant_id"]: term for term in terms}.values())  # one override per merchant: the last
    merchant_rates = {term["merchant_id"]: term["rate_bp"] for term in terms if term.get("rate_bp") is not None}
    merchant_windows = {
        term["merchant_id"]: term["return_window_days"] for term in terms if term.get("return_window_days") is not None
    }
    policy = rules.Policy(
        version=current.version + 1, **values, merchant_rates=merchant_rates, merchant_windows=merchant_windows
    )
    rules.check_policy(policy)
    known = set(db.session.scalars(select(Merchant.id).where(Merchant.id.in_([t["merchant_id"] for t in terms]))))
    for term in terms:
        if term["merchant_id"] not in known:
            raise InvalidRequest("No such merchant.", field="merchant_terms", merchant_id=term["merchant_id"])
    ack_text, ack_by = current.management_ack_text, current.management_ack_by
    if policy.management_enabled and not current.management_enabled:
        if not (acknowledgement or "").strip():
            raise InvalidRequest(
                "Management commission can be switched on only with an explicit acknowledgement of the risk.",
                field="acknowledgement",
            )
        ack_text, ack_by = acknowledgement.strip()[:400], actor
        audit(
            actor,
            "commission_policy.management_acknowledged",
            "commission_policy",
            str(policy.version),
            acknowledgement=ack_text,
            warning=MANAGEMENT_WARNING,
            management_rate_bp=policy.management_rate_bp,
            management_depth=policy.management_depth,
        )
    if not policy.management_enabled:
        ack_text, ack_by = "", None
    row = CommissionPolicy(
        version=policy.version,
        **values,
        management_ack_text=ack_text,
        management_ack_by=ack_by,
        reason=reason.strip()[:200],
        created_by=actor,
    )
    db.session.add(row)
    db.session.flush()
    for term in terms:
        db.session.add(
            CommissionMerchantTerm(
                policy_version=row.version,
                merchant_id=term["merchant_id"],
                rate_bp=term.get("rate_bp"),
                return_window_days=term.get("return_window_days"),
            )
        )
    audit(
        actor,
        "commission_policy.update",
        "commission_policy",
        str(row.version),
        reason=row.reason,
        before={name: getattr(before, name) for name in POLICY_FIELDS},
        after=values,
        merchant_terms=len(terms),
    )
    db.session.flush()
    return row


# --- the day closing: earn, release -----------------------------------------------------------------------

_COMMISSION_COLUMNS = (
    "sale_id, merchant_id, business_day, beneficiary_kind, beneficiary_id, role, depth, policy_version, "
    "base_fen, rate_bp, amount_fen, reversed_fen, earned_fen, funded_by, status, available_on, created_at"
)


def _earn_sql(dialect: str) -> str:
    """The day's commissions of every sale, by the rule of ``server.domain.commissions`` (one statement)."""
    if dialect == "postgresql":
        available_on = "CAST(:day AS DATE) + CAST(window_days AS INTEGER)"
    else:
        available_on = "date(:day, '+' || window_days || ' days')"
    return f"""
WITH regional AS (
    SELECT region_code, MIN(agent_id) AS agent_id FROM agent_territories WHERE exclusive GROUP BY region_code
),
s AS (
    SELECT sa.id AS sale_id, sa.merchant_id, CAST(sa.payable_fen AS BIGINT) AS paid,
           CAST(sa.refunded_fen AS BIGINT) AS refunded,
           CASE WHEN :base = 'paid' THEN CAST(sa.payable_fen AS BIGINT)
                ELSE (CAST(sa.payable_fen AS BIGINT) * m.service_fee_bp + 5000) / 10000 + m.service_fee_per_sale_fen
           END AS base,
           sa.servicing_agent_id, sa.recruiting_agent_id, sa.recruiting_member_id,
           COALESCE(t.rate_bp, lv.commission_rate_bp, 0) AS srate,
           COALESCE(t.return_window_days, :window) AS window_days,
           ag.upper_agent_id AS up1, ag2.upper_agent_id AS up2, rg.agent_id AS regional_agent
    FROM sales sa
    JOIN merchants m ON m.id = sa.merchant_id
    LEFT JOIN agents ag ON ag.id = sa.servicing_agent_id
    LEFT JOIN agent_levels lv ON lv.id = ag.level_id
    LEFT JOIN agents ag2 ON ag2.id = ag.upper_agent_id
    LEFT JOIN commission_merchant_terms t ON t.policy_version = :version AND t.merchant_id = sa.merchant_id
    LEFT JOIN regional rg ON rg.region_code = m.region_code
    WHERE sa.created_at >= :start AND sa.created_at < :end AND sa.payable_fen > 0
),
r AS (
    SELECT sale_id, merchant_id, paid, refunded, window_days, 'agent' AS bkind, servicing_agent_id AS bid,
           'servicing' AS role, 0 AS depth, 1 AS ord, base, srate AS rate, base * srate / 10000 AS raw, base AS capbase
    FROM s WHERE servicing_agent_id IS NOT NULL
    UNION ALL
    SELECT sale_id, merchant_id, paid, refunded, window_days, 'agent', recruiting_agent_id,
           'recruiter', 0, 2, base, :recruiter_rate, base * :recruiter_rate / 10000, base
    FROM s WHERE recruiting_agent_id IS NOT NULL
    UNION ALL
    SELECT sale_id, merchant_id, paid, refunded, window_days, 'member', recruiting_member_id,
           'recruiter', 0, 2, base, :member_rate, base * :member_rate / 10000, base
    FROM s WHERE recruiting_agent_id IS NULL AND recruiting_member_id IS NOT NULL
    UNION ALL
    SELECT sale_id, merchant_id, paid, refunded, window_days, 'agent', up1,
           'management', 1, 3, base * srate / 10000, :management_rate,
           (base * srate / 10000) * :management_rate / 10000, base
    FROM s WHERE :management AND :management_depth >= 1 AND servicing_agent_id IS NOT NULL AND up1 IS NOT NULL
    UNION ALL
    SELECT sale_id, merchant_id, paid, refunded, window_days, 'agent', up2,
           'management', 2, 4, (base * srate / 10000) * :management_rate / 10000, :management_rate,
           ((base * srate / 10000) * :management_rate / 10000) * :management_rate / 10000, base
    FROM s WHERE :management AND :management_depth >= 2 AND servicing_agent_id IS NOT NULL AND up2 IS NOT NULL
    UNION ALL
    SELECT sale_id, merchant_id, paid, refunded, window_days, 'agent', regional_agent,
           'regional', 0, 5, base, :regional_rate, base * :regional_rate / 10000, base
    FROM s WHERE regional_agent IS NOT NULL AND :regional_rate > 0
),
c AS (
    SELECT r.*, capbase * :envelope / 10000
                - (SUM(raw) OVER (PARTITION BY sale_id ORDER BY ord ROWS UNBOUNDED PRECEDING) - raw) AS room
    FROM r
),
a AS (
    SELECT c.*, CASE WHEN room <= 0 THEN 0 WHEN raw < room THEN raw ELSE room END AS amount FROM c
),
f AS (
    SELECT a.*, CASE WHEN refunded <= 0 THEN 0 WHEN refunded >= paid THEN amount
                     ELSE amount * refunded / paid END AS rev
    FROM a WHERE amount > 0
)
INSERT INTO commissions ({_COMMISSION_COLUMNS})
SELECT sale_id, merchant_id, :day, bkind, bid, role, depth, :version, base, rate, amount, rev, amount - rev,
       CASE WHEN role = 'regional' THEN 'platform' ELSE 'merchant' END,
       CASE WHEN rev >= amount THEN 'reversed' ELSE 'pending' END,
       {available_on}, :now
FROM f WHERE true
ON CONFLICT (sale_id, beneficiary_kind, beneficiary_id, role) DO NOTHING
"""


def _bind_types(statement):
    return statement.bindparams(
        bindparam("start", type_=UTCDateTime()),
        bindparam("end", type_=UTCDateTime()),
        bindparam("now", type_=UTCDateTime()),
        bindparam("day", type_=Date()),
    )


def earn_day(day: date, start: datetime, end: datetime, actor: str) -> int:
    """Compute and post the commissions of the sales recorded in ``[start, end)`` (business day ``day``).

    Returns the number of commission entries created now (0 on a re-run)."""
    lock_day(day)
    policy = policy_row()
    dialect = db.session.get_bind().dialect.name
    params = {
        "day": day,
        "start": start,
        "end": end,
        "now": utcnow(),
        "version": policy.version,
        "base": policy.base,
        "window": policy.return_window_days,
        "recruiter_rate": policy.recruiter_rate_bp,
        "member_rate": policy.member_recruiter_rate_bp,
        "management": bool(policy.management_enabled),
        "management_depth": policy.management_depth if policy.management_enabled else 0,
        "management_rate": policy.management_rate_bp,
        "regional_rate": policy.regional_fee_bp,
        "envelope": policy.envelope_bp,
    }
    count = select(func.count()).select_from(Commission).where(Commission.business_day == day)
    before = db.session.scalar(count) if dialect == "sqlite" else 0
    created = db.session.execute(_bind_types(text(_earn_sql(dialect))), params).rowcount
    if dialect == "sqlite":  # SQLite answers no row count for INSERT … SELECT with a WITH clause
        created = db.session.scalar(count) - before
    _post_day(day, actor)
    # a sale already confirmed as brushing before its day closed: its commissions are taken back at once
    confirmed = db.session.scalars(
        select(Commission.sale_id)
        .where(
            Commission.business_day == day,
            Commission.sale_id.in_(held_sales_select((BrushingFlagStatus.CONFIRMED,))),
        )
        .distinct()
    ).all()
    for sale_id in confirmed:
        _take_back_sale(actor, sale_id, "brushing", f"brushing:close:{day.isoformat()}:{sale_id}", day)
    return created


def _post_day(day: date, actor: str) -> None:
    """One money transaction for the day's new commissions: each funder −, each beneficiary's pending +."""
    money_ledger.open_accounts_select(
        "SELECT DISTINCT beneficiary_kind AS owner_kind, beneficiary_id AS owner_id, :pending AS kind "
        "FROM commissions WHERE business_day = :day "
        "UNION SELECT DISTINCT 'merchant', merchant_id, :payable FROM commissions "
        "WHERE business_day = :day AND funded_by = 'merchant'",
        {"day": day, "pending": money.PENDING, "payable": money.MERCHANT_COMMISSION_PAYABLE},
    )
    fee_income = money_ledger.alliance_account(money.FEE_INCOME)
    money_ledger.post_select(
        money.COMMISSION_EARNED,
        f"commissions:earned:{day.isoformat()}",
        """
SELECT a.id AS account_id, t.amount AS amount
FROM (SELECT beneficiary_kind, beneficiary_id, SUM(earned_fen) AS amount FROM commissions
      WHERE business_day = :day GROUP BY beneficiary_kind, beneficiary_id) t
JOIN money_accounts a ON a.owner_kind = t.beneficiary_kind AND a.owner_id = t.beneficiary_id AND a.kind = :pending
UNION ALL
SELECT a.id, -t.amount
FROM (SELECT merchant_id, SUM(earned_fen) AS amount FROM commissions
      WHERE business_day = :day AND funded_by = 'merchant' GROUP BY merchant_id) t
JOIN money_accounts a ON a.owner_kind = 'merchant' AND a.owner_id = t.merchant_id AND a.kind = :payable
UNION ALL
SELECT :fee_income, -SUM(c.earned_fen) FROM commissions c
WHERE c.business_day = :day AND c.funded_by = 'platform' HAVING COUNT(*) > 0
""",
        {"day": day, "pending": money.PENDING, "payable": money.MERCHANT_COMMISSION_PAYABLE, "fee_income": fee_income},
        actor,
        business_day=day,
    )


def day_sale_facts(start: datetime, end: datetime, policy: rules.Policy) -> list[rules.SaleFacts]:
    """What the commissions of each sale recorded in ``[start, end)`` depend on, as the agents stand now."""
    upper = Agent.__table__.alias("upper")
    regional = (
        select(AgentTerritory.region_code, func.min(AgentTerritory.agent_id).label("agent_id"))
        .where(AgentTerritory.exclusive)
        .group_by(AgentTerritory.region_code)
        .subquery()
    )
    rows = db.session.execute(
        select(
            Sale.id,
            Sale.merchant_id,
            Sale.payable_fen,
            Merchant.service_fee_bp,
            Merchant.service_fee_per_sale_fen,
            Sale.servicing_agent_id,
            AgentLevel.commission_rate_bp,
            Sale.recruiting_agent_id,
            Sale.recruiting_member_id,
            Agent.upper_agent_id,
            upper.c.upper_agent_id,
            regional.c.agent_id,
        )
        .join(Merchant, Merchant.id == Sale.merchant_id)
        .outerjoin(Agent, Agent.id == Sale.servicing_agent_id)
        .outerjoin(AgentLevel, AgentLevel.id == Agent.level_id)
        .outerjoin(upper, upper.c.id == Agent.upper_agent_id)
        .outerjoin(regional, regional.c.region_code == Merchant.region_code)
        .where(Sale.created_at >= start, Sale.created_at < end)
        .order_by(Sale.id)
    )
    return [
        rules.SaleFacts(
            sale_id=sale_id,
            merchant_id=merchant_id,
            paid_fen=paid,
            service_fee_fen=rules.service_fee(paid, fee_bp, per_sale),
            servicing_agent_id=servicing,
            servicing_level_rate_bp=level_rate or 0,
            recruiting_agent_id=recruiting_agent,
            recruiting_member_id=recruiting_member,
            upper_agent_ids=tuple(agent for agent in (up1, up2) if agent) if up1 else (),
            regional_agent_id=regional_agent,
        )
        for (
            sale_id,
            merchant_id,
            paid,
            fee_bp,
            per_sale,
            servicing,
            level_rate,
            recruiting_agent,
            recruiting_member,
            up1,
            up2,
            regional_agent,
        ) in rows
    ]


def expected_day_commissions(day: date, start: datetime, end: datetime) -> dict[tuple, int]:
    """The commissions the domain rule gives each sale of the day, by (sale, kind, beneficiary, role)."""
    version = db.session.scalar(select(func.max(Commission.policy_version)).where(Commission.business_day == day))
    row = db.session.get(CommissionPolicy, version) if version else policy_row()
    policy = _row_policy(row)
    expected = {}
    for facts in day_sale_facts(start, end, policy):
        for entry in rules.sale_commissions(policy, facts):
            expected[(facts.sale_id, entry.beneficiary_kind, entry.beneficiary_id, entry.role)] = entry.amount_fen
    return expected


def release_day(day: date, actor: str) -> int:
    """Make available the commissions whose return window ended by ``day`` (not held by a flag); net debts.

    Each agent's commission released emits ``commission.available`` in this transaction (when subscribed:
    only then are the released rows read back).
    """
    statement = (
        update(Commission)
        .where(
            Commission.status == CommissionStatus.PENDING,
            Commission.available_on <= day,
            Commission.sale_id.not_in(held_sales_select()),
        )
        .values(status=CommissionStatus.AVAILABLE, released_on=day)
        .execution_options(synchronize_session=False)
    )
    if webhooks.subscribers().get("commission.available"):
        rows = db.session.execute(
            statement.returning(
                Commission.id,
                Commission.beneficiary_kind,
                Commission.beneficiary_id,
                Commission.amount_fen,
                Commission.reversed_fen,
            )
        ).all()
        released, now = len(rows), utcnow()
        for row in rows:
            if row.beneficiary_kind == money.AGENT:
                payload = webhooks.commission_available_payload(
                    row.id, row.beneficiary_id, row.amount_fen - row.reversed_fen, now
                )
                webhooks.emit(db.session, "commission.available", payload)
    else:
        released = db.session.execute(statement).rowcount
    if not released:
        return 0
    money_ledger.open_accounts_select(
        "SELECT DISTINCT beneficiary_kind AS owner_kind, beneficiary_id AS owner_id, :available AS kind "
        "FROM commissions WHERE released_on = :day",
        {"day": day, "available": money.AVAILABLE},
    )
    money_ledger.post_select(
        money.COMMISSION_RELEASED,
        f"commissions:released:{day.isoformat()}",
        """
SELECT a.id AS account_id, -t.amount AS amount
FROM (SELECT beneficiary_kind, beneficiary_id, SUM(amount_fen - reversed_fen) AS amount FROM commissions
      WHERE released_on = :day GROUP BY beneficiary_kind, beneficiary_id) t
JOIN money_accounts a ON a.owner_kind = t.beneficiary_kind AND a.owner_id = t.beneficiary_id AND a.kind = :pending
UNION ALL
SELECT a.id, t.amount
FROM (SELECT beneficiary_kind, beneficiary_id, SUM(amount_fen - reversed_fen) AS amount FROM commissions
      WHERE released_on = :day GROUP BY beneficiary_kind, beneficiary_id) t
JOIN money_accounts a ON a.owner_kind = t.beneficiary_kind AND a.owner_id = t.beneficiary_id AND a.kind = :available
""",
        {"day": day, "pending": money.PENDING, "available": money.AVAILABLE},
        actor,
        business_day=day,
    )
    _net_debts(actor, f"release:{day.isoformat()}", day)
    return released


def _net_debts(actor: str, key: str, day: date | None, owners: list[tuple[str, str]] | None = None) -> None:
    debt = MoneyAccount.__table__.alias("debt")
    available = MoneyAccount.__table__.alias("available")
    query = (
        select(debt.c.owner_kind, debt.c.owner_id)
        .join(
            available,
            and_(
                available.c.owner_kind == debt.c.owner_kind,
                available.c.owner_id == debt.c.owner_id,
                available.c.kind == money.AVAILABLE,
            ),
        )
        .where(debt.c.kind == money.DEBT, debt.c.balance < 0, available.c.balance > 0)
        .order_by(debt.c.owner_kind, debt.c.owner_id)
    )
    if owners is not None:
        query = query.where(debt.c.owner_id.in_([owner_id for _, owner_id in owners]))
    for owner_kind, owner_id in db.session.execute(query).all():
        money_ledger.net_debt(owner_kind, owner_id, actor, f"net:{key}:{owner_kind}:{owner_id}", day)


def management_notice(day: date) -> str:
    """The notice every statement carries while management commission (团队计酬) is on, or was on the day:
    who acknowledged the risk and in what words; empty when it is off."""
    versions = set(
        db.session.scalars(
            select(Commission.policy_version)
            .where(Commission.business_day == day, Commission.role == rules.MANAGEMENT)
            .distinct()
        )
    )
    current = policy_row()
    if current.management_enabled:
        versions.add(current.version)
    acknowledged = db.session.scalars(
        select(CommissionPolicy)
        .where(CommissionPolicy.version.in_(versions), CommissionPolicy.management_enabled)
        .order_by(CommissionPolicy.version.desc())
    ).first()
    if acknowledged is None:
        return ""
    return _(
        "Management commission (团队计酬) is switched on (policy version %(version)s); %(who)s acknowledged "
        "the legal risk: %(text)s",
        version=acknowledged.version,
        who=acknowledged.management_ack_by,
        text=acknowledged.management_ack_text,
    )


def day_fee_fen(day: date) -> dict[str, int]:
    """Each merchant's service fee the money ledger took into the platform's fee income for ``day``."""
    rows = db.session.execute(
        select(MoneyAccount.owner_id, func.sum(MoneyEntry.amount))
        .join(MoneyEntry, MoneyEntry.account_id == MoneyAccount.id)
        .join(MoneyTransaction, MoneyTransaction.id == MoneyEntry.transaction_id)
        .where(
            MoneyAccount.kind == money.MERCHANT_FEE_PAYABLE,
            MoneyTransaction.kind == money.SERVICE_FEES,
            MoneyTransaction.business_day == day,
        )
        .group_by(MoneyAccount.owner_id)
    )
    return {merchant_id: -int(total) for merchant_id, total in rows if total}


def day_commission_fen(day: date) -> dict[str, int]:
    """Each merchant's commission line for ``day``: what its payable account moved in the day's transactions."""
    rows = db.session.execute(
        select(MoneyAccount.owner_id, func.sum(MoneyEntry.amount))
        .join(MoneyEntry, MoneyEntry.account_id == MoneyAccount.id)
        .join(MoneyTransaction, MoneyTransaction.id == MoneyEntry.transaction_id)
        .where(
            MoneyAccount.owner_kind == money.MERCHANT,
            MoneyAccount.kind == money.MERCHANT_COMMISSION_PAYABLE,
            MoneyTransaction.business_day == day,
        )
        .group_by(MoneyAccount.owner_id)
    )
    return {merchant_id: -int(total) for merchant_id, total in rows if total}


def post_service_fees(day: date, fees: dict[str, int], actor: str) -> None:
    """The day's service fees into the platform's fee income (each merchant's fee payable −, income +)."""
    postings = [
        money.Posting(money_ledger.account(money.MERCHANT, merchant_id, money.MERCHANT_FEE_PAYABLE), -fee)
        for merchant_id, fee in sorted(fees.items())
        if fee
    ]
    if postings:
        income = money_ledger.alliance_account(money.FEE_INCOME)
        postings.append(money.Posting(income, -sum(posting.amount for posting in postings)))
        money_ledger.post(money.SERVICE_FEES, f"fees:{day.isoformat()}", postings, actor, business_day=day)


def close_day(day: date, start: datetime, end: datetime, actor: str) -> dict[str, int]:
    """The day closing's commission work (inside settlement.close_day): earn, release; the commission lines."""
    earn_day(day, start, end, actor)
    release_day(day, actor)
    return day_commission_fen(day)


# --- refunds and flags ----------------------------------------------------------------------------------


def _current_day(now: datetime | None = None) -> date:
    settings = get_settings()
    return business_day_of(now or utcnow(), settings.timezone, settings.business_day_cutoff_hour)


def _adjust(
    actor: str,
    commissions: list[tuple[Commission, int]],
    kind: str,
    key: str,
    day: date,
    refund_id: str | None = None,
    sale_id: str | None = None,
) -> None:
    """Take back ``delta`` of each commission: from pending to its funder, or into debt if already available."""
    postings: list[money.Posting] = []
    touched = []
    for commission, delta in commissions:
        if delta <= 0:
            continue
        funder = (
            money_ledger.account(money.MERCHANT, commission.merchant_id, money.MERCHANT_COMMISSION_PAYABLE)
            if commission.funded_by == "merchant"
            else money_ledger.alliance_account(money.FEE_INCOME)
        )
        owner = (commission.beneficiary_kind, commission.beneficiary_id)
        if commission.status == CommissionStatus.AVAILABLE:
            source = money_ledger.account(*owner, money.DEBT)
            touched.append(owner)
        else:
            source = money_ledger.account(*owner, money.PENDING)
        postings += money.transfer(source, funder, delta)
    if not postings:
        return
    posted = money_ledger.post(
        money.COMMISSION_CLAWBACK if touched else money.COMMISSION_REVERSED,
        key,
        postings,
        actor,
        business_day=day,
        sale_id=sale_id,
        refund_id=refund_id,
    )
    if not posted.posted:
        return
    for commission, delta in commissions:
        if delta <= 0:
            continue
        was_available = commission.status == CommissionStatus.AVAILABLE
        commission.reversed_fen += delta
        if commission.status == CommissionStatus.PENDING and commission.reversed_fen >= commission.amount_fen:
            commission.status = CommissionStatus.REVERSED
        db.session.add(
            CommissionAdjustment(
                commission_id=commission.id,
                kind="clawback" if was_available else kind,
                refund_id=refund_id,
                amount_fen=-delta,
                business_day=day,
                transaction_id=posted.transaction_id,
            )
        )
    if touched:
        _net_debts(actor, key, day, touched)


def _sale_commissions(sale_id: str) -> list[Commission]:
    return list(
        db.session.scalars(
            select(Commission).where(Commission.sale_id == sale_id).order_by(Commission.id).with_for_update()
        )
    )


def lock_for_refund(sale_id: str) -> None:
    """Before a refund locks its sale: while the sale's day is open, wait for (and hold) that day's commission
    lock, so its closing either sees the refund or has committed before it (and no lock is taken in the
    opposite order: the closing holds the day's lock and then reads the sales)."""
    created_at = db.session.scalar(select(Sale.created_at).where(Sale.id == sale_id))
    if created_at is None:
        return
    settings = get_settings()
    sale_day = business_day_of(created_at, settings.timezone, settings.business_day_cutoff_hour)
    if db.session.get(SettlementDay, sale_day) is None:
        lock_day(sale_day)


def on_refund(actor: str, sale: Sale, refund: Refund) -> None:
    """A refund's share of the sale's commissions, cumulatively exact (called by the refund pipeline after
    ``lock_for_refund``)."""
    found = _sale_commissions(sale.id)
    changes = [
        (c, rules.reversed_total(c.amount_fen, sale.refunded_fen, sale.payable_fen) - c.reversed_fen) for c in found
    ]
    _adjust(actor, changes, "refund", f"refund:{refund.id}:commissions", _current_day(), refund.id, sale.id)


def _take_back_sale(actor: str, sale_id: str, kind: str, key: str, day: date) -> None:
    found = _sale_commissions(sale_id)
    _adjust(actor, [(c, c.amount_fen - c.reversed_fen) for c in found], kind, key, day, sale_id=sale_id)


def reverse_for_flag(actor: str, flag_id: str) -> None:
    """A confirmed anti-brushing flag takes back every commission of its sales (called by the review)."""
    from server.services.brushing import flag_sale_ids

    for sale_id in flag_sale_ids([flag_id]).get(flag_id, []):
        _take_back_sale(actor, sale_id, "brushing", f"brushing:{flag_id}:{sale_id}", _current_day())


# --- queries ---------------------------------------------------------------------------------------------

MAX_LISTED = 500


def period_range(period: str) -> tuple[date, date]:
    try:
        year, month = (int(part) for part in period.split("-"))
        first = date(year, month, 1)
    except (ValueError, TypeError):
        raise InvalidRequest("A period is a month, YYYY-MM.", field="period") from None
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    return first, nxt - timedelta(days=1)


def filter_commissions(query, filters: dict):
    """``query`` narrowed by agent, member, sale, merchant, status, role, period (YYYY-MM) or day range."""
    if filters.get("agent_id"):
        query = query.where(Commission.beneficiary_kind == "agent", Commission.beneficiary_id == filters["agent_id"])
    if filters.get("member_id"):
        query = query.where(Commission.beneficiary_kind == "member", Commission.beneficiary_id == filters["member_id"])
    for name in ("sale_id", "merchant_id", "status", "role"):
        if filters.get(name):
            query = query.where(getattr(Commission, name) == filters[name])
    if filters.get("period"):
        first, last = period_range(filters["period"])
        query = query.where(Commission.business_day >= first, Commission.business_day <= last)
    if filters.get("day_from"):
        query = query.where(Commission.business_day >= filters["day_from"])
    if filters.get("day_to"):
        query = query.where(Commission.business_day <= filters["day_to"])
    return query


def list_commissions(filters: dict, limit: int = MAX_LISTED, offset: int = 0) -> list[Commission]:
    """Commission entries, newest day first."""
    query = filter_commissions(select(Commission), filters)
    return list(
        db.session.scalars(
            query.order_by(Commission.business_day.desc(), Commission.id.desc()).limit(limit).offset(offset)
        )
    )


@transactional
def page_commissions(filters: dict, pagination) -> list[Commission]:
    """One page of commission entries (the API's list), newest day first."""
    query = filter_commissions(select(Commission), filters)
    return _page_of_objects(query.order_by(Commission.business_day.desc(), Commission.id.desc()), pagination)


@transactional
def policy_document() -> dict:
    """The current policy as the API and the console show it, with the merchants' overrides and the warning."""
    row = policy_row()
    policy = _row_policy(row)
    merchants = sorted(set(policy.merchant_rates) | set(policy.merchant_windows))
    return {
        "version": row.version,
        **{name: getattr(row, name) for name in POLICY_FIELDS},
        "management_ack_text": row.management_ack_text,
        "management_ack_by": row.management_ack_by,
        "management_warning": MANAGEMENT_WARNING,
        "merchant_terms": [
            {
                "merchant_id": merchant_id,
                "rate_bp": policy.merchant_rates.get(merchant_id),
                "return_window_days": policy.merchant_windows.get(merchant_id),
            }
            for merchant_id in merchants
        ],
        "reason": row.reason,
        "created_by": row.created_by,
        "created_at": row.created_at,
    }


@dataclass(frozen=True)
class ReportRow:
    """One group of the operator's commission report."""

    agent_id: str
    agent_name: str
    level: str
    region: str
    role: str
    entries: int
    amount_fen: int
    reversed_fen: int

    @property
    def net_fen(self) -> int:
        return self.amount_fen - self.reversed_fen


def report(filters: dict) -> list[ReportRow]:
    """Commissions by agent (with level and region) and role: entries, amount, reversed, net."""
    region = (
        select(AgentTerritory.agent_id, func.min(AgentTerritory.region_code).label("region"))
        .group_by(AgentTerritory.agent_id)
        .subquery()
    )
    query = (
        select(
            Commission.beneficiary_id,
            Agent.name,
            AgentLevel.name,
            func.coalesce(region.c.region, ""),
            Commission.role,
            func.count(),
            func.sum(Commission.amount_fen),
            func.sum(Commission.reversed_fen),
        )
        .join(Agent, Agent.id == Commission.beneficiary_id)
        .join(AgentLevel, AgentLevel.id == Agent.level_id)
        .outerjoin(region, region.c.agent_id == Agent.id)
        .where(Commission.beneficiary_kind == "agent")
        .group_by(Commission.beneficiary_id, Agent.name, AgentLevel.name, region.c.region, Commission.role)
        .order_by(Agent.name, Commission.role)
    )
    query = filter_commissions(query, filters)
    return [
        ReportRow(agent_id, name, level, region_code, role, int(count), int(amount or 0), int(rev or 0))
        for agent_id, name, level, region_code, role, count, amount, rev in db.session.execute(query)
    ]


def audit_rows(filters: dict) -> list[dict]:
    """For a regulator: every entry with beneficiary, role, depth, base, rate, policy version, amounts."""
    query = filter_commissions(
        select(Commission, Sale.receipt_no).join(Sale, Sale.id == Commission.sale_id), filters
    ).order_by(Commission.business_day, Commission.id)
    return [
        {
            "entry_id": commission.id,
            "business_day": commission.business_day.isoformat(),
            "sale_id": commission.sale_id,
            "receipt_no": receipt_no,
            "merchant_id": commission.merchant_id,
            "beneficiary_kind": commission.beneficiary_kind,
            "beneficiary_id": commission.beneficiary_id,
            "role": commission.role,
            "depth": commission.depth,
            "base_fen": commission.base_fen,
            "rate_bp": commission.rate_bp,
            "policy_version": commission.policy_version,
            "amount_fen": commission.amount_fen,
            "reversed_fen": commission.reversed_fen,
            "net_fen": commission.amount_fen - commission.reversed_fen,
            "status": commission.status,
            "funded_by": commission.funded_by,
        }
        for commission, receipt_no in db.session.execute(query)
    ]


@dataclass(frozen=True)
class Balance:
    """An agent's commission money: pending, available, paid, debt (≤ 0) and what it may withdraw now."""

    agent_id: str
    pending_fen: int
    available_fen: int
    paid_fen: int
    debt_fen: int
    withdrawable_fen: int


@transactional
def agent_balance_now(agent_id: str) -> Balance:
    """The agent's balances, in a transaction of its own (the API)."""
    return agent_balance(agent_id)


def agent_balance(agent_id: str) -> Balance:
    """The agent's balances from the money ledger."""
    if db.session.get(Agent, agent_id) is None:
        raise NotFound("No such agent.", agent_id=agent_id)
    found = money_ledger.balances(money.AGENT, agent_id)
    return Balance(
        agent_id=agent_id,
        pending_fen=found[money.PENDING],
        available_fen=found[money.AVAILABLE],
        paid_fen=found[money.PAID],
        debt_fen=found[money.DEBT],
        withdrawable_fen=money.withdrawable(found[money.AVAILABLE], found[money.DEBT]),
    )


def statement_entries(merchant_id: str, day: date) -> list[dict]:
    """The commission lines of a merchant's statement for ``day``: each entry earned at its closing and each
    adjustment (refund, clawback, flag) recorded that day; they sum to the statement's commission line."""
    lines = []
    earned = db.session.execute(
        select(Commission, Sale.receipt_no)
        .join(Sale, Sale.id == Commission.sale_id)
        .where(
            Commission.merchant_id == merchant_id, Commission.business_day == day, Commission.funded_by == "merchant"
        )
        .order_by(Commission.id)
    )
    for commission, receipt_no in earned:
        if commission.earned_fen:
            lines.append(
                {"commission": commission, "receipt_no": receipt_no, "fen": commission.earned_fen, "kind": "earned"}
            )
    adjusted = db.session.execute(
        select(CommissionAdjustment, Commission, Sale.receipt_no)
        .join(Commission, Commission.id == CommissionAdjustment.commission_id)
        .join(Sale, Sale.id == Commission.sale_id)
        .where(
            Commission.merchant_id == merchant_id,
            CommissionAdjustment.business_day == day,
            Commission.funded_by == "merchant",
        )
        .order_by(CommissionAdjustment.id)
    )
    for adjustment, commission, receipt_no in adjusted:
        lines.append(
            {"commission": commission, "receipt_no": receipt_no, "fen": adjustment.amount_fen, "kind": adjustment.kind}
        )
    return lines
