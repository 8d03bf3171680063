"""The append-only audit log: who did what to which object, filtered (read-only)."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_babel import lazy_gettext as _l

from server.console import navigation
from server.console.access import permission_required
from server.console.audit_text import describe
from server.console.paging import page_from_request
from server.services.queries import list_audit_entries

blp = Blueprint("audit", __name__)
navigation.add(navigation.NavItem("console.audit.index", _l("Audit log"), "shield-check", "audit:read", order=90))


@blp.route("/audit")
@permission_required("audit:read")
def index():
    """Audit entries, newest first, by actor, action prefix and object id."""
    filters = {name: request.args.get(name, "").strip() for name in ("actor", "action", "object_id")}
    page = page_from_request(50)
    rows = list_audit_entries(filters, page)
    return render_template("console/audit/index.html", entries=[(row, describe(row)) for row in rows], page=page)
