"""The agent portal's blueprint (templates, static files and its own translation catalog live beside it)."""

from flask import Blueprint

from server.i18n import use_area_catalog

bp = Blueprint("agent_portal", __name__, url_prefix="/a", template_folder="templates", static_folder="static")
use_area_catalog(bp, "agent_portal")  # the portal's words win over other areas' on its pages
