"""The SMS an early-warning alert sends: to the agent, and to its upper agent naming the subordinate.

Queued through the outbox (``server/notifications/sms.py``) in the transaction that adds the alert, so a
message exists exactly when its alert does: re-running an evaluation adds no alert and so texts no one.
Only agents that may still act on it are texted (active or suspended; never applied or terminated ones).
"""

from __future__ import annotations

from sqlalchemy import select

from alliance_shared.money import format_yuan
from server.domain.statuses import AgentAlertKind, AgentStatus
from server.extensions import db
from server.models import Agent, AgentAlert, SmsMessage
from server.notifications.sms import queue_sms
from server.security.pii import decrypt_phone
from server.services.alliance import get_settings

TEXTED_STATUSES = (AgentStatus.ACTIVE, AgentStatus.SUSPENDED)
TEMPLATES = {AgentAlertKind.FIGURE_DROP: "agent_figure_drop", AgentAlertKind.HEALTH_LOW: "agent_health_low"}


def alert_params(alert: AgentAlert, health_line: int) -> dict:
    """The template parameters of ``alert`` (without whom it is about)."""
    year, month = alert.period.split("-")
    params = {"alliance": get_settings().name, "period": f"{year}年{int(month)}月"}
    if alert.kind == AgentAlertKind.HEALTH_LOW:
        return params | {"score": alert.value_after, "line": health_line}
    before = alert.value_before or 0
    drop = (before - alert.value_after) * 100 // before if before else 0
    return params | {"before": format_yuan(before), "after": format_yuan(alert.value_after), "drop": drop}


def queue_alert_sms(alert: AgentAlert, health_line: int) -> list[SmsMessage]:
    """Queue the alert's texts (no commit): the agent's, then its upper agent's; those not texted are skipped."""
    ids = [alert.agent_id, *([alert.upper_agent_id] if alert.upper_agent_id else [])]
    found = {agent.id: agent for agent in db.session.scalars(select(Agent).where(Agent.id.in_(ids)))}
    agent, params = found[alert.agent_id], alert_params(alert, health_line)
    messages = []
    for recipient_id, subject in ((alert.agent_id, "您"), (alert.upper_agent_id, f"您的下级代理“{agent.name}”")):
        recipient = found.get(recipient_id)
        if recipient is None or recipient.status not in TEXTED_STATUSES:
            continue
        phone = decrypt_phone(recipient.phone_ciphertext)
        messages.append(queue_sms(phone, TEMPLATES[alert.kind], subject=subject, **params))
    return messages
