"""WeChat login for the member pages: the OAuth 2.0 web flow (网页授权) that yields the member's openid.

Settings: ``WECHAT_APP_ID`` and ``WECHAT_APP_SECRET`` of the alliance's official account (公众号),
``WECHAT_API_BASE`` (default https://api.weixin.qq.com) and ``WECHAT_AUTHORIZE_URL``. With no app id the
WeChat button is hidden and members log in with their phone. A new openid is bound to a member after
the member verifies the phone number once; from then on WeChat alone logs the member in.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from urllib.parse import urlencode

import requests
from flask import current_app, flash, redirect, request, session, url_for
from flask_babel import gettext as _

from server.member.blueprint import bp
from server.member.views import start_session
from server.services import member_login

SCOPES = {"snsapi_base", "snsapi_userinfo"}


class WechatError(Exception):
    """WeChat refused or could not be reached; ``errcode`` is WeChat's code (e.g. 40029 invalid code)."""

    def __init__(self, errcode: int, errmsg: str):
        super().__init__(f"{errcode}: {errmsg}")
        self.errcode, self.errmsg = errcode, errmsg


@dataclass(frozen=True)
class WechatOAuth:
    """The web OAuth client of one official account."""

    app_id: str
    app_secret: str
    api_base: str = "https://api.weixin.qq.com"
    authorize_url_base: str = "https://open.weixin.qq.com/connect/oauth2/authorize"
    timeout: float = 10.0

    @classmethod
    def from_config(cls, config) -> WechatOAuth | None:
        """The client from the app settings, or None when WeChat login is not configured."""
        if not config.get("WECHAT_APP_ID"):
            return None
        return cls(
            config["WECHAT_APP_ID"],
            config["WECHAT_APP_SECRET"],
            config["WECHAT_API_BASE"].rstrip("/"),
            config["WECHAT_AUTHORIZE_URL"],
        )

    def authorize_url(self, redirect_uri: str, state: str, scope: str = "snsapi_base") -> str:
        """Where to send the member's browser (inside WeChat) to ask for consent."""
        if scope not in SCOPES:
            raise ValueError(f"scope must be one of {sorted(SCOPES)}")
        query = urlencode(
            {
                "appid": self.app_id,
                "redirect_uri": redirect_uri,
                "response_type": "code",
                "scope": scope,
                "state": state,
            }
        )
        return f"{self.authorize_url_base}?{query}#wechat_redirect"

    def openid_for_code(self, code: str) -> str:
        """Exchange the ``code`` WeChat returned to our redirect for the member's openid."""
        try:
            response = requests.get(
                f"{self.api_base}/sns/oauth2/access_token",
                params={
                    "appid": self.app_id,
                    "secret": self.app_secret,
                    "code": code,
                    "grant_type": "authorization_code",
                },
                timeout=self.timeout,
            )
            body = response.json()
        except (requests.RequestException, ValueError) as exc:
            raise WechatError(-1, f"WeChat unreachable or answered nonsense: {exc}") from exc
        if body.get("errcode"):  # WeChat answers errors with HTTP 200 and {"errcode", "errmsg"}
            raise WechatError(int(body["errcode"]), str(body.get("errmsg", "")))
        if not body.get("openid"):
            raise WechatError(-1, "no openid in WeChat's answer")
        return str(body["openid"])


@bp.route("/wechat/start")
def wechat_start():
    """Send the member to WeChat's consent page."""
    client = WechatOAuth.from_config(current_app.config)
    if client is None:
        return redirect(url_for("member.login"))
    session["wechat_state"] = state = secrets.token_urlsafe(16)
    return redirect(client.authorize_url(url_for("member.wechat_callback", _external=True), state))


@bp.route("/wechat/callback")
def wechat_callback():
    """WeChat's redirect: log in the bound member, or remember the openid until the phone is verified."""
    client = WechatOAuth.from_config(current_app.config)
    expected = session.pop("wechat_state", None)
    if client is None or not expected or not secrets.compare_digest(expected, request.args.get("state", "")):
        flash(_("WeChat login failed. Please log in with your phone."), "error")
        return redirect(url_for("member.login"))
    try:
        openid = client.openid_for_code(request.args.get("code", ""))
    except WechatError as error:
        current_app.logger.warning("WeChat login failed: %s", error)
        flash(_("WeChat login failed. Please log in with your phone."), "error")
        return redirect(url_for("member.login"))
    login = member_login.log_in_with_wechat(openid, request.user_agent.string)
    if login is not None:
        return start_session(login, url_for("member.card"))
    session["wechat_openid"] = openid
    flash(_("Verify your phone number once to link your WeChat."), "info")
    return redirect(url_for("member.login"))
