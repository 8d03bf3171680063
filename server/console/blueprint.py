"""The console blueprint: sign-in gate, CSRF on every POST, HTML error pages, layout context."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError, generate_csrf, validate_csrf
from werkzeug.exceptions import HTTPException
from wtforms.validators import ValidationError

from server.console import access, navigation
from server.console.display import domain_message, init_display
from server.console.paging import invalid_filters
from server.domain.errors import DomainError
from server.i18n import use_area_catalog
from server.services.alliance import get_settings

console = Blueprint(
    "console",
    __name__,
    url_prefix="/console",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)
PUBLIC_ENDPOINTS = {"console.auth.sign_in", "console.auth.second_factor", "console.static"}
# A user who must choose a new password (first sign-in, reset by an admin) may only do that or sign out.
PASSWORD_CHANGE_ENDPOINTS = {"console.account.password", "console.auth.sign_out", "console.static"}
use_area_catalog(console, "console")  # the console's words ("Name" → 名称) win over other areas' on its pages


@console.record_once
def _setup(state):
    init_display(state.app)
    state.app.jinja_env.globals.setdefault("csrf_token", generate_csrf)  # as CSRFProtect would, app-wide


@console.before_request
def require_sign_in():
    """Load the signed-in user; send everyone else to the sign-in page. Check CSRF on every POST."""
    if request.endpoint == "console.static":
        return None
    user = access.signed_in_user()
    g.console_user = user
    g.console_actor = access.actor_for(user) if user else None
    if request.method == "POST" and current_app.config.get("WTF_CSRF_ENABLED", True):
        try:
            validate_csrf(request.form.get("csrf_token"))
        except ValidationError as exc:
            raise CSRFError(exc.args[0] if exc.args else "The CSRF token is missing.") from exc
    if user is None and request.endpoint not in PUBLIC_ENDPOINTS:
        return redirect(url_for("console.auth.sign_in", next=request.full_path.rstrip("?")))
    if user is not None and user.must_change_password and request.endpoint not in PASSWORD_CHANGE_ENDPOINTS:
        return redirect(url_for("console.account.password"))
    return None


CONTENT_SECURITY_POLICY = (  # no scripts at all: the console is plain HTML forms and inline SVG
    "default-src 'self'; script-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


@console.after_request
def no_caching_of_pages(response):
    """Pages show personal and financial data: never cache them, never frame them, run no scripts."""
    if request.endpoint != "console.static":
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
    return response


@console.app_context_processor
def layout_context():
    """What the layout needs on every console page."""
    if not (request.blueprint or "").startswith("console"):
        return {}
    actor = g.get("console_actor")
    try:
        alliance_name = get_settings().name
    except RuntimeError:
        alliance_name = "AllianceCard"
    nav_items = navigation.items_for(actor) if actor else []
    return {
        "nav_items": nav_items,
        "nav_active": navigation.active_item(nav_items, request.endpoint),
        "invalid_filters": invalid_filters,
        "console_user": g.get("console_user"),
        "console_actor": actor,
        "can": access.can,
        "alliance_name": alliance_name,
    }


@console.route("/<path:unknown>")
def unknown_page(unknown):
    """A mistyped console address gets the console's 404 page (after the sign-in), not the API's JSON."""
    abort(404)


@console.errorhandler(CSRFError)
def csrf_refused(error):
    """A POST without the session's CSRF token changes nothing."""
    message = _("The form has expired or did not come from this console. Reload the page and try again.")
    return render_template("console/error.html", status=400, message=message), 400


@console.errorhandler(HTTPException)
def http_error(error: HTTPException):
    """Errors as console pages, not the API's JSON."""
    messages = {
        403: _("You may not open this page."),
        404: _("There is nothing here."),
        405: _("This action is not allowed here."),
    }
    status = error.code or 500
    message = messages.get(status, error.description if status < 500 else _("Something went wrong."))
    headers = [(name, value) for name, value in error.get_headers() if name.lower() != "content-type"]  # Allow
    return render_template("console/error.html", status=status, message=message), status, headers


@console.errorhandler(DomainError)
def domain_error(error: DomainError):
    """A refusal that a view did not turn into a form message."""
    message = _("There is nothing here.") if error.status == 404 else domain_message(error)
    return render_template("console/error.html", status=error.status, message=message), error.status


from server.console.views import register_views  # noqa: E402  (the areas attach to the blueprint above)

register_views(console)
