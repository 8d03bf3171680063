"""Benefit anti-fraud: budgets per member, device, IP, terminal and merchant; failed lookups; velocity alerts.

The counters live in PostgreSQL (``benefit_counters``), not in the rate limiter's storage: a claim or a
redemption takes its budget in its own transaction, so a claim that fails later (no stock, not eligible)
gives the count back with its rollback, and the count is exact under any concurrency. One statement takes
a request's counts for all its subjects and periods (each row with the budget in force, 0: none)::

    INSERT INTO benefit_counters (…, count, budget, …) VALUES (…, 1, :budget0, …), (…), …
    ON CONFLICT (action, subject_kind, subject, period)
    DO UPDATE SET count = benefit_counters.count + 1, budget = excluded.budget, …
    WHERE excluded.budget = 0 OR benefit_counters.count < excluded.budget
    RETURNING subject_kind, period, count

PostgreSQL takes the row lock and re-checks the ``WHERE`` against the newest row, so with a budget of 3 the
fourth of fifty simultaneous claims gets no row back and is refused (``BenefitLimitReached``).

Failed code lookups are counted by :func:`record_failure` in a transaction of their own, after the refused
request rolled back (``benefit_stock.redeem`` does it; a sale that redeems a voucher calls it after its
rollback). When a subject's failures reach their budget, every lookup of that subject is refused with the
same answer as an unknown code for the rest of the period. Rules: ``server/domain/benefit_budgets.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select, text

from server.domain import benefit_alerts as alert_rules
from server.domain import benefit_budgets as rules
from server.domain.errors import BenefitLimitReached, InvalidRequest
from server.extensions import db
from server.hot_sql import HotStatement
from server.models import BenefitCounter
from server.models.base import utcnow
from server.services.alliance import current_settings, get_settings
from server.services.audit import audit
from server.services.benefit_alerts import raise_velocity_alert
from server.services.unit_of_work import transactional

Subjects = Mapping[str, str | None]  # subject kind -> value (member id, device id, IP address, terminal id…)


_LIMITS_COPY: list = [None, None]  # (the settings' overrides object it was made from, the limits)


def limits() -> dict[str, int]:
    """The budgets and alert thresholds in force: the defaults with the alliance's overrides (made again only
    when the settings' per-worker copy is read again)."""
    overrides = current_settings().benefit_limits
    if _LIMITS_COPY[0] is not overrides:
        _LIMITS_COPY[:] = [overrides, rules.effective_limits(overrides)]
    return _LIMITS_COPY[1]


def second_factor_fen() -> int:
    """Claims on the member's page of benefits worth this much or more need an SMS code (0: never)."""
    return current_settings().benefit_second_factor_fen


def _periods(now: datetime) -> dict[str, str]:
    return rules.period_keys(now, current_settings().timezone)


_WHEN = BenefitCounter.__table__.c.last_at.type  # the stored form of a moment (UTC, as every column keeps it)
# built once, executed with parameters only: every voucher sale at a till runs them (the same SQL on PostgreSQL
# and SQLite); a budget of 0 is no budget
_READS: dict[tuple[int, int], HotStatement] = {}  # the read of the counts, by (actions, subjects)


def _read_statement(actions: int, subjects: int):
    """The read of the counts of ``actions`` actions of ``subjects`` subjects in two periods (built once per size)."""
    statement = _READS.get((actions, subjects))
    if statement is None:
        action_list = ", ".join(f":action{i}" for i in range(actions))
        subject_list = ", ".join(f":subject{i}" for i in range(subjects))
        statement = _READS[(actions, subjects)] = HotStatement(
            text(
                "SELECT action, subject_kind, subject, period, count FROM benefit_counters "
                f"WHERE action IN ({action_list}) AND subject IN ({subject_list}) AND period IN (:hour, :day)"
            )
        )
    return statement


_COUNTS: dict[int, HotStatement] = {}  # the statement counting n rows at once, by n


def _count_statement(rows: int):
    """``INSERT … VALUES (row 0), (row 1)… ON CONFLICT … DO UPDATE … WHERE under budget RETURNING`` for ``rows``
    rows (built once per size, executed with parameters only; the same SQL on PostgreSQL and SQLite)."""
    statement = _COUNTS.get(rows)
    if statement is None:
        values = ", ".join(
            f"(:action, :kind{i}, :subject{i}, :period{i}, 1, :budget{i}, :now, :now)" for i in range(rows)
        )
        statement = _COUNTS[rows] = HotStatement(
            text(
                "INSERT INTO benefit_counters "
                "(action, subject_kind, subject, period, count, budget, first_at, last_at) "
                f"VALUES {values} "
                "ON CONFLICT (action, subject_kind, subject, period) DO UPDATE "
                "SET count = benefit_counters.count + 1, budget = excluded.budget, last_at = excluded.last_at "
                "WHERE excluded.budget = 0 OR benefit_counters.count < excluded.budget "
                "RETURNING subject_kind, period, count"
            ).bindparams(bindparam("now", type_=_WHEN))
        )
    return statement


def _count(action: str, rows: list[tuple[str, str, str, int]], now: datetime) -> dict[tuple[str, str], int]:
    """Add one to each (kind, subject, period, budget) counter in one statement; the new counts of those that
    were under their budget (0: no budget), by (kind, period). A missing one was refused."""
    if not rows:
        return {}
    values: dict = {"action": action, "now": now}
    for i, (kind, subject, period, budget) in enumerate(rows):
        values |= {f"kind{i}": kind, f"subject{i}": subject, f"period{i}": period, f"budget{i}": budget}
    found = _count_statement(len(rows)).rows(values)  # a hot statement: no ORM work per call
    return {(kind, period): count for kind, period, count in found}


def _alert(action: str, kind: str, subject: str, count: int, hour: str, limits_now: dict[str, int]) -> None:
    threshold = limits_now[rules.alert_key_of(action, rules.HOUR)]
    if rules.alert_reached(count, threshold):
        raise_velocity_alert(alert_rules.velocity(action, kind, subject, count, threshold), hour)


def take(action: str, given: Subjects, now: datetime | None = None) -> None:
    """Count one ``action`` (claim, redeem) for each given subject in this hour and day, within the budgets.

    Flushes only: the caller's transaction owns the counts (a later refusal gives them back). Raises
    ``BenefitLimitReached`` naming the first subject over its budget; raises a velocity alert (once per
    subject and hour) when a count reaches the alert threshold.
    """
    now = now or utcnow()
    limits_now, periods = limits(), _periods(now)
    rows = [  # subjects in a fixed order: concurrent requests lock the same rows in the same order
        (kind, subject, periods[period_name], limits_now[rules.budget_key(action, kind, period_name)])
        for kind, subject in rules.subjects_of(action, given)
        for period_name in rules.PERIODS
    ]
    counted = _count(action, rows, now)
    for kind, _subject, period, _budget in rows:
        if (kind, period) not in counted:
            raise BenefitLimitReached(subject=kind, period=rules.HOUR if period == periods[rules.HOUR] else rules.DAY)
    for kind, subject in rules.subjects_of(action, given):
        _alert(action, kind, subject, counted[(kind, periods[rules.HOUR])], periods[rules.HOUR], limits_now)


def _counts(actions: tuple[str, ...], given: Subjects, now: datetime) -> dict[tuple[str, str, str], int]:
    """The counts of ``actions`` of the given subjects in this hour and day: (action, kind, period) → count."""
    periods = _periods(now)
    subjects = {str(value)[:64]: kind for kind, value in given.items() if value}
    if not subjects:
        return {}
    values = {"hour": periods[rules.HOUR], "day": periods[rules.DAY]}
    values |= {f"action{i}": action for i, action in enumerate(actions)}
    values |= {f"subject{i}": subject for i, subject in enumerate(subjects)}
    found = _read_statement(len(actions), len(subjects)).rows(values)
    return {
        (action, kind, period): count
        for action, kind, subject, period, count in found
        if given.get(kind) is not None and str(given[kind])[:64] == subject
    }


def _over(action: str, given: Subjects, counts: dict, periods: dict[str, str], limits_now: dict[str, int]) -> bool:
    for kind, _subject in rules.subjects_of(action, given):
        for period_name in rules.PERIODS:
            budget = limits_now[rules.budget_key(action, kind, period_name)]
            if budget > 0 and counts.get((action, kind, periods[period_name]), 0) >= budget:
                return True
    return False


def over_budget(action: str, given: Subjects, now: datetime | None = None) -> bool:
    """Whether any given subject already used up its ``action`` budget of this hour or day (a read only)."""
    now = now or utcnow()
    return _over(action, given, _counts((action,), given, now), _periods(now), limits())


def failures_exhausted(given: Subjects, now: datetime | None = None) -> bool:
    """Whether a subject of this lookup failed too often this hour or day: then every lookup is refused."""
    return over_budget(rules.FAILURE, given, now)


def redemption_refused(given: Subjects, now: datetime | None = None) -> bool:
    """Whether a redemption by these subjects is refused before its code is even judged: the member, device,
    terminal or IP address is over its failure budget, or the member / terminal / merchant / IP address over
    its redemption budget. One read, always made (the same work whatever the answer)."""
    now = now or utcnow()
    counts, periods, limits_now = _counts((rules.FAILURE, rules.REDEEM), given, now), _periods(now), limits()
    return _over(rules.FAILURE, given, counts, periods, limits_now) or _over(
        rules.REDEEM, given, counts, periods, limits_now
    )


@transactional
def record_failure(given: Subjects, now: datetime | None = None) -> None:
    """Count one failed code lookup for each given subject (its own transaction: call it after the rollback).

    Failures are always counted (no budget stops the count); reaching the alert threshold raises a velocity
    alert once per subject and hour.
    """
    now = now or utcnow()
    limits_now, periods = limits(), _periods(now)
    rows = [
        (kind, subject, periods[period_name], 0)
        for kind, subject in rules.subjects_of(rules.FAILURE, given)
        for period_name in rules.PERIODS
    ]
    counted = _count(rules.FAILURE, rows, now)
    for kind, subject in rules.subjects_of(rules.FAILURE, given):
        _alert(rules.FAILURE, kind, subject, counted[(kind, periods[rules.HOUR])], periods[rules.HOUR], limits_now)


COUNTERS_KEPT_DAYS = 8  # the day's counters and a week of history for the console


def purge_counters(now: datetime | None = None) -> int:
    """Delete the counters with no activity for ``COUNTERS_KEPT_DAYS`` (the ``purge-benefit-counters`` job):
    their periods are over, no budget reads them again (the job's transaction)."""
    cutoff = (now or utcnow()) - timedelta(days=COUNTERS_KEPT_DAYS)
    result = db.session.execute(BenefitCounter.__table__.delete().where(BenefitCounter.last_at < cutoff))
    return result.rowcount


# --- console ---


def list_counters(action: str | None = None, subject_kind: str | None = None, limit: int = 200) -> list[dict]:
    """The latest counters (newest activity first), each with the budget of its subject and period."""
    query = select(BenefitCounter).order_by(BenefitCounter.last_at.desc()).limit(limit)
    if action:
        query = query.where(BenefitCounter.action == action)
    if subject_kind:
        query = query.where(BenefitCounter.subject_kind == subject_kind)
    limits_now = limits()
    out = []
    for row in db.session.scalars(query):
        period_name = rules.HOUR if "T" in row.period else rules.DAY
        budget = limits_now.get(rules.budget_key(row.action, row.subject_kind, period_name), 0)
        out.append(
            {
                "action": row.action,
                "subject_kind": row.subject_kind,
                "subject": row.subject,
                "period": row.period,
                "period_name": period_name,
                "count": row.count,
                "budget": budget,
                "at_budget": budget > 0 and row.count >= budget,
                "first_at": row.first_at,
                "last_at": row.last_at,
            }
        )
    return out


@transactional
def update_limits(actor: str, values: Mapping[str, int], second_factor: int | None = None) -> dict[str, int]:
    """Set budgets and alert thresholds (only those differing from the defaults are stored); audited."""
    checked = rules.check_limits(values)
    settings = get_settings()
    before = dict(settings.benefit_limits or {})
    stored = {key: value for key, value in checked.items() if value != rules.DEFAULT_LIMITS[key]}
    merged = {key: value for key, value in before.items() if key in rules.DEFAULT_LIMITS and key not in checked}
    settings.benefit_limits = merged | stored
    changes = {"limits": settings.benefit_limits}
    if second_factor is not None:
        if isinstance(second_factor, bool) or not isinstance(second_factor, int) or not 0 <= second_factor <= 10**9:
            raise InvalidRequest("The amount must be whole fen from 0 to 1000000000.", field="second_factor_fen")
        settings.benefit_second_factor_fen = second_factor
        changes["second_factor_fen"] = second_factor
    audit(actor, "benefit_limits.update", "alliance_settings", "1", before=before, **changes)
    return rules.effective_limits(settings.benefit_limits)
