"""Append a row to the audit log inside the caller's transaction."""

from __future__ import annotations

from server.extensions import db
from server.models import AuditLog


def audit(actor: str, action: str, object_type: str, object_id: str, **details) -> None:
    """Record that ``actor`` did ``action`` to an object (flushed with the change it describes)."""
    db.session.add(AuditLog(actor=actor, action=action, object_type=object_type, object_id=object_id, details=details))


def values_before(obj, fields) -> dict:
    """What ``fields`` of ``obj`` hold now: recorded as ``before=`` on an update, so the log shows each change."""
    return {name: getattr(obj, name) for name in fields if hasattr(obj, name)}
