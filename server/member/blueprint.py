"""The member pages' blueprint (templates and static files live beside it)."""

from flask import Blueprint

bp = Blueprint("member", __name__, url_prefix="/m", template_folder="templates", static_folder="static")
