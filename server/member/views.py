"""Member pages: thin views that check the session, call one service and render a template."""

from __future__ import annotations

import base64
import json
import secrets
from functools import wraps
from pathlib import Path

from flask import (
    Response,
    abort,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    send_from_directory,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFError, validate_csrf
from werkzeug.exceptions import HTTPException
from wtforms import ValidationError

from server.api.base import error_response
from server.domain.benefit_channels import normalize_birthday
from server.domain.errors import BenefitSecondFactorRequired, DomainError, LoginCodeInvalid, NotFound
from server.domain.identifiers import mask_mobile, normalize_mobile
from server.extensions import api
from server.member.blueprint import bp
from server.member.forms import BindCardForm, CloseAccountForm, ConfirmForm, LoginForm, LostCardForm, RegisterForm
from server.models.base import utcnow
from server.notifications.sms import send_now
from server.ratelimit import RateLimited, enforce
from server.replica import reading_replica
from server.request_input import UnacceptableInput
from server.services import (
    benefit_grants,
    benefit_wallet,
    member_codes,
    member_login,
    member_portal,
    posters,
    recruitment,
    third_party_redemptions,
)
from server.services.alliance import get_settings
from server.services.catalog import TRADES, get_merchant

SESSION_COOKIE = "member_session"
DEVICE_COOKIE = "mdev"
ERROR_TEXT = {  # stable error codes → what the member reads
    "login_code_invalid": lambda: _("The verification code is wrong or has expired."),
    "member_not_found": lambda: _("No member has this phone number yet. Please register first."),
    "member_frozen": lambda: _("Your membership is frozen. Please contact the alliance's customer service."),
    "invalid_request": lambda: _("Please check what you entered."),
    "conflict": lambda: _("This cannot be done now."),
    "card_check_failed": lambda: _("The card number and check code do not match."),
    "card_blocked": lambda: _("This card is blocked."),
    "not_found": lambda: _("Not found."),
    "rate_limited": lambda: _("Too many attempts. Please wait a moment and try again."),
    "card_already_bound": lambda: _("This card is already bound to a member."),
    "card_not_issued": lambda: _("This cannot be done now."),
}


def member_error_text(error: DomainError) -> str:
    """What the member reads for a refused request."""
    if error.code == "conflict" and error.details.get("field") == "phone":
        return _("This phone number is already registered. Please log in.")
    if error.code == "conflict" and error.details.get("field") == "card_kind":
        return _("The e-card cannot be reported lost. If you lost your phone, please contact customer service.")
    return ERROR_TEXT.get(error.code, ERROR_TEXT["invalid_request"])()


@bp.before_request
def load_member():
    """The member of the session cookie (if any) and a device id for per-device rate limits."""
    g.device = member_codes.device_for_session(request.cookies.get(SESSION_COOKIE, ""))
    g.device_cookie = request.cookies.get(DEVICE_COOKIE) or secrets.token_urlsafe(12)


@bp.after_request
def page_headers(response: Response) -> Response:
    """Device cookie, no caching of personal pages by proxies, no framing."""
    device_cookie = g.get("device_cookie")  # unset when the request was refused before load_member
    if device_cookie and request.cookies.get(DEVICE_COOKIE) != device_cookie:
        response.set_cookie(DEVICE_COOKIE, device_cookie, max_age=5 * 365 * 86400, httponly=True, samesite="Lax")
    if response.mimetype == "text/html":
        response.headers["Cache-Control"] = "private, no-store"
        response.headers["X-Frame-Options"] = "DENY"
    return response


@bp.errorhandler(RateLimited)
def rate_limited_page(error: RateLimited):
    """Pages get a readable page, JSON endpoints the API error shape; both with Retry-After."""
    headers = {"Retry-After": str(error.retry_after)}
    if request.path.startswith("/m/api/"):
        return error_response("rate_limited", "Too many requests; try again later.", 429, {}, headers)
    return (
        render_template("member/message.html", title=_("Please wait"), text=ERROR_TEXT["rate_limited"]()),
        429,
        headers,
    )


@bp.errorhandler(UnacceptableInput)
def unacceptable_input(error: UnacceptableInput):
    """Text no page accepts (NUL, a broken character): a readable page, the API's shape for /m/api/."""
    if request.path.startswith("/m/api/"):
        return error_response(error.code, error.message, error.status, error.details)
    text = ERROR_TEXT["invalid_request"]()
    return render_template("member/message.html", title=_("Please try again"), text=text), error.status


@bp.errorhandler(CSRFError)
def csrf_failed(error):
    """A form from another site or an expired page."""
    text = _("The page expired. Please try again.")
    return render_template("member/message.html", title=_("Please try again"), text=text), 400


HTTP_ERROR_PAGES = {  # status → (title, text) of the page a member reads
    404: lambda: (_("Page not found"), _("There is nothing at this address. It may have moved or been mistyped.")),
    405: lambda: (_("Page not found"), _("There is nothing at this address. It may have moved or been mistyped.")),
    500: lambda: (_("Something went wrong"), _("Please try again in a moment.")),
}


def _json_endpoint() -> bool:
    """The pages' own JSON calls (``/m/api/...``) answer in the API's error shape, as the page script expects."""
    return request.path.startswith(f"{bp.url_prefix}/api/")


@bp.route("/<path:unknown>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def unknown_page(unknown):
    """A mistyped member address gets the member pages' 404 page, not the API's JSON."""
    abort(404)


@bp.errorhandler(HTTPException)
def http_error_page(error: HTTPException):
    """Errors under /m/ as member pages in the member's language."""
    if _json_endpoint():
        return api.handle_http_exception(error)
    status = error.code or 500
    title, text = HTTP_ERROR_PAGES.get(status if status < 500 else 500, HTTP_ERROR_PAGES[404])()
    if status < 500 and status not in HTTP_ERROR_PAGES:
        title, text = _("Please try again"), ERROR_TEXT["invalid_request"]()
    return render_template("member/message.html", title=title, text=text), status


@bp.errorhandler(DomainError)
def domain_error_page(error: DomainError):
    """A refusal that a view did not turn into a message on its own page."""
    if _json_endpoint():
        return api.handle_domain_error(error)
    title = HTTP_ERROR_PAGES[404]()[0] if error.status == 404 else _("Please try again")
    return render_template("member/message.html", title=title, text=member_error_text(error)), error.status


def login_required(view):
    """Pages for logged-in members; others go to the login page."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if g.device is None:
            return redirect(url_for("member.login", next=request.path))
        return view(*args, **kwargs)

    return wrapper


def start_session(login: member_login.MemberLogin, target: str):
    """Redirect to ``target`` with the new device's session cookie (also used by the WeChat callback)."""
    response = redirect(target)
    response.set_cookie(
        SESSION_COOKIE,
        login.session_token,
        max_age=current_app.config["MEMBER_SESSION_DAYS"] * 86400,
        httponly=True,
        samesite="Lax",
        secure=request.is_secure,
        path="/m",
    )
    session.pop("wechat_openid", None)
    return response


def _submitted(form) -> bool:
    """True when this (prefixed) form was posted and is valid, CSRF included."""
    return any(name.startswith(form._prefix) for name in request.form) and form.validate_on_submit()


@bp.route("/")
def home():
    """My card when logged in, else the login page."""
    return redirect(url_for("member.card" if g.device else "member.login"))


@bp.route("/api/login-code", methods=["POST"])
def send_login_code():
    """Send a one-time code by SMS (JSON; CSRF token in the X-CSRFToken header)."""
    try:
        validate_csrf(request.headers.get("X-CSRFToken", ""))
    except ValidationError:
        return error_response("csrf_failed", "The page expired; reload it.", 400)
    body = request.get_json(silent=True) or {}
    mobile = normalize_mobile(str(body.get("phone", "")))
    enforce("login_code:ip", get_remote_address())
    enforce("login_code:device", g.device_cookie)
    enforce("login_code:phone", mobile)
    send_now(member_login.request_login_code(mobile))
    return {"sent": True, "masked_phone": mask_mobile(mobile), "resend_after": 60}


def _login_or_register(form, register: bool):
    enforce("login:ip", get_remote_address())
    enforce("login:phone", normalize_mobile(form.phone.data))  # one key however the number was typed
    return member_login.log_in(
        form.phone.data,
        form.code.data,
        register=register,
        consent=bool(getattr(form, "consent", None) and form.consent.data),
        poster_token=getattr(form, "m", None) and form.m.data,
        invite_token=getattr(form, "i", None) and form.i.data,
        agent_token=getattr(form, "agent", None) and form.agent.data,
        device_label=request.user_agent.string,
        wechat_openid=session.get("wechat_openid"),
    )


@bp.route("/join", methods=["GET", "POST"])
def join():
    """Register from a poster QR code (?m=<poster token> records the recruiting merchant)."""
    form = RegisterForm()
    if request.method == "GET":
        form.m.data = request.args.get("m", "")
        form.i.data = request.args.get("i", "")
        form.agent.data = request.args.get("agent", "")
    merchant_id = posters.poster_merchant(form.m.data)
    merchant_name = get_merchant(merchant_id).name if merchant_id else None
    if form.validate_on_submit():
        try:
            login = _login_or_register(form, register=True)
        except DomainError as error:
            flash(member_error_text(error), "error")
        else:
            flash(_("Welcome! You are now a member."), "success")
            return start_session(login, url_for("member.card"))
    elif request.method == "POST":
        if form.csrf_token.errors:
            return csrf_failed(None)
        flash(_("Please fill in every field and agree to the privacy terms."), "error")
    return render_template("member/join.html", form=form, merchant_name=merchant_name, alliance=get_settings())


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Log in with phone number and one-time code."""
    form = LoginForm()
    if form.validate_on_submit():
        try:
            login_result = _login_or_register(form, register=False)
        except DomainError as error:
            flash(member_error_text(error), "error")
        else:
            target = request.args.get("next", "")
            return start_session(login_result, target if target.startswith("/m/") else url_for("member.card"))
    elif request.method == "POST":
        if form.csrf_token.errors:
            return csrf_failed(None)
        flash(_("Please enter your mobile number and the 6-digit code."), "error")
    return render_template("member/login.html", form=form, alliance=get_settings())


@bp.route("/logout", methods=["POST"])
def logout():
    """End this phone's session; its codes stop working."""
    form = ConfirmForm()
    if form.validate_on_submit():
        member_login.log_out(request.cookies.get(SESSION_COOKIE, ""))
    response = redirect(url_for("member.login", logged_out=1))
    response.delete_cookie(SESSION_COOKIE, path="/m")
    return response


@bp.route("/card")
@login_required
def card():
    """My card: level, points, card number and the dynamic code (computed on the phone)."""
    device = g.device
    member_login.touch_device(device.id)
    view = member_portal.card_view(device.member_id)
    code_config = {
        "prefix": get_settings().member_code_prefix,
        "index": device.code_index,
        "secret": base64.b64encode(member_codes.device_secret(device)).decode(),
        "serverTime": int(member_codes.now() * 1000),
        "device": device.id,
    }
    return render_template(
        "member/card.html",
        view=view,
        progress=member_portal.level_progress(view),
        expiry=member_portal.points_expiry(device.member_id),
        code_config=json.dumps(code_config),
        logout_form=ConfirmForm(),
        alliance=get_settings(),
    )


@bp.route("/history")
@login_required
def history():
    """Progress to the next level, when points expire, sales, refunds and points movements."""
    view = member_portal.card_view(g.device.member_id)
    with reading_replica():  # lag-tolerant: the page says how far behind it is
        history = member_portal.history(view.member.id)
    return render_template(
        "member/history.html",
        history=history,
        view=view,
        progress=member_portal.level_progress(view),
    )


@bp.route("/sales/<sale_id>")
@login_required
def sale_receipt(sale_id):
    """The e-receipt a member opens from the QR code on the paper receipt."""
    try:
        receipt = member_portal.sale_receipt(g.device.member_id, sale_id)
    except NotFound:
        abort(404)
    return render_template("member/receipt.html", receipt=receipt)


@bp.route("/receipts/<receipt_no>")
@login_required
def receipt_by_number(receipt_no):
    """The e-receipt of a paper receipt printed before the sale reached the server (its QR names the number)."""
    try:
        sale_id = member_portal.sale_id_by_receipt(g.device.member_id, receipt_no)
    except NotFound:
        abort(404)
    return redirect(url_for(".sale_receipt", sale_id=sale_id))


@bp.route("/merchants")
@login_required
def merchants():
    """Alliance merchants with what my level pays, searchable by trade, area and name."""
    trade, region, text = request.args.get("trade", ""), request.args.get("region", ""), request.args.get("q", "")
    view = member_portal.card_view(g.device.member_id)
    return render_template(
        "member/merchants.html",
        rows=member_portal.merchants_for_member(view.level, trade, region, text),
        trades=TRADES,
        regions=member_portal.merchant_regions(),
        chosen={"trade": trade, "region": region, "q": text},
        view=view,
    )


@bp.route("/invite")
@login_required
def invite():
    """My invite link and its QR code (裂变分享): friends who join through it are recorded as mine."""
    member_id = g.device.member_id
    base = current_app.config.get("PUBLIC_BASE_URL") or request.url_root
    link = recruitment.join_link(base, invite=recruitment.invite_token(member_id))
    settings = get_settings()
    return render_template(
        "member/invite.html",
        link=link,
        qr=base64.b64encode(recruitment.qr_png(link)).decode(),
        friends=recruitment.invited_friends(member_id),
        reward=settings.invite_reward_points_per_yuan,
        reward_days=settings.invite_reward_days,
    )


@bp.route("/cards", methods=["GET", "POST"])
@login_required
def cards():
    """Bind a physical card (number + check code) and report a card lost."""
    member_id = g.device.member_id
    bind_form, lost_form = BindCardForm(prefix="bind"), LostCardForm(prefix="lost")
    if request.method == "POST":
        try:
            if _submitted(bind_form):
                enforce("card_bind:member", member_id)
                bound = member_portal.bind_physical_card(member_id, bind_form.card_no.data, bind_form.check_code.data)
                flash(_("Card %(card_no)s is now yours.", card_no=bound.card_no), "success")
                return redirect(url_for("member.cards"))
            if _submitted(lost_form):
                lost = member_portal.report_my_card_lost(member_id, lost_form.card_no.data)
                flash(_("Card %(card_no)s is reported lost and blocked.", card_no=lost.card_no), "success")
                return redirect(url_for("member.cards"))
            flash(_("Please check what you entered."), "error")
        except DomainError as error:
            flash(member_error_text(error), "error")
    return render_template(
        "member/cards.html", view=member_portal.card_view(member_id), bind_form=bind_form, lost_form=lost_form
    )


@bp.route("/privacy", methods=["GET", "POST"])
@login_required
def privacy():
    """What is stored about me, export it, close my account."""
    member_id = g.device.member_id
    close_form = CloseAccountForm(prefix="close")
    if request.method == "POST" and _submitted(close_form):
        forfeited = member_portal.close_account(member_id)  # its SMS goes out with the dispatch-sms job
        response = make_response(
            render_template(
                "member/message.html",
                title=_("Account closed"),
                text=_("Your account is closed; %(points)s points were forfeited.", points=forfeited),
            )
        )
        response.delete_cookie(SESSION_COOKIE, path="/m")
        return response
    if request.method == "POST":
        flash(_("Tick the box to confirm that your points will be forfeited."), "error")
    return render_template(
        "member/privacy.html",
        view=member_portal.card_view(member_id),
        export_form=ConfirmForm(prefix="export"),
        close_form=close_form,
        devices=member_portal.active_devices(member_id),
    )


@bp.route("/privacy/export", methods=["POST"])
@login_required
def export():
    """Download everything stored about me as JSON."""
    form = ConfirmForm(prefix="export")
    if not form.validate_on_submit():
        return redirect(url_for("member.privacy"))
    data = member_portal.export_my_data(g.device.member_id)
    stamp = utcnow().strftime("%Y%m%d")
    return Response(
        json.dumps(data, ensure_ascii=False, indent=2),
        mimetype="application/json",
        headers={"Content-Disposition": f'attachment; filename="my-data-{stamp}.json"', "Cache-Control": "no-store"},
    )


@bp.route("/terms")
def terms():
    """The privacy terms members agree to."""
    return render_template("member/terms.html", alliance=get_settings())


@bp.route("/sw.js")
def service_worker():
    """The service worker that keeps the card page and its scripts available offline."""
    response = send_from_directory(bp.static_folder, "sw.js", mimetype="text/javascript", max_age=0)
    response.headers["Service-Worker-Allowed"] = "/m/"
    return response


@bp.route("/vendor/qrious.min.js")
def qrious_js():
    """The QRious QR-code encoder, served from the js.qrious package (installed from PyPI, not vendored)."""
    from importlib.util import find_spec

    # Locate the package without importing it (its __init__ pulls in fanstatic, which we do not use).
    folder = Path(find_spec("js.qrious").submodule_search_locations[0]) / "resources"
    return send_from_directory(folder, "qrious.min.js", mimetype="text/javascript", max_age=7 * 86400)


@bp.route("/benefits")
@login_required
def benefits():
    """My benefit wallet: what I hold, where I can use it, when it expires; campaigns to claim; points exchange."""
    member_id = g.device.member_id
    return render_template(
        "member/benefits.html",
        wallet=benefit_wallet.wallet(member_id),
        campaigns=benefit_grants.campaigns_for_member(member_id),
        offers=benefit_grants.exchange_offers(member_id),
        view=member_portal.card_view(member_id),
        form=ConfirmForm(),
        request_id=secrets.token_urlsafe(12),
        birthday=benefit_grants.birthday_of(member_id),
    )


@bp.route("/benefits/birthday", methods=["POST"])
@login_required
def set_birthday():
    """Record my birthday (month and day) for the birthday gift; once (customer service corrects it)."""
    form = ConfirmForm()
    if not form.validate_on_submit():
        return csrf_failed(None)
    try:
        birth_md = normalize_birthday(request.form.get("birthday", ""))
    except ValueError:
        birth_md = None
    if birth_md is None:
        flash(_("Please enter your birthday as month and day, e.g. 03-15."), "error")
        return redirect(url_for("member.benefits"))
    try:
        benefit_grants.set_birthday(f"member:{g.device.member_id}", g.device.member_id, birth_md, once=True)
    except DomainError:
        flash(_("Your birthday is recorded already. Customer service can correct it."), "error")
    else:
        flash(_("Birthday saved. A gift awaits you on the day."), "success")
    return redirect(url_for("member.benefits"))


@bp.route("/api/benefits/<code_id>/reveal", methods=["POST"])
@login_required
def reveal_benefit(code_id):
    """One code in full on the member's tap (JSON; CSRF token in the X-CSRFToken header; audited)."""
    try:
        validate_csrf(request.headers.get("X-CSRFToken", ""))
    except ValidationError:
        return error_response("csrf_failed", "The page expired; reload it.", 400)
    enforce("benefit_reveal:member", g.device.member_id)
    return benefit_wallet.reveal(g.device.member_id, code_id)


@bp.route("/api/benefits/<code_id>/voucher-code", methods=["POST"])
@login_required
def voucher_code(code_id):
    """A dynamic voucher's next one-time code (JSON; CSRF token in the X-CSRFToken header), every 30 seconds."""
    try:
        validate_csrf(request.headers.get("X-CSRFToken", ""))
    except ValidationError:
        return error_response("csrf_failed", "The page expired; reload it.", 400)
    enforce("voucher_code:member", g.device.member_id)
    return benefit_wallet.dynamic_code(g.device.member_id, code_id)


@bp.route("/benefits/<code_id>/used", methods=["POST"])
@login_required
def mark_benefit_used(code_id):
    """I used this third-party code with its supplier: it moves to my used benefits."""
    form = ConfirmForm()
    if not form.validate_on_submit():
        return csrf_failed(None)
    try:
        third_party_redemptions.mark_used_by_member(g.device.member_id, code_id)
    except DomainError:
        flash(_("This benefit can no longer be marked as used."), "error")
    else:
        flash(_("Marked as used."), "success")
    return redirect(url_for("member.benefits"))


def _origin() -> dict:
    """Where a claim on the member's page comes from: the device and the IP address (their budgets apply)."""
    return {"device": g.device.id, "ip": get_remote_address()}


def _claim_code_page(sku_id: str, action: str, request_id: str = "", send: bool = True):
    """The page asking for the SMS code of a high-value claim; texts a new code first when ``send``."""
    if send:
        enforce("benefit_claim_code:member", g.device.member_id)
        send_now(benefit_grants.send_claim_code(g.device.member_id, sku_id))
        flash(_("This benefit is valuable: we sent a verification code to your phone."), "success")
    return render_template(
        "member/benefit_code.html",
        sku=benefit_grants.get_sku(sku_id),
        action=action,
        request_id=request_id,
        form=ConfirmForm(),
    )


def _claim_with_code(claim, sku_id: str | None, action: str, request_id: str = ""):
    """Run a claim from the member's page (campaign or points), asking for the SMS code when it needs one."""
    form = ConfirmForm()
    if not form.validate_on_submit():
        return csrf_failed(None)
    sms_code = (request.form.get("sms_code") or "").strip()[:16] or None
    try:
        claim(sms_code)
    except BenefitSecondFactorRequired as error:
        return _claim_code_page(error.details["sku_id"], action, request_id)
    except LoginCodeInvalid:
        flash(_("The verification code is wrong or has expired."), "error")
        return _claim_code_page(sku_id, action, request_id, send=False), 422
    except DomainError as error:
        flash(benefit_error_text(error), "error")
    else:
        flash(_("Claimed! It is in your wallet."), "success")
    return redirect(url_for("member.benefits"))


@bp.route("/benefits/campaigns/<campaign_id>/claim", methods=["POST"])
@login_required
def claim_benefit(campaign_id):
    """Claim one benefit of a campaign (活动); a high-value one needs the SMS code sent to the member."""
    member_id = g.device.member_id
    enforce("benefit_claim:member", member_id)
    campaign = benefit_grants.campaign_of(campaign_id)

    def claim(sms_code):
        benefit_grants.claim(member_id, campaign_id, origin=_origin(), sms_code=sms_code, second_factor=True)

    return _claim_with_code(
        claim, campaign.sku_id if campaign else None, url_for("member.claim_benefit", campaign_id=campaign_id)
    )


@bp.route("/benefits/exchange/<sku_id>", methods=["POST"])
@login_required
def exchange_benefit(sku_id):
    """Spend points for a benefit (the form's request id makes a double tap one exchange)."""
    member_id, request_id = g.device.member_id, request.form.get("request_id", "")[:64]

    def claim(sms_code):
        benefit_grants.exchange_points(
            member_id, sku_id, request_id, origin=_origin(), sms_code=sms_code, second_factor=True
        )

    return _claim_with_code(claim, sku_id, url_for("member.exchange_benefit", sku_id=sku_id), request_id)


def benefit_error_text(error: DomainError) -> str:
    """What the member reads when a claim or an exchange is refused."""
    texts = {
        "benefit_budget_exhausted": lambda: _("This campaign has given out everything it had."),
        "benefit_out_of_stock": lambda: _("This benefit is out of stock for now."),
        "insufficient_points": lambda: _("You do not have enough points."),
        "benefit_limit_reached": lambda: _("Too many benefits were claimed from here for now. Please try later."),
    }
    if error.code == "benefit_not_eligible":
        if error.details.get("reason") == "member_limit":
            return _("You have claimed as many as this campaign allows.")
        return _("This campaign is not open to you.")
    return texts.get(error.code, lambda: member_error_text(error))()
