"""The agent portal (/a/) holds the same input rules as the API and the other pages (server/request_input.py):
bad input answers a readable 4xx page (the API's JSON shape for the page's JSON call), never a 5xx, and
changes nothing. Every portal page is covered, enumerated from the URL map."""

from __future__ import annotations

import re

import pytest

from tests.agent_portal.support import CITY_PHONE, build_network, csrf_from, sign_in
from tests.api.operator_support import snapshot


@pytest.fixture
def network(app):
    return build_network(app)


def portal_urls(app) -> list[str]:
    return sorted(
        re.sub(r"<[^>]+>", "1", rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("agent_portal.") and rule.endpoint != "agent_portal.static"
    )


def assert_refused_page(response, status: int = 422) -> str:
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:300])
    assert response.mimetype == "text/html"
    return response.get_data(as_text=True)


def test_nul_in_the_query_and_path_of_every_portal_page(app, client, network):
    sign_in(app, client, CITY_PHONE)
    before = snapshot(app)
    checked = 0
    for url in portal_urls(app):
        if url.startswith("/a/api/"):
            continue
        response = client.get(url, query_string={"q": "13912345678\x00", "next": "\x00"})
        assert_refused_page(response)
        checked += 1
    assert checked >= 8
    assert "请检查" in assert_refused_page(client.get("/a/level%00"))
    assert snapshot(app) == before


def test_bad_sign_in_input_never_fails_the_server(app, client, network):
    before = snapshot(app)
    token = csrf_from(client.get("/a/login").get_data(as_text=True))
    form = {"csrf_token": token, "phone": "13912345678\x00", "code": "123456"}
    assert_refused_page(client.post("/a/login", data=form))
    for phone, code in (("", ""), ("x" * 5000, "1"), ("13600136100", "abcdef"), ("１３６００１３６１００", "123456")):
        response = client.post("/a/login", data={"csrf_token": token, "phone": phone, "code": code})
        assert response.status_code < 500 and response.status_code != 302
    assert_refused_page(client.post("/a/login", data={"phone": CITY_PHONE, "code": "123456"}), 400)  # no CSRF
    # the JSON call: NUL, not JSON, JSON that is not an object, no phone, a bad phone, no CSRF token
    headers = {"X-CSRFToken": token}
    nul = client.post("/a/api/login-code", json={"phone": "136\x0000136100"}, headers=headers)
    assert nul.status_code == 422 and nul.json["error"] == "invalid_request"
    for body in ("not json", "[1, 2]", '{"phone": {"a": 1}}', '{"phone": "12"}', "{}", '"x"', "1e999999"):
        response = client.post("/a/api/login-code", data=body, headers=headers, content_type="application/json")
        assert 400 <= response.status_code < 500, (body, response.status_code)
        assert response.is_json and set(response.json) == {"error", "message", "status", "details"}
    no_csrf = client.post("/a/api/login-code", json={"phone": CITY_PHONE})
    assert no_csrf.status_code == 400 and no_csrf.json["error"] == "csrf_failed"
    assert no_csrf.json["message"] == "页面已过期，请刷新页面后再试。"  # the portal's page shows it
    assert snapshot(app) == before


def test_bad_cookies_and_methods(app, client, network):
    for value in ("", "garbage", "a.b.c", "\u00e9" * 10, "x" * 4000):
        client.set_cookie("agent_session", value, path="/a")
        assert client.get("/a/level").status_code == 302
    assert "页面不存在" in assert_refused_page(client.delete("/a/level"), 404)  # as the member pages answer
    assert "页面不存在" in assert_refused_page(client.post("/a/level"), 404)
    page = client.get("/a/no/such/page")
    assert page.status_code == 404 and "页面不存在" in page.get_data(as_text=True)
    response = client.get("/a/api/nothing")
    assert response.status_code == 404 and response.is_json
    assert client.get("/a/login?next=https://evil.example/").status_code == 200
