"""Console sign-in, lock-out, CSRF, roles and merchant scope (Flask test client)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from server.domain.errors import InvalidRequest
from server.extensions import db
from server.models import AuditLog, ConsoleSession, Refund, Sale, StaffUser
from server.models.base import utcnow
from server.services import console_auth
from tests.console.support import PASSWORD, build_console_world, csrf_from, page_text, post_form, sign_in


def audit_actions(app) -> list[str]:
    with app.app_context():
        actions = list(db.session.scalars(select(AuditLog.action).order_by(AuditLog.id)))
        db.session.remove()
        return actions


@pytest.fixture
def scene(app, client):
    return build_console_world(app, client)


def test_pages_need_a_sign_in_and_return_only_to_console_pages(scene, client):
    response = client.get("/console/merchants?trade=food")
    assert response.status_code == 302
    assert response.location.startswith("/console/sign-in?next=/console/merchants")
    page = client.get("/console/sign-in?next=//evil.example/")
    response = client.post(
        "/console/sign-in?next=//evil.example/",
        data={"csrf_token": csrf_from(page_text(page)), "username": "c-admin", "password": PASSWORD},
    )
    assert response.status_code == 302 and response.location == "/console/"


def test_sign_in_and_out_are_audited_and_sign_out_ends_the_session(app, scene, client):
    signed_in = sign_in(client, "c-admin")
    assert signed_in.status_code == 302
    cookie = signed_in.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    dashboard = client.get("/console/")
    assert dashboard.status_code == 200
    assert dashboard.headers["Cache-Control"] == "no-store"
    assert "script-src 'none'" in dashboard.headers["Content-Security-Policy"]
    assert "<svg" in page_text(dashboard) and "<script" not in page_text(dashboard)  # charts need no scripts
    response = client.post("/console/sign-out", data={"csrf_token": csrf_from(page_text(dashboard))})
    assert response.status_code == 302
    assert client.get("/console/").status_code == 302
    assert audit_actions(app)[-2:] == ["console.sign_in", "console.sign_out"]


def test_repeated_failures_lock_the_account_until_an_admin_unlocks_it(app, scene, client):
    for _ in range(4):
        assert sign_in(client, "c-support", "wrong password!").status_code == 401
    assert sign_in(client, "c-support", "wrong password!").status_code == 423  # the fifth failure locks
    refused = sign_in(client, "c-support")  # even the right password, while locked
    assert refused.status_code == 423
    with app.app_context():
        user = db.session.scalar(select(StaffUser).where(StaffUser.username == "c-support"))
        assert user.locked_until > utcnow() + timedelta(minutes=14)
        db.session.remove()
    actions = audit_actions(app)
    assert actions.count("console.sign_in_failed") == 5
    assert "console.account_locked" in actions and "console.sign_in_refused_locked" in actions

    admin = app.test_client()
    assert sign_in(admin, "c-admin").status_code == 302
    with app.app_context():
        user_id = db.session.scalar(select(StaffUser.id).where(StaffUser.username == "c-support"))
        db.session.remove()
    response = post_form(admin, "/console/staff", f"/console/staff/{user_id}/unlock", {})
    assert response.status_code == 302
    assert sign_in(client, "c-support").status_code == 302
    assert "staff.unlock" in audit_actions(app)


def test_a_lock_ends_by_itself_after_the_lock_out_period(app, scene, client):
    with app.app_context():
        db.session.execute(
            update(StaffUser)
            .where(StaffUser.username == "c-finance")
            .values(locked_until=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
        db.session.remove()
    assert sign_in(client, "c-finance").status_code == 302


def test_unknown_users_and_wrong_passwords_get_the_same_answer(scene, client):
    unknown, wrong = sign_in(client, "nobody"), sign_in(client, "c-admin", "not the password")
    assert unknown.status_code == wrong.status_code == 401
    assert "Wrong username or password" in page_text(unknown) or "用户名或密码错误" in page_text(unknown)


def test_posts_without_or_with_a_wrong_csrf_token_change_nothing(app, scene, client):
    assert sign_in(client, "c-finance").status_code == 302
    url = f"/console/sales/{scene.sale_id}/refunds"
    for token in (None, "forged-token"):
        data = {"reason": "顾客退货", "once": "k-1"}
        if token:
            data["csrf_token"] = token
        assert client.post(url, data=data).status_code == 400
    assert client.post("/console/sign-out").status_code == 400
    assert client.get("/console/").status_code == 200  # still signed in: sign-out needs the token too
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Refund)) == 0
        db.session.remove()
    # A token from another session is refused as well.
    other = app.test_client()
    assert sign_in(other, "c-admin").status_code == 302
    foreign = csrf_from(page_text(other.get("/console/")))
    assert client.post(url, data={"reason": "x", "once": "k-2", "csrf_token": foreign}).status_code == 400


def test_sign_in_itself_needs_the_csrf_token(scene, client):
    response = client.post("/console/sign-in", data={"username": "c-admin", "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/console/").status_code == 302


def test_the_json_api_is_not_touched_by_console_csrf(scene, client):
    response = client.get("/api/v1/terminal", headers=scene.world.shop_a.auth)
    assert response.status_code == 200
    response = client.post("/api/v1/identify", json={"code": scene.card.card_no}, headers=scene.world.shop_a.auth)
    assert response.status_code == 200


def test_a_merchant_owner_sees_only_their_own_merchant(app, scene, client):
    shop_a, shop_b = scene.world.shop_a, scene.world.shop_b
    assert sign_in(client, "c-owner-a").status_code == 302
    index = client.get("/console/merchants")
    assert index.status_code == 302 and index.location.endswith(f"/console/merchants/{shop_a.merchant.id}")
    assert client.get(f"/console/merchants/{shop_a.merchant.id}").status_code == 200
    for url in (
        f"/console/merchants/{shop_b.merchant.id}",
        f"/console/merchants/{shop_b.merchant.id}/poster",
        f"/console/merchants/{shop_b.merchant.id}/poster.png",
        f"/console/sales/{scene.other_sale_id}",
        f"/console/sales?merchant_id={shop_b.merchant.id}&receipt_no=",
    ):
        response = client.get(url)
        if "/sales?" in url:  # the filter is ignored: the owner's own shop only
            assert scene.other_sale_id not in page_text(response) and scene.sale_id in page_text(response)
        else:
            assert response.status_code == 404, url
    csv_text = page_text(client.get(f"/console/sales.csv?merchant_id={shop_b.merchant.id}"))
    assert scene.sale_id in csv_text and scene.other_sale_id not in csv_text
    page = f"/console/merchants/{shop_a.merchant.id}"
    assert post_form(client, page, f"/console/terminals/{shop_b.terminal.id}/token", {}).status_code == 404
    assert post_form(client, page, f"/console/sales/{scene.other_sale_id}/refunds", {"reason": "x"}).status_code == 404
    for url in ("/console/members", "/console/ledger", "/console/cards", "/console/staff", "/console/audit"):
        assert client.get(url).status_code == 403, url
    with app.app_context():
        assert db.session.get(Sale, scene.other_sale_id).refunded_fen == 0
        db.session.remove()


@pytest.mark.parametrize(
    ("username", "allowed", "refused"),
    [
        (
            "c-card_issuer",
            ["/console/cards", "/console/members", "/console/levels"],
            ["/console/sales", "/console/staff"],
        ),
        (
            "c-support",
            ["/console/members", "/console/sales", "/console/ledger"],
            ["/console/merchants/new", "/console/audit"],
        ),
        (
            "c-finance",
            ["/console/sales", "/console/ledger", "/console/alliance"],
            ["/console/levels/new", "/console/staff"],
        ),
        ("c-cashier-a", ["/console/sales", "/console/"], ["/console/members", "/console/levels/new"]),
    ],
)
def test_roles_reach_what_design_section_5_gives_them(scene, client, username, allowed, refused):
    assert sign_in(client, username).status_code == 302
    for url in allowed:
        assert client.get(url).status_code == 200, url
    for url in refused:
        assert client.get(url).status_code == 403, url


def test_navigation_shows_only_what_the_role_may_open(scene, client):
    assert sign_in(client, "c-owner-a").status_code == 302
    html = page_text(client.get("/console/?lang=en"))
    assert "My shop" in html and "Sales" in html
    for hidden in ("Members", "Points ledger", "Audit log", "Staff"):
        assert f"</i> {hidden}" not in html, hidden


def test_a_new_password_ends_the_users_other_sessions(app, scene, client):
    assert sign_in(client, "c-support").status_code == 302
    admin = app.test_client()
    assert sign_in(admin, "c-admin").status_code == 302
    with app.app_context():
        user_id = db.session.scalar(select(StaffUser.id).where(StaffUser.username == "c-support"))
        db.session.remove()
    response = post_form(
        admin, "/console/staff", f"/console/staff/{user_id}/password", {"password": "another long one"}
    )
    assert response.status_code == 302
    assert client.get("/console/").status_code == 302
    assert sign_in(client, "c-support", "another long one").status_code == 302


def test_a_feature_adds_its_menu_entry_in_one_place(monkeypatch):
    from server.console import navigation
    from server.domain.permissions import Actor

    monkeypatch.setattr(navigation, "NAVIGATION", list(navigation.NAVIGATION))
    navigation.add(navigation.NavItem("console.forecasts.index", "Forecasts", "percent", "ledger:read", order=60))
    finance, owner = Actor("staff:f", "finance", None), Actor("staff:o", "owner", "mer_1")
    finance_endpoints = [item.endpoint for item in navigation.items_for(finance)]
    assert "console.forecasts.index" in finance_endpoints
    # ordered by ``order``
    assert finance_endpoints.index("console.forecasts.index") > finance_endpoints.index("console.sales.index")
    assert "console.forecasts.index" not in [item.endpoint for item in navigation.items_for(owner)]


def test_many_failures_from_one_address_are_refused_whatever_the_username(app, scene, client, monkeypatch):
    monkeypatch.setitem(app.config, "CONSOLE_MAX_FAILED_LOGINS_PER_ADDRESS", 3)
    for username in ("nobody", "c-admin", "c-finance"):
        assert sign_in(client, username, "guessing wrongly").status_code == 401
    assert sign_in(client, "c-support").status_code == 429  # even the right password, from this address
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    assert sign_in(elsewhere, "c-support").status_code == 302


def test_a_mistyped_console_address_gets_the_console_404_page(scene, client):
    assert client.get("/console/no/such/page").status_code == 302  # the sign-in comes first
    assert sign_in(client, "c-admin").status_code == 302
    response = client.get("/console/no/such/page")
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert client.get("/api/v1/no-such-thing").mimetype == "application/json"  # the API keeps its JSON errors


def test_signing_out_ends_the_session_on_the_server_so_a_copied_cookie_is_useless(app, scene, client):
    assert sign_in(client, "c-admin").status_code == 302
    copy = app.test_client()
    copy.set_cookie("session", client.get_cookie("session").value)
    assert copy.get("/console/").status_code == 200
    client.post("/console/sign-out", data={"csrf_token": csrf_from(page_text(client.get("/console/")))})
    assert copy.get("/console/").status_code == 302
    with app.app_context():
        assert (
            db.session.scalar(select(func.count()).select_from(ConsoleSession).where(ConsoleSession.ended_at.is_(None)))
            == 0
        )
        db.session.remove()


def test_an_idle_session_ends_and_a_busy_one_stays(app, scene, client, monkeypatch):
    assert sign_in(client, "c-admin").status_code == 302
    with app.app_context():
        db.session.execute(update(ConsoleSession).values(last_seen_at=utcnow() - timedelta(minutes=50)))
        db.session.commit()
        db.session.remove()
    assert client.get("/console/").status_code == 200  # within the hour: still signed in, and seen now
    with app.app_context():
        seen = db.session.scalar(select(ConsoleSession.last_seen_at))
        assert utcnow() - seen < timedelta(minutes=1)
        db.session.execute(update(ConsoleSession).values(last_seen_at=utcnow() - timedelta(minutes=61)))
        db.session.commit()
        db.session.remove()
    assert client.get("/console/").status_code == 302


def test_disabling_a_user_ends_their_sessions(app, scene, client):
    assert sign_in(client, "c-support").status_code == 302
    admin = app.test_client()
    assert sign_in(admin, "c-admin").status_code == 302
    with app.app_context():
        user_id = db.session.scalar(select(StaffUser.id).where(StaffUser.username == "c-support"))
        db.session.remove()
    page = f"/console/staff/{user_id}/disable"  # a confirmation page that asks for the reason
    assert "停用账号" in page_text(admin.get(page))
    assert post_form(admin, page, page, {"reason": ""}).status_code == 422  # no reason: nothing happens
    assert client.get("/console/").status_code == 200
    assert post_form(admin, page, page, {"reason": "已离职"}).status_code == 302
    assert client.get("/console/").status_code == 302
    assert sign_in(client, "c-support").status_code == 401
    with app.app_context():
        entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "staff.set_status"))
        assert entry.details == {"status": "disabled", "reason": "已离职"}
        db.session.remove()
    again = admin.get(page, follow_redirects=True)  # an old page: the account is disabled already
    assert "此账号已停用。" in page_text(again) and page not in page_text(again)  # and not offered any more


def test_an_admin_cannot_disable_themselves(app, scene, client):
    assert sign_in(client, "c-admin").status_code == 302
    with app.app_context():
        admin_id = db.session.scalar(select(StaffUser.id).where(StaffUser.username == "c-admin"))
        with pytest.raises(InvalidRequest):
            console_auth.set_status(f"staff:{admin_id}", admin_id, "disabled")
        db.session.remove()
    page = f"/console/staff/{admin_id}/disable"
    assert post_form(client, page, page, {"reason": "试试"}).status_code == 302
    assert "不能停用自己的账号" in page_text(client.get("/console/staff"))  # the service's refusal, in Chinese
    with app.app_context():
        assert db.session.get(StaffUser, admin_id).status == "active"
        db.session.remove()
