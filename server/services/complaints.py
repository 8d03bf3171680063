"""Complaints (against a merchant or an agent) and agents' violations: what the health score counts of them.

A complaint is opened, answered (``responded``) and closed, each with its time; one answered within
``COMPLAINT_RESPONSE_HOURS`` of opening counts as answered in time. A violation is recorded by an operator.
Both count for an agent in the month they were opened or occurred: complaints against the agent itself or
against a merchant it services (``merchants.agent_id``, as the evaluation's serviced figures).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import func, select, union_all

from server.domain.agent_levels import COMPLAINT_RESPONSE_HOURS
from server.domain.errors import Conflict, InvalidRequest, NotFound
from server.domain.statuses import ComplaintStatus
from server.extensions import db
from server.models import Agent, AgentViolation, Complaint, Merchant
from server.models.base import utcnow
from server.services.audit import audit
from server.services.queries import _page_of_objects, _where_equal
from server.services.unit_of_work import transactional


def _agent(agent_id: str) -> Agent:
    agent = db.session.get(Agent, agent_id)
    if agent is None:
        raise InvalidRequest("No such agent.", field="agent_id")
    return agent


@transactional
def open_complaint(
    actor: str,
    summary: str,
    merchant_id: str | None = None,
    agent_id: str | None = None,
    opened_at: datetime | None = None,
) -> Complaint:
    """Record a complaint against a merchant, an agent, or both."""
    if not merchant_id and not agent_id:
        raise InvalidRequest("A complaint is against a merchant or an agent.", field="merchant_id")
    if merchant_id and db.session.get(Merchant, merchant_id) is None:
        raise InvalidRequest("No such merchant.", field="merchant_id")
    if agent_id:
        _agent(agent_id)
    now = utcnow()
    if opened_at is not None and opened_at > now:
        raise InvalidRequest("The time may not be in the future.", field="opened_at")
    complaint = Complaint(
        merchant_id=merchant_id,
        agent_id=agent_id,
        summary=summary.strip(),
        opened_at=opened_at or now,
        recorded_by=actor,
        status=ComplaintStatus.OPEN,
    )
    db.session.add(complaint)
    db.session.flush()
    audit(actor, "complaint.open", "complaint", complaint.id, merchant_id=merchant_id, agent_id=agent_id)
    return complaint


def get_complaint(complaint_id: str) -> Complaint:
    complaint = db.session.get(Complaint, complaint_id)
    if complaint is None:
        raise NotFound("Complaint not found.")
    return complaint


@transactional
def update_complaint(actor: str, complaint_id: str, status: str, response: str | None = None) -> Complaint:
    """Answer (``responded``, with the response) or close a complaint; the times are kept."""
    complaint = get_complaint(complaint_id)
    now = utcnow()
    if complaint.status == ComplaintStatus.CLOSED:
        raise Conflict("This complaint is closed.")
    if status == ComplaintStatus.RESPONDED:
        if not (response or "").strip():
            raise InvalidRequest("An answer needs its text.", field="response")
        if complaint.status != ComplaintStatus.OPEN:
            raise Conflict("This complaint has already been answered.")
        complaint.response, complaint.responded_at = response.strip(), now
    elif status == ComplaintStatus.CLOSED:
        if response and response.strip() and not complaint.response:
            complaint.response = response.strip()
            complaint.responded_at = complaint.responded_at or now
        complaint.closed_at = now
    else:
        raise InvalidRequest("A complaint is answered or closed.", field="status")
    complaint.status = status
    audit(actor, f"complaint.{status}", "complaint", complaint.id)
    return complaint


def list_complaints(filters: dict, pagination) -> list[Complaint]:
    """Complaints by status, merchant and agent, newest first."""
    query = _where_equal(select(Complaint), Complaint, filters, ("status", "merchant_id", "agent_id"))
    return _page_of_objects(query.order_by(Complaint.opened_at.desc(), Complaint.id), pagination)


@transactional
def record_violation(
    actor: str, agent_id: str, description: str, occurred_at: datetime | None = None
) -> AgentViolation:
    """Record an agent's violation (it counts against the agent's health score in its month)."""
    _agent(agent_id)
    now = utcnow()
    if occurred_at is not None and occurred_at > now:
        raise InvalidRequest("The time may not be in the future.", field="occurred_at")
    violation = AgentViolation(
        agent_id=agent_id, description=description.strip(), occurred_at=occurred_at or now, recorded_by=actor
    )
    db.session.add(violation)
    db.session.flush()
    audit(actor, "agent.violation", "agent", agent_id, violation=violation.id, description=violation.description)
    return violation


def list_violations(filters: dict, pagination) -> list[AgentViolation]:
    """Violations by agent, newest first."""
    query = _where_equal(select(AgentViolation), AgentViolation, filters, ("agent_id",))
    return _page_of_objects(query.order_by(AgentViolation.occurred_at.desc(), AgentViolation.id), pagination)


def complaint_figures(start: datetime, end: datetime) -> dict[str, dict[str, int]]:
    """Per agent: complaints opened in ``[start, end)`` against it or a merchant it services, and how many of
    them were answered within ``COMPLAINT_RESPONSE_HOURS``."""
    in_time = timedelta(hours=COMPLAINT_RESPONSE_HOURS)
    in_period = (Complaint.opened_at >= start, Complaint.opened_at < end)
    against = union_all(
        select(Complaint.id, Complaint.agent_id.label("agent_id")).where(Complaint.agent_id.is_not(None), *in_period),
        select(Complaint.id, Merchant.agent_id.label("agent_id"))
        .join(Merchant, Merchant.id == Complaint.merchant_id)
        .where(Merchant.agent_id.is_not(None), *in_period),
    ).subquery()
    query = select(against.c.agent_id, against.c.id, Complaint.opened_at, Complaint.responded_at).join(
        Complaint, Complaint.id == against.c.id
    )
    figures: dict[str, dict[str, int]] = defaultdict(lambda: {"complaints": 0, "complaints_answered_in_time": 0})
    seen = set()  # a complaint against an agent and its merchant counts once for that agent
    for agent_id, complaint_id, opened_at, responded_at in db.session.execute(query):
        if (agent_id, complaint_id) in seen:
            continue
        seen.add((agent_id, complaint_id))
        figures[agent_id]["complaints"] += 1
        if responded_at is not None and responded_at - opened_at <= in_time:
            figures[agent_id]["complaints_answered_in_time"] += 1
    return dict(figures)


def violations_by_agent(start: datetime, end: datetime) -> dict[str, int]:
    """Violations per agent that occurred in ``[start, end)``."""
    query = (
        select(AgentViolation.agent_id, func.count())
        .where(AgentViolation.occurred_at >= start, AgentViolation.occurred_at < end)
        .group_by(AgentViolation.agent_id)
    )
    return {agent_id: int(count) for agent_id, count in db.session.execute(query)}
