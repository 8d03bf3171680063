"""The operator's acknowledgement of an agent's early-warning alert (once, with a reason, audited)."""

from __future__ import annotations

from server.domain.errors import Conflict, InvalidRequest, NotFound
from server.extensions import db
from server.models import AgentAlert
from server.models.base import utcnow
from server.services.audit import audit
from server.services.unit_of_work import transactional


def get_alert(alert_id: str) -> AgentAlert:
    """An agent alert by id."""
    alert = db.session.get(AgentAlert, alert_id)
    if alert is None:
        raise NotFound("No such agent alert.", alert_id=alert_id)
    return alert


@transactional
def acknowledge_alert(actor: str, alert_id: str, reason: str) -> AgentAlert:
    """Record that the operator has seen and handled ``alert_id``, and why; an alert is acknowledged once."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidRequest("Give the reason.", field="reason")
    alert = get_alert(alert_id)
    if alert.acknowledged_at is not None:
        raise Conflict("This alert is already acknowledged.", alert_id=alert_id)
    alert.acknowledged_at, alert.acknowledged_by, alert.acknowledged_reason = utcnow(), actor, reason
    audit(actor, "agent_alert.acknowledge", "agent", alert.agent_id, alert_id=alert.id, reason=reason)
    return alert
