"""Adapters against local stand-ins (SMS provider, WeChat OAuth), shared Redis limits, PostgreSQL replays."""

from __future__ import annotations

import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlparse

import pytest

from server.extensions import db
from server.member.wechat import WechatError, WechatOAuth
from server.models import SmsMessage
from server.notifications.sms import HttpSmsSender, SmsDeliveryFailed, dispatch_pending
from server.services import member_codes, member_login
from tests.builders import make_world
from tests.live_server import live_server
from tests.member.support import code_at, last_login_code, register_phone
from tests.resources import unavailable
from tests.stand_in import stand_in


def test_http_sms_sender_against_a_provider_stand_in(app, ctx):
    answers = iter([(503, {"error": "busy"}), (200, {"message_id": "m-42"})])
    with stand_in(lambda *request: next(answers)) as (url, seen):
        app.config.update(SMS_SENDER="http", SMS_HTTP_URL=url + "/send", SMS_HTTP_KEY="k-secret", SMS_SIGN="幸福街")
        try:
            make_world()
            member_login.request_login_code("13800001111")
            db.session.commit()
            assert dispatch_pending() == 0  # 503: kept for a retry
            assert dispatch_pending() == 1
        finally:
            app.config.update(SMS_SENDER="log", SMS_HTTP_URL="", SMS_HTTP_KEY="", SMS_SIGN="")
    message = db.session.scalars(db.select(SmsMessage)).one()
    assert (message.status, message.provider_message_id, message.attempts) == ("sent", "m-42", 2)
    method, path, _, body, headers = seen[-1]
    sent = json.loads(body)
    assert (method, path, headers["Authorization"]) == ("POST", "/send", "Bearer k-secret")
    assert sent["phone"] == "13800001111" and sent["sign"] == "幸福街" and "验证码" in sent["text"]
    with pytest.raises(SmsDeliveryFailed):
        HttpSmsSender("http://127.0.0.1:9/none", "k", timeout=2).send("13800001111", "x")


def wechat_stand_in(method, path, query, body, headers):
    """Answers like api.weixin.qq.com/sns/oauth2/access_token (errors come with HTTP 200)."""
    if path != "/sns/oauth2/access_token" or query.get("appid") != ["wx123"] or query.get("secret") != ["s3cret"]:
        return 200, {"errcode": 40013, "errmsg": "invalid appid"}
    if query.get("code") == ["good-code"]:
        return 200, {
            "access_token": "ACCESS",
            "expires_in": 7200,
            "refresh_token": "REFRESH",
            "openid": "oOPENID-1",
            "scope": "snsapi_base",
        }
    return 200, {"errcode": 40029, "errmsg": "invalid code"}


def test_wechat_oauth_adapter_and_login_flow(app, client):
    with stand_in(wechat_stand_in) as (api_base, _):
        oauth = WechatOAuth("wx123", "s3cret", api_base)
        assert oauth.openid_for_code("good-code") == "oOPENID-1"
        with pytest.raises(WechatError) as refused:
            oauth.openid_for_code("stale")
        assert refused.value.errcode == 40029
        url = oauth.authorize_url("https://shop.example/m/wechat/callback", "st", "snsapi_userinfo")
        assert url.endswith("#wechat_redirect") and "appid=wx123" in url and "scope=snsapi_userinfo" in url

        app.config.update(WECHAT_APP_ID="wx123", WECHAT_APP_SECRET="s3cret", WECHAT_API_BASE=api_base)
        try:
            with app.app_context():
                make_world()
                login = register_phone("13800002222")
                db.session.remove()
            start = client.get("/m/wechat/start")
            state = parse_qs(urlparse(start.headers["Location"]).query)["state"][0]
            unbound = client.get(f"/m/wechat/callback?code=good-code&state={state}")
            assert unbound.headers["Location"].endswith("/m/login")  # phone must be verified once
            with app.app_context():
                member_login.request_login_code("13800002222")
                code = last_login_code("13800002222")
                db.session.remove()
            page = client.get("/m/login")
            csrf = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', page.data).group(1).decode()
            logged = client.post("/m/login", data={"phone": "13800002222", "code": code, "csrf_token": csrf})
            assert logged.headers["Location"].endswith("/m/card")
            client.post("/m/logout", data={"csrf_token": csrf})
            state = parse_qs(urlparse(client.get("/m/wechat/start").headers["Location"]).query)["state"][0]
            bound = client.get(f"/m/wechat/callback?code=good-code&state={state}")
            assert bound.headers["Location"].endswith("/m/card")  # WeChat alone logs in now
            session_token = re.search(r"member_session=([^;]+)", bound.headers.get("Set-Cookie", "")).group(1)
            with app.app_context():  # the session is a new device of the member who verified the phone
                assert member_codes.device_for_session(session_token).member_id == login.member.id
                db.session.remove()
            state = parse_qs(urlparse(client.get("/m/wechat/start").headers["Location"]).query)["state"][0]
            refused_login = client.get(f"/m/wechat/callback?code=stale&state={state}")
            assert refused_login.headers["Location"].endswith("/m/login")
            assert login.member.id
        finally:
            app.config.update(WECHAT_APP_ID="", WECHAT_APP_SECRET="", WECHAT_API_BASE="https://api.weixin.qq.com")


def test_rate_limits_shared_through_redis_between_workers(database):
    import redis

    try:
        redis.Redis.from_url("redis://127.0.0.1:6379").ping()
    except redis.RedisError as exc:
        unavailable(f"Redis not reachable at 127.0.0.1:6379: {exc}")
    from server.ratelimit import RateLimited, enforce, limiter

    first, second = (database.make_app(RATELIMIT_STORAGE_URI="redis://127.0.0.1:6379") for _ in range(2))
    phone = f"1390000{int(time.time() * 1000) % 10_000:04d}"
    # the Redis is shared with other test runs: this run's keys carry its own prefix, and a reset
    # deletes only those (another user's keys survive it)
    shared = redis.Redis.from_url("redis://127.0.0.1:6379")
    prefix = first.config["RATELIMIT_STORAGE_OPTIONS"]["key_prefix"]
    someone_else = f"alliance-test-someone-else-{phone}:LIMITER/alliance/login_code:phone"
    shared.set(someone_else, 1, ex=60)
    try:
        with first.test_request_context():
            limiter.reset()
            enforce("login_code:phone", phone)
        with second.test_request_context(), pytest.raises(RateLimited):
            enforce("login_code:phone", phone)  # the other worker saw the first request
        ours = shared.keys(f"{prefix}:*")
        assert ours and all(b"/alliance/login_code:phone/" in key for key in ours)
        with first.test_request_context():
            limiter.reset()
        assert shared.keys(f"{prefix}:*") == [] and shared.exists(someone_else)
    finally:
        shared.delete(someone_else)
        with first.test_request_context():
            limiter.reset()


@pytest.mark.postgres
def test_same_code_presented_concurrently_succeeds_once_on_postgres(pg_app):
    import requests

    with pg_app.app_context():
        world = make_world()
        login = register_phone("13800003333")
        db.session.remove()
    code = code_at(login, time.time())
    with live_server(pg_app) as base:
        shops = [world.shop_a, world.shop_b] * 4

        def present(shop):
            return requests.post(f"{base}/api/v1/identify", json={"code": code}, headers=shop.auth, timeout=20)

        with ThreadPoolExecutor(len(shops)) as pool:
            answers = list(pool.map(present, shops))
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200] + [409] * (len(shops) - 1), [a.text for a in answers]
    assert {a.json()["error"] for a in answers if a.status_code == 409} == {"code_used"}
