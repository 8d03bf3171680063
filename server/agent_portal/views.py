"""Agent portal pages: thin views that check the session, call one service and render a template."""

from __future__ import annotations

import re
import secrets
from functools import wraps

from flask import Response, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFError, validate_csrf
from werkzeug.exceptions import HTTPException
from wtforms import ValidationError

from server.agent_portal.blueprint import bp
from server.agent_portal.forms import ConfirmForm, HandoutForm, LoginForm, WithdrawalForm
from server.api.base import error_response
from server.domain.agent_network import (
    ACTIVATED_CARDS,
    ACTIVE_DAYS,
    ACTIVE_RECRUITED_MEMBERS,
    ACTIVE_SUBORDINATES,
    HEALTH_SCORE,
    MERCHANTS_WITH_SALES,
    SERVICED_GMV_FEN,
)
from server.domain.errors import DomainError
from server.domain.identifiers import mask_mobile, normalize_mobile
from server.domain.statuses import AgentStatus
from server.extensions import api
from server.notifications.sms import send_now
from server.ratelimit import RateLimited, enforce
from server.request_input import UnacceptableInput
from server.services import (
    agent_badges,
    agent_login,
    agent_portal,
    agent_statements,
    benefit_consignment,
    benefit_handouts,
    recruitment,
    withdrawals,
)
from server.services.alliance import get_settings

SESSION_COOKIE = "agent_session"
METRIC_NAMES = {  # evaluation figures → what the agent reads
    SERVICED_GMV_FEN: _l("Serviced consumption"),
    ACTIVE_RECRUITED_MEMBERS: _l("Recruited members who consumed"),
    ACTIVATED_CARDS: _l("Cards activated"),
    ACTIVE_DAYS: _l("Active days"),
    MERCHANTS_WITH_SALES: _l("Merchants with sales"),
    ACTIVE_SUBORDINATES: _l("Active direct subordinates"),
    HEALTH_SCORE: _l("Health score"),
}
MONEY_METRICS = {SERVICED_GMV_FEN}
REASONS = {  # evaluation reasons → why, in words
    "upgraded": _l("The figures met the next level's conditions: up one level."),
    "fast_track": _l("The figures exceeded the next level for consecutive periods: fast track."),
    "upgrade_blocked_by_health": _l("The figures qualified for a higher level, but the health score was too low."),
    "lowest_level": _l("Already at the lowest level."),
    "protected_after_upgrade": _l("Conditions not met, but the level is protected after a recent upgrade."),
    "grace_period": _l("Conditions not met: a grace period before any downgrade."),
    "downgraded": _l("Conditions not met beyond the grace period: down one level."),
    "conditions_met": _l("The level's conditions were met: level kept."),
}
OUTCOMES = {"upgraded": _l("Upgraded"), "downgraded": _l("Downgraded"), "kept": _l("Kept")}
ALERT_KINDS = {
    "figure_drop": _l("Serviced consumption fell over the last two weeks"),
    "health_low": _l("Health score below the alert threshold"),
}
STATUS_NAMES = {
    "applied": _l("Applied"),
    "active": _l("Active"),
    "suspended": _l("Suspended"),
    "terminated": _l("Terminated"),
}
ERROR_TEXT = {  # stable error codes → what the agent reads
    "login_code_invalid": lambda: _("The verification code is wrong or has expired."),
    "forbidden": lambda: _("No active agent has this phone number. Please contact the operator."),
    "invalid_request": lambda: _("Please check what you entered."),
    "rate_limited": lambda: _("Too many attempts. Please wait a moment and try again."),
    "not_found": lambda: _("Not found."),
    "withdrawal_refused": None,  # the rule's own message (below)
    "conflict": None,
}
HTTP_ERROR_PAGES = {  # status → (title, text)
    404: lambda: (_("Page not found"), _("There is nothing at this address. It may have moved or been mistyped.")),
    405: lambda: (_("Page not found"), _("There is nothing at this address. It may have moved or been mistyped.")),
    500: lambda: (_("Something went wrong"), _("Please try again in a moment.")),
}


def portal_error_text(error: DomainError) -> str:
    """What the agent reads for a refused request."""
    text = ERROR_TEXT.get(error.code, ERROR_TEXT["invalid_request"])
    return _(error.message) if text is None else text()


def _json_endpoint() -> bool:
    return request.path.startswith(f"{bp.url_prefix}/api/")


def _message(title: str, text: str, status: int, headers: dict | None = None):
    return render_template("agent_portal/message.html", title=title, text=text), status, headers or {}


BENEFIT_CODE_LABELS = {
    "issued": _l("With you"),
    "redeemed": _l("Redeemed"),
    "void": _l("Void"),
    "expired": _l("Expired"),
}


@bp.before_request
def load_agent():
    """The agent of the session cookie (if it may still sign in)."""
    g.agent = agent_login.agent_for_session(request.cookies.get(SESSION_COOKIE, ""))


@bp.after_request
def page_headers(response: Response) -> Response:
    """No caching of the portal's pages by proxies, no framing."""
    if response.mimetype == "text/html":
        response.headers["Cache-Control"] = "private, no-store"
        response.headers["X-Frame-Options"] = "DENY"
    return response


@bp.context_processor
def portal_helpers():
    """Names of figures, reasons, outcomes and alert kinds for the portal's templates."""
    return {
        "METRIC_NAMES": METRIC_NAMES,
        "MONEY_METRICS": MONEY_METRICS,
        "REASONS": REASONS,
        "OUTCOMES": OUTCOMES,
        "ALERT_KINDS": ALERT_KINDS,
        "AGENT_STATUS_NAMES": STATUS_NAMES,
    }


@bp.errorhandler(RateLimited)
def rate_limited_page(error: RateLimited):
    """Pages get a readable page, JSON endpoints the API error shape; both with Retry-After."""
    headers = {"Retry-After": str(error.retry_after)}
    if _json_endpoint():
        return error_response("rate_limited", "Too many requests; try again later.", 429, {}, headers)
    return _message(_("Please wait"), ERROR_TEXT["rate_limited"](), 429, headers)


@bp.errorhandler(UnacceptableInput)
def unacceptable_input(error: UnacceptableInput):
    """Text no page accepts (NUL, a broken character): a readable page, the API's shape for /a/api/."""
    if _json_endpoint():
        return error_response(error.code, error.message, error.status, error.details)
    return _message(_("Please try again"), ERROR_TEXT["invalid_request"](), error.status)


@bp.errorhandler(CSRFError)
def csrf_failed(error):
    """A form from another site or an expired page."""
    return _message(_("Please try again"), _("The page expired. Please try again."), 400)


@bp.route("/<path:unknown>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def unknown_page(unknown):
    """A mistyped portal address gets the portal's 404 page."""
    abort(404)


@bp.errorhandler(HTTPException)
def http_error_page(error: HTTPException):
    """Errors under /a/ as portal pages in the agent's language."""
    if _json_endpoint():
        return api.handle_http_exception(error)
    status = error.code or 500
    title, text = HTTP_ERROR_PAGES.get(status if status < 500 else 500, HTTP_ERROR_PAGES[404])()
    if status < 500 and status not in HTTP_ERROR_PAGES:
        title, text = _("Please try again"), ERROR_TEXT["invalid_request"]()
    return _message(title, text, status)


@bp.errorhandler(DomainError)
def domain_error_page(error: DomainError):
    """A refusal that a view did not turn into a message on its own page."""
    if _json_endpoint():
        return api.handle_domain_error(error)
    title = HTTP_ERROR_PAGES[404]()[0] if error.status == 404 else _("Please try again")
    return _message(title, portal_error_text(error), error.status)


def login_required(view):
    """Pages for signed-in agents; others go to the sign-in page."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if g.agent is None:
            return redirect(url_for("agent_portal.login", next=request.path))
        g.read_only = g.agent.status == AgentStatus.SUSPENDED
        return view(*args, **kwargs)

    return wrapper


@bp.route("/")
def home():
    """My level when signed in, else the sign-in page."""
    return redirect(url_for("agent_portal.level" if g.agent else "agent_portal.login"))


@bp.route("/api/login-code", methods=["POST"])
def send_login_code():
    """Text a one-time code (JSON; CSRF token in the X-CSRFToken header); the same answer for any phone."""
    try:
        validate_csrf(request.headers.get("X-CSRFToken", ""))
    except ValidationError:
        return error_response("csrf_failed", "The page expired; reload it.", 400)
    body = request.get_json(silent=True)
    mobile = normalize_mobile(str(body.get("phone", "") if isinstance(body, dict) else ""))
    enforce("login_code:ip", get_remote_address())  # the members' limits: one budget per phone and address
    enforce("login_code:phone", mobile)
    message_id = agent_login.request_login_code(mobile)
    if message_id is not None:
        send_now(message_id)
    return {"sent": True, "masked_phone": mask_mobile(mobile), "resend_after": 60}


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Sign in with phone number and one-time code."""
    form = LoginForm()
    if form.validate_on_submit():
        enforce("login:ip", get_remote_address())
        enforce("login:phone", normalize_mobile(form.phone.data))
        try:
            signed_in = agent_login.log_in(form.phone.data, form.code.data)
        except DomainError as error:
            flash(portal_error_text(error), "error")
        else:
            target = request.args.get("next", "")
            response = redirect(target if target.startswith("/a/") else url_for("agent_portal.level"))
            response.set_cookie(
                SESSION_COOKIE,
                signed_in.session_token,
                max_age=agent_login.session_days() * 86400,
                httponly=True,
                samesite="Lax",
                secure=request.is_secure,
                path="/a",
            )
            return response
    elif request.method == "POST":
        if form.csrf_token.errors:
            return csrf_failed(None)
        flash(_("Please enter your mobile number and the 6-digit code."), "error")
    return render_template("agent_portal/login.html", form=form, alliance=get_settings())


@bp.route("/logout", methods=["POST"])
def logout():
    """Sign out: this session and any other the agent opened before end."""
    if ConfirmForm().validate_on_submit():
        agent_login.log_out(request.cookies.get(SESSION_COOKIE, ""))
    response = redirect(url_for("agent_portal.login"))
    response.delete_cookie(SESSION_COOKIE, path="/a")
    return response


@bp.route("/level")
@login_required
def level():
    """My level, its badge and terms, and my progress on every dimension towards the next level."""
    return render_template(
        "agent_portal/level.html",
        view=agent_portal.overview(g.agent),
        badges=agent_portal.badges(g.agent),
        awarded=agent_badges.badges_of(g.agent.id),
        logout_form=ConfirmForm(),
    )


@bp.route("/evaluations")
@login_required
def evaluations():
    """My evaluations, latest first, with every figure and why the level moved or stayed."""
    return render_template("agent_portal/evaluations.html", rows=agent_portal.evaluations(g.agent))


@bp.route("/merchants")
@login_required
def merchants():
    """The merchants I service and their sales totals (per day this month, per month)."""
    return render_template("agent_portal/merchants.html", rows=agent_portal.merchant_sales(g.agent))


@bp.route("/members")
@login_required
def members():
    """Members I recruited: masked, and whether they consumed."""
    total, rows = agent_portal.recruited_members(g.agent)
    return render_template("agent_portal/members.html", total=total, rows=rows, shown=agent_portal.MEMBERS_SHOWN)


@bp.route("/cards")
@login_required
def cards():
    """Cards consigned to me and what became of them: bound to members (activated), their sales."""
    return render_template("agent_portal/cards.html", rows=recruitment.consignments_to(g.agent.id))


@bp.route("/benefits")
@login_required
def benefits():
    """Benefit codes consigned to me (masked: the last four), what I owe for them, and where they were redeemed."""
    return render_template(
        "agent_portal/benefits.html",
        consignments=benefit_consignment.consignment_outcomes(g.agent.id),
        codes=benefit_consignment.agent_benefit_stock(g.agent.id),
        status_labels=BENEFIT_CODE_LABELS,
        form=HandoutForm(formdata=None, request_key=secrets.token_hex(16)),
        handouts=benefit_handouts.handouts(g.agent.id),
        read_only=g.read_only,
    )


@bp.route("/benefits/<consignment_id>/hand-out", methods=["POST"])
@login_required
def hand_out_benefit(consignment_id):
    """Give one code of my consignment to a member, or record that I sold it (the price I collected)."""
    form = HandoutForm()
    if g.read_only:
        flash(_("Your agent account is suspended: nothing can be changed."), "error")
    elif not form.validate_on_submit():
        flash(_("Please check what you entered."), "error")
    else:
        try:
            benefit_handouts.hand_out(
                g.agent.id, consignment_id, form.phone.data, form.request_key.data, form.price.fen
            )
        except DomainError as error:  # no such member, none left: the rule's own message
            flash(_(error.message) if error.code in ("not_found", "conflict") else portal_error_text(error), "error")
        else:
            flash(
                _("Sold: it is in the member's wallet.")
                if form.price.fen is not None
                else _("Given: it is in the member's wallet."),
                "success",
            )
    return redirect(url_for("agent_portal.benefits") + f"#benefit-{consignment_id}")


@bp.route("/team")
@login_required
def team():
    """My direct subordinates' activity (aggregates only)."""
    return render_template("agent_portal/team.html", rows=agent_portal.subordinates(g.agent))


@bp.route("/alerts")
@login_required
def alerts():
    """Early warnings about me and about my direct subordinates."""
    return render_template("agent_portal/alerts.html", rows=agent_portal.alerts(g.agent), me=g.agent)


WITHDRAWAL_STATUS_NAMES = {
    "requested": _l("Waiting for approval"),
    "approved": _l("Approved, being paid"),
    "paid": _l("Paid"),
    "failed": _l("Payout failed, money returned"),
    "rejected": _l("Rejected, money returned"),
}


@bp.route("/money")
@login_required
def money():
    """My commission: pending, available, paid, debt, and every entry (newest first)."""
    return render_template(
        "agent_portal/money.html",
        balances=withdrawals.agent_balances(g.agent.id),
        entries=agent_portal_entries(g.agent.id),
    )


def agent_portal_entries(agent_id: str) -> list[dict]:
    statement = agent_statements.monthly_statement(agent_id, agent_statements_current_period())
    return list(reversed(statement.lines))


def agent_statements_current_period() -> str:
    from server.formatting import local_time
    from server.models.base import utcnow

    return local_time(utcnow(), "yyyy-MM")


@bp.route("/withdrawals", methods=["GET", "POST"])
@login_required
def withdrawals_page():
    """Ask for a withdrawal (the form) and my withdrawals with their state."""
    form = WithdrawalForm()
    if request.method == "GET":
        form.request_key.data = secrets.token_hex(16)
    elif g.read_only:
        flash(_("Your agent account is suspended: nothing can be changed."), "error")
    elif form.validate_on_submit():
        try:
            withdrawals.request_withdrawal(
                f"agent:{g.agent.id}",
                g.agent.id,
                form.amount.fen,
                form.request_key.data,
                channel=form.channel.data,
                payee_name=form.payee_name.data or "",
                account_number=form.account_number.data or "",
                bank=form.bank.data or "",
            )
        except DomainError as error:
            flash(portal_error_text(error), "error")
        else:
            flash(_("Your withdrawal was requested. Finance will review it."), "success")
            return redirect(url_for("agent_portal.withdrawals_page"))
    else:
        flash(_("Please check what you entered."), "error")
    return render_template(
        "agent_portal/withdrawals.html",
        form=form,
        balances=withdrawals.agent_balances(g.agent.id),
        policy=withdrawals.payout_policy(),
        rows=withdrawals.list_withdrawals(agent_id=g.agent.id, limit=50),
        STATUS=WITHDRAWAL_STATUS_NAMES,
    )


@bp.route("/statements")
@login_required
def statements():
    """My monthly statements and yearly tax statements to download."""
    from server.models.base import utcnow

    today = utcnow().date()
    months = []
    year, month = today.year, today.month
    for _step in range(12):
        months.append(f"{year}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return render_template("agent_portal/statements.html", months=months, years=[today.year, today.year - 1])


@bp.route("/statements/<period>.<fmt>")
@login_required
def statement_file(period, fmt):
    """One month's statement with every entry, as CSV or PDF."""
    if fmt not in ("csv", "pdf") or not PERIOD_PATTERN.match(period):
        abort(404)
    statement = agent_statements.monthly_statement(g.agent.id, period)
    data = agent_statements.statement_csv(statement) if fmt == "csv" else agent_statements.statement_pdf(statement)
    return _download(data, fmt, f"statement-{period}.{fmt}")


@bp.route("/tax/<string(length=4):year>.<fmt>")
@login_required
def tax_file(year, fmt):
    """My yearly tax withholding statement, as CSV or PDF."""
    if fmt not in ("csv", "pdf") or not (year.isascii() and year.isdigit() and "2000" <= year <= "2999"):
        abort(404)
    year = int(year)
    statement = agent_statements.tax_statement(g.agent.id, year)
    if fmt == "csv":
        return _download(agent_statements.tax_statement_csv(statement), fmt, f"tax-{year}.csv")
    return _download(agent_statements.tax_statement_pdf(statement, g.agent.name), fmt, f"tax-{year}.pdf")


PERIOD_PATTERN = re.compile(r"^20[0-9]{2}-(0[1-9]|1[0-2])$")


def _download(data: bytes, fmt: str, name: str) -> Response:
    mimetype = "text/csv; charset=utf-8" if fmt == "csv" else "application/pdf"
    return Response(data, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{name}"'})
