"""The append-only audit log: who did what to which object, filtered (read-only)."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from server.console import navigation
from server.console.access import permission_required
from server.console.audit_text import describe
from server.console.paging import page_from_request
from server.models import AuditLog
from server.services.queries import paginate

blp = Blueprint("audit", __name__)
navigation.add(navigation.NavItem("console.audit.index", _l("Audit log"), "shield-check", "audit:read", order=90))


@blp.route("/audit")
@permission_required("audit:read")
def index():
    """Audit entries, newest first, by actor, action prefix and object id."""
    query = select(AuditLog)
    actor = request.args.get("actor", "").strip()
    action = request.args.get("action", "").strip()
    object_id = request.args.get("object_id", "").strip()
    if actor:
        query = query.where(AuditLog.actor == actor)
    if action:
        query = query.where(AuditLog.action.startswith(action, autoescape=True))
    if object_id:
        query = query.where(AuditLog.object_id == object_id)
    page = page_from_request(50)
    rows = [row[0] for row in paginate(query.order_by(AuditLog.id.desc()), page)]
    return render_template("console/audit/index.html", entries=[(row, describe(row)) for row in rows], page=page)
