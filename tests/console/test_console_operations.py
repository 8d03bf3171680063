"""Operators' everyday work in the console (issue 15 items 11-15), through the Flask test client and services.

Members found by name, card or any last 4+ phone digits (POSTed), edited and frozen; levels with their
window, 折 and example price, reordered and retired; the password policy, the forced change and the TOTP
second factor; printable posters and the PUBLIC_BASE_URL warning; invalid filters and the pager.
"""

from __future__ import annotations

import re
import time

import pyotp
import pytest
from sqlalchemy import select

from server.domain.levels import LevelRule, level_after_sale, level_at_evaluation, upgrade_progress
from server.domain.passwords import password_problem
from server.extensions import db
from server.models import AuditLog, Level, Member, StaffUser
from server.security.totp import unseal
from server.services import cards, catalog, members
from tests.builders import ACTOR, make_member
from tests.console.support import PASSWORD, build_console_world, csrf_from, page_text, post_form, sign_in
from tests.live_server import identify
from tests.member.support import last_login_code


@pytest.fixture
def scene(app, client):
    return build_console_world(app, client)


def audit_rows(app, action: str) -> list[AuditLog]:
    with app.app_context():
        rows = list(db.session.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)))
        db.session.remove()
        return rows


def search(client, text: str) -> str:
    return page_text(post_form(client, "/console/members", "/console/members", {"q": text}))


# --- 11. Members ---------------------------------------------------------------------------------------


def test_members_are_found_by_name_card_and_the_last_digits_of_their_phone(app, scene, client):
    with app.app_context():
        make_member(phone="13800005678", name="张无忌")  # shares the last four digits with 赵敏 (…5678)
        make_member(phone="13712340000", name="周芷若")
        db.session.remove()
    assert sign_in(client, "c-support").status_code == 302
    both = search(client, "5678")
    assert "赵敏" in both and "张无忌" in both and "周芷若" not in both
    only = search(client, "2345678")  # more digits narrow the ending
    assert "赵敏" in only and "张无忌" not in only
    assert "周芷若" not in search(client, "1234")  # the middle of a number is not its ending
    assert "周芷若" in search(client, "芷若") and "赵敏" not in search(client, "芷若")
    assert "赵敏" in search(client, scene.card.card_no)
    assert "13912345678" not in search(client, "5678")  # phones stay masked in the list
    few = search(client, "567")
    assert "至少四位" in few and "赵敏" not in few
    literal = search(client, "%")  # a name search is literal, not a pattern
    assert "赵敏" not in literal


def test_the_member_search_by_phone_never_puts_digits_in_the_url(app, scene, client):
    assert sign_in(client, "c-support").status_code == 302
    html = page_text(client.get("/console/members"))
    form = re.search(r"<form[^>]*member-search[^>]*>", html).group(0)
    assert 'method="post"' in form
    with app.app_context():
        found = members_search_ids("5678")
        db.session.remove()
    assert found == [scene.member.id]


def members_search_ids(digits: str) -> list[str]:
    from server.services.queries import ids_with_phone_ending

    return ids_with_phone_ending(digits)


def test_the_member_page_shows_points_with_expiry_sales_with_the_shop_and_card_history(app, scene, client):
    assert sign_in(client, "c-support").status_code == 302
    html = page_text(client.get(f"/console/members/{scene.member.id}"))
    movements = html.split('class="table table-sm mb-0 points-movements"', 1)[1].split("</table>", 1)[0]
    assert "交易" in movements and "调整" in movements and "test set-up" in movements
    lots = html.split('points-lots"', 1)[1].split("</table>", 1)[0]
    assert re.search(r"\d{4}-\d{2}-\d{2}", lots)  # each lot with its expiry date
    sales = html.split('member-sales"', 1)[1].split("</table>", 1)[0]
    assert "甲店" in sales and "乙店" in sales
    assert "card-history" in html and "绑定" in html


def test_name_and_phone_are_edited_with_an_audit_entry_that_holds_no_full_phone(app, scene, client):
    assert sign_in(client, "c-support").status_code == 302
    detail = f"/console/members/{scene.member.id}"
    edited = post_form(client, detail, f"{detail}/edit", {"display_name": "赵敏敏", "phone": "13655556666"})
    assert edited.status_code == 302
    [entry] = audit_rows(app, "member.update")
    assert entry.details["name"] == "赵敏敏" and entry.details["phone"] == "136****6666"
    assert "13655556666" not in str(entry.details) and "13912345678" not in str(entry.details)
    assert "赵敏敏" in search(client, "6666") and "赵敏敏" not in search(client, "5678")
    with app.app_context():
        other = make_member(phone="13511112222", name="殷离")[0]
        db.session.remove()
    taken = post_form(client, detail, f"{detail}/edit", {"display_name": "赵敏敏", "phone": "13511112222"})
    assert taken.status_code == 409 and "该手机号已注册会员" in page_text(taken)
    assert other.id != scene.member.id


def test_a_frozen_member_is_refused_at_the_till_and_at_sign_in_with_member_frozen(app, scene, client):
    shop = scene.world.shop_a
    assert sign_in(client, "c-support").status_code == 302
    detail = f"/console/members/{scene.member.id}"
    confirm = client.get(f"{detail}/freeze")
    assert confirm.status_code == 200 and "冻结会员" in page_text(confirm)
    assert post_form(client, f"{detail}/freeze", f"{detail}/freeze", {"reason": ""}).status_code == 422
    assert post_form(client, f"{detail}/freeze", f"{detail}/freeze", {"reason": "疑似盗刷"}).status_code == 302
    [entry] = audit_rows(app, "member.freeze")
    assert entry.details == {"reason": "疑似盗刷"}
    refused = client.post(
        "/api/v1/identify", json={"code": scene.card.card_no}, headers={**shop.auth, "Accept-Language": "zh-CN"}
    )
    assert refused.status_code == 403 and refused.json["error"] == "member_frozen"
    assert "冻结" in refused.json["message"]
    by_phone = client.post("/api/v1/identify", json={"phone": "13912345678"}, headers=shop.auth)
    assert by_phone.status_code == 403 and by_phone.json["error"] == "member_frozen"
    with app.app_context():
        from server.domain.errors import MemberFrozen
        from server.services import member_login

        member_login.request_login_code("13912345678")
        with pytest.raises(MemberFrozen):
            member_login.log_in("13912345678", last_login_code("13912345678"))
        db.session.remove()
    assert "已冻结" in page_text(client.get(detail))
    unfreeze = f"{detail}/unfreeze"
    assert post_form(client, unfreeze, unfreeze, {"reason": "核实无误"}).status_code == 302
    assert identify(client, shop.auth, code=scene.card.card_no)


def test_a_frozen_members_open_session_no_longer_opens_member_pages(app, scene, client):
    from tests.member.support import register_phone

    with app.app_context():
        login = register_phone("13766667777")
        members.set_member_frozen(ACTOR, login.member.id, True, "测试")
        from server.services import member_codes

        assert member_codes.device_for_session(login.session_token) is None
        db.session.remove()


def test_the_members_list_reports_an_unknown_filter_and_pages_with_first_last_and_a_jump(app, scene, client):
    with app.app_context():
        for n in range(30):
            make_member(phone=f"1370000{n:04d}", name=f"会员{n}", with_card=False)
        db.session.remove()
    assert sign_in(client, "c-support").status_code == 302
    html = page_text(client.get("/console/members?status=sleeping&level=gold-ish"))
    assert html.count("invalid-filter") == 2 and "sleeping" in html
    listed = page_text(client.get("/console/members"))
    assert "首页" in listed and "末页" in listed and 'class="page-jump"' in listed
    assert "invalid-filter" in page_text(client.get("/console/members?page=x"))


# --- 12. Levels ----------------------------------------------------------------------------------------


def test_levels_show_the_window_and_the_members_price_and_take_discounts_in_zhe(app, scene, client):
    assert sign_in(client, "c-admin").status_code == 302
    html = page_text(client.get("/console/levels?example=200"))
    window = html.split('class="card console-card h-100 level-window"', 1)[1].split("</form>", 1)[0]
    assert "统计周期" in window and re.search(r"<strong[^>]*>\d+ 天</strong>", window)
    gold = scene.world.levels["gold"]
    row = html.split(f'data-code="{gold.code}"', 1)[1].split("</tr>", 1)[0]
    assert "9折" in row and "¥180.00" in row  # gold pays 9折: ¥200 → ¥180
    bad = page_text(client.get("/console/levels?example=lots"))
    assert "invalid-filter" in bad and "lots" in bad
    edit = f"/console/levels/{gold.id}/edit"
    form = page_text(client.get(edit))
    assert "折" in form
    data = {
        "name": "金卡",
        "name_en": "Gold",
        "upgrade_spend": "2000",
        "keep_spend": "1500",
        "protection_days": "90",
        "default_pays": "8.8",
        "min_pays": "7",
        "max_pays": "10",
    }
    assert post_form(client, edit, edit, data).status_code == 302
    with app.app_context():
        level = db.session.get(Level, gold.id)
        assert (level.default_discount_bp, level.min_discount_bp, level.max_discount_bp) == (8_800, 7_000, 10_000)
        db.session.remove()
    assert post_form(client, edit, edit, {**data, "default_pays": "11"}).status_code == 200  # not a 折
    window_post = post_form(client, "/console/levels", "/console/levels/window", {"level_window_days": "180"})
    assert window_post.status_code == 302
    with app.app_context():
        from server.services.alliance import get_settings

        assert get_settings().level_window_days == 180
        db.session.remove()


def test_levels_are_reordered_and_a_retired_level_takes_no_new_members(app, scene, client):
    levels = scene.world.levels
    assert sign_in(client, "c-admin").status_code == 302
    with app.app_context():
        ranks = {code: db.session.get(Level, level.id).rank for code, level in levels.items()}
        db.session.remove()
    silver = levels["silver"]
    up = f"/console/levels/{silver.id}/move/up"
    assert post_form(client, "/console/levels", up, {}).status_code == 302
    with app.app_context():
        moved = {code: db.session.get(Level, level.id).rank for code, level in levels.items()}
        db.session.remove()
    above = min((code for code in ranks if ranks[code] > ranks["silver"]), key=ranks.get)
    assert moved["silver"] == ranks[above] and moved[above] == ranks["silver"]
    assert post_form(client, "/console/levels", up.replace("/up", "/down"), {}).status_code == 302  # back again
    with app.app_context():
        assert {code: db.session.get(Level, level.id).rank for code, level in levels.items()} == ranks
        db.session.remove()
    lowest = min(levels, key=lambda code: ranks[code])
    retire = f"/console/levels/{levels[lowest].id}/retire"
    confirm = client.get(retire)
    assert confirm.status_code == 200 and "名会员" in page_text(confirm)
    assert post_form(client, retire, retire, {"reason": "合并到银卡"}).status_code == 302
    with app.app_context():
        newcomer = members.register_member(ACTOR, "13799990000", "新会员")
        assert db.session.get(Level, newcomer.level_id).code != lowest  # the lowest active level
        assert db.session.get(Member, scene.member.id) is not None  # its holders keep it
        db.session.remove()
    assert audit_rows(app, "level.retire")[0].details == {"reason": "合并到银卡"}
    with app.app_context():
        others = [level for code, level in levels.items() if code != lowest]
        for level in others[:-1]:
            catalog.set_level_retired(ACTOR, level.id, True)
        from server.domain.errors import Conflict

        with pytest.raises(Conflict):  # the last active level stays
            catalog.set_level_retired(ACTOR, others[-1].id, True)
        db.session.remove()


def test_a_card_batch_of_a_retired_level_does_not_lift_its_member(app, scene):
    with app.app_context():
        gold = db.session.get(Level, scene.world.levels["gold"].id)
        batch = cards.create_batch(ACTOR, 1, name="金卡批次", level_code=gold.code)
        card = cards.list_batch_cards(batch.id, _AllPages())[0]
        catalog.set_level_retired(ACTOR, gold.id, True, "停发金卡")
        member = make_member(phone="13788889999", with_card=False)[0]
        card.status = "issued"
        db.session.commit()
        members.bind_card(ACTOR, member.id, card.card_no)
        assert db.session.get(Member, member.id).level_id != gold.id
        db.session.remove()


class _AllPages:
    page, page_size, item_count = 1, 100, 0


def test_the_level_rules_skip_retired_levels_except_the_members_own():
    normal, silver, gold = (
        LevelRule("n", 0, 0, 0, 90),
        LevelRule("s", 1, 1_000, 500, 90, retired=True),
        LevelRule("g", 2, 5_000, 3_000, 90),
    )
    rules = [normal, silver, gold]
    assert level_after_sale(normal, rules, 2_000) is normal  # silver is retired: no upgrade into it
    assert level_after_sale(normal, rules, 5_000) is gold
    assert level_after_sale(silver, rules, 2_000) is silver  # its holders keep it
    from datetime import UTC, datetime

    long_ago, now = datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)
    assert level_at_evaluation(gold, rules, 600, long_ago, now) is normal  # no drop into the retired level
    assert upgrade_progress(normal, rules, [], now, 365).target is gold


# --- 13. Staff -----------------------------------------------------------------------------------------


def test_the_password_policy_refuses_short_common_and_username_passwords():
    assert password_problem("short", "wang") == "Passwords need at least 10 characters."
    assert password_problem("password123", "wang") is not None
    assert password_problem("Qwertyuiop", "wang") is not None  # case does not help
    assert password_problem("wang.fang.2026", "wang.fang") == "The password must not contain the username."
    assert password_problem("zzzzzzzzzzzz", "wang") is not None
    assert password_problem(PASSWORD, "c-admin") is None


def test_a_new_user_must_choose_a_password_at_the_first_sign_in(app, scene, client):
    assert sign_in(client, "c-admin").status_code == 302
    data = {"username": "li.lei", "display_name": "李雷", "role": "support", "merchant_id": "", "password": ""}
    common = post_form(client, "/console/staff", "/console/staff", {**data, "password": "1234567890"})
    assert common.status_code == 200 and "最常见的密码" in page_text(common)
    created = post_form(client, "/console/staff", "/console/staff", {**data, "password": "temporary pass 1"})
    assert created.status_code == 302
    newcomer = app.test_client()
    assert sign_in(newcomer, "li.lei", "temporary pass 1").status_code == 302
    forced = newcomer.get("/console/members")
    assert forced.status_code == 302 and forced.location.endswith("/console/account/password")
    page = page_text(newcomer.get("/console/account/password"))
    assert "forced-change" in page
    change = {"current": "temporary pass 1", "password": "li.lei my own pass", "repeat": "li.lei my own pass"}
    refused = post_form(newcomer, "/console/account/password", "/console/account/password", change)
    assert refused.status_code == 422 and "用户名" in page_text(refused)
    mine = {"current": "temporary pass 1", "password": "a quiet harbour", "repeat": "a quiet harbour"}
    assert post_form(newcomer, "/console/account/password", "/console/account/password", mine).status_code == 302
    assert newcomer.get("/console/members").status_code == 200  # the same session goes on
    assert audit_rows(app, "staff.change_password")
    with app.app_context():
        user_id = db.session.scalar(select(StaffUser.id).where(StaffUser.username == "li.lei"))
        db.session.remove()
    reset = post_form(client, "/console/staff", f"/console/staff/{user_id}/password", {"password": "from the admin"})
    assert reset.status_code == 302
    again = app.test_client()
    assert sign_in(again, "li.lei", "from the admin").status_code == 302
    assert again.get("/console/").location.endswith("/console/account/password")


def test_admins_turn_on_a_totp_second_factor_that_the_sign_in_then_asks_for(app, scene, client):
    assert sign_in(client, "c-finance").status_code == 302
    setup = page_text(client.get("/console/account/second-factor"))
    assert "<svg" in setup
    secret = re.search(r'class="totp-secret">([A-Z2-7]+)<', setup).group(1)
    wrong = post_form(client, "/console/account/second-factor", "/console/account/second-factor", {"code": "000000"})
    assert wrong.status_code == 422
    code = pyotp.TOTP(secret).now()
    on = post_form(client, "/console/account/second-factor", "/console/account/second-factor", {"code": code})
    assert on.status_code == 302
    with app.app_context():
        user = db.session.scalar(select(StaffUser).where(StaffUser.username == "c-finance"))
        assert unseal(user.totp_secret_ciphertext) == secret and secret.encode() not in user.totp_secret_ciphertext
        db.session.remove()
    fresh = app.test_client()
    step = sign_in(fresh, "c-finance")
    assert step.status_code == 302 and "/console/sign-in/code" in step.location
    assert fresh.get("/console/").status_code == 302  # not signed in yet
    html = page_text(fresh.get("/console/sign-in/code"))
    bad = fresh.post("/console/sign-in/code", data={"csrf_token": csrf_from(html), "code": "123456"})
    assert bad.status_code == 401
    used = fresh.post("/console/sign-in/code", data={"csrf_token": csrf_from(html), "code": code})
    assert used.status_code == 401  # the code that turned the factor on was used: no replay
    following = pyotp.TOTP(secret).at(time.time() + 30)  # the next step's code (one step of drift is accepted)
    good = fresh.post("/console/sign-in/code", data={"csrf_token": csrf_from(html), "code": following})
    assert good.status_code == 302 and fresh.get("/console/").status_code == 200
    replay = app.test_client()
    assert sign_in(replay, "c-finance").status_code == 302
    again = replay.post(
        "/console/sign-in/code",
        data={"csrf_token": csrf_from(page_text(replay.get("/console/sign-in/code"))), "code": following},
    )
    assert again.status_code == 401
    cashier = app.test_client()
    assert sign_in(cashier, "c-cashier-a").status_code == 302
    assert cashier.get("/console/account/second-factor").status_code == 302  # not for cashiers
    admin = app.test_client()
    assert sign_in(admin, "c-admin").status_code == 302
    off = f"/console/staff/{user.id}/second-factor-off"
    assert post_form(admin, off, off, {"reason": "手机丢失"}).status_code == 302
    assert sign_in(app.test_client(), "c-finance").location.endswith("/console/")


# --- 14. Posters ---------------------------------------------------------------------------------------


def test_the_poster_warns_when_public_base_url_is_missing_and_prints_a4_or_a5(app, scene, client):
    merchant_id = scene.world.shop_a.merchant.id
    assert sign_in(client, "c-owner-a").status_code == 302
    app.config["PUBLIC_BASE_URL"] = ""
    html = page_text(client.get(f"/console/merchants/{merchant_id}/poster"))  # the test client's "localhost"
    assert "poster-base-warning" in html and "alert-danger" in html and "http://localhost/m/join" in html
    from server.services.posters import points_at_this_machine

    assert points_at_this_machine("http://127.0.0.1:5000/m/join?m=x") and not points_at_this_machine(
        "http://192.168.1.20:5000/m/join?m=x"
    )
    a5 = page_text(client.get(f"/console/merchants/{merchant_id}/poster?size=a5&line=本周入会送50积分"))
    assert "size: A5" in a5 and 'data-size="a5"' in a5 and "本周入会送50积分" in a5
    assert "invalid-filter" in page_text(client.get(f"/console/merchants/{merchant_id}/poster?size=a3"))
    app.config["PUBLIC_BASE_URL"] = "https://card.example.cn"
    try:
        set_html = page_text(client.get(f"/console/merchants/{merchant_id}/poster"))
    finally:
        app.config["PUBLIC_BASE_URL"] = ""
    assert "poster-base-warning" not in set_html and "https://card.example.cn/m/join?m=" in set_html
