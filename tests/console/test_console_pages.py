"""Console pages doing real work through the services (Flask test client)."""

from __future__ import annotations

import csv
import io
import re

import pytest
import zxingcpp
from openpyxl import load_workbook
from PIL import Image
from sqlalchemy import func, select

from server.extensions import db
from server.models import (
    AllianceSettings,
    AuditLog,
    LedgerEntry,
    Merchant,
    MerchantLevelDiscount,
    Refund,
    Sale,
    Terminal,
)
from server.security.credentials import token_hash
from tests.console.support import build_console_world, page_text, post_form, sign_in


@pytest.fixture
def scene(app, client):
    return build_console_world(app, client)


def audit_rows(app, action: str) -> list[AuditLog]:
    with app.app_context():
        rows = list(db.session.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)))
        db.session.remove()
        return rows


def test_refund_with_a_reason_goes_through_the_service_once(app, scene, client):
    assert sign_in(client, "c-finance").status_code == 302
    page = f"/console/sales/{scene.sale_id}"
    html = page_text(client.get(page))
    once = re.search(r'name="once"[^>]*value="([^"]+)"', html).group(1)
    assert post_form(client, page, f"{page}/refunds", {"amount": "50.00", "reason": ""}).status_code == 422
    data = {"amount": "50.00", "reason": "菜品有误", "once": once}
    confirm = post_form(client, page, f"{page}/refunds", data)  # first a confirmation page, nothing refunded yet
    assert confirm.status_code == 200 and "退款 ¥50.00" in page_text(confirm) and "无法撤销" in page_text(confirm)
    assert audit_rows(app, "sale.refund") == []
    data["confirmed"] = "yes"
    assert post_form(client, page, f"{page}/refunds", data).status_code == 302
    assert post_form(client, page, f"{page}/refunds", data).status_code == 302  # a resubmitted form replays
    with app.app_context():
        refunds = list(db.session.scalars(select(Refund).where(Refund.sale_id == scene.sale_id)))
        assert [(r.amount_fen, r.reason, r.actor.startswith("staff:")) for r in refunds] == [(5_000, "菜品有误", True)]
        assert db.session.get(Sale, scene.sale_id).refunded_fen == 5_000
        assert db.session.scalar(select(func.sum(LedgerEntry.amount))) == 0
        db.session.remove()
    [entry] = audit_rows(app, "sale.refund")
    assert entry.details["reason"] == "菜品有误" and entry.details["amount_fen"] == 5_000
    assert "菜品有误" in page_text(client.get(page))
    too_much = {"amount": "99999.00", "reason": "x", "once": "another-key", "confirmed": "yes"}
    assert post_form(client, page, f"{page}/refunds", too_much).status_code == 409


def test_an_owner_refunds_at_their_own_shop_but_a_cashier_may_not(app, scene, client):
    assert sign_in(client, "c-cashier-a").status_code == 302
    page = f"/console/sales/{scene.sale_id}"
    assert post_form(client, page, f"{page}/refunds", {"reason": "x"}).status_code == 403
    owner = app.test_client()
    assert sign_in(owner, "c-owner-a").status_code == 302
    assert post_form(owner, page, f"{page}/refunds", {"reason": "顾客取消", "confirmed": "yes"}).status_code == 302
    with app.app_context():
        sale = db.session.get(Sale, scene.sale_id)
        assert sale.refunded_fen == sale.payable_fen  # empty amount: the rest of the sale
        db.session.remove()


def test_a_terminal_token_is_shown_once_and_works(app, scene, client):
    assert sign_in(client, "c-owner-a").status_code == 302
    merchant_id = scene.world.shop_a.merchant.id
    page = f"/console/merchants/{merchant_id}"
    html = page_text(client.get(page))
    once = re.search(r'name="once"[^>]*value="([^"]+)"', html).group(1)
    created = post_form(client, page, f"{page}/terminals", {"name": "二号收银台", "once": once})
    assert created.status_code == 200
    token = re.search(r'id="terminal-token">(tt_[^<]+)<', page_text(created)).group(1)
    assert created.headers["Cache-Control"] == "no-store"
    again = post_form(client, page, f"{page}/terminals", {"name": "二号收银台", "once": once})
    assert "tt_" not in page_text(again)
    who = client.get("/api/v1/terminal", headers={"Authorization": f"Bearer {token}"})
    assert who.status_code == 200 and who.json["terminal"]["name"] == "二号收银台"
    with app.app_context():
        terminal = db.session.scalar(select(Terminal).where(Terminal.token_hash == token_hash(token)))
        assert db.session.scalar(select(func.count()).select_from(Terminal).where(Terminal.name == "二号收银台")) == 1
        db.session.remove()
    reset_page = f"/console/terminals/{terminal.id}/token"  # a confirmation page asks for the reason
    assert post_form(client, reset_page, reset_page, {"reason": ""}).status_code == 422
    assert client.get("/api/v1/terminal", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    reset = post_form(client, reset_page, reset_page, {"reason": "收银机被盗"})
    new_token = re.search(r'id="terminal-token">(tt_[^<]+)<', page_text(reset)).group(1)
    assert client.get("/api/v1/terminal", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert client.get("/api/v1/terminal", headers={"Authorization": f"Bearer {new_token}"}).status_code == 200
    created_at_a = [row for row in audit_rows(app, "terminal.create") if row.details["merchant_id"] == merchant_id]
    assert len(created_at_a) == 2  # the world's till and 二号收银台
    assert [row.details for row in audit_rows(app, "terminal.reset_token")] == [{"reason": "收银机被盗"}]


def test_an_admin_admits_and_edits_a_merchant(app, scene, client):
    assert sign_in(client, "c-admin").status_code == 302
    data = {
        "name": "好味面包房",
        "trade": "food",
        "region": "幸福街",
        "address": "",
        "contact_phone": "",
        "earn_rate": "1.5",
        "max_redeem": "30",
    }
    response = post_form(client, "/console/merchants/new", "/console/merchants/new", data)
    assert response.status_code == 302
    with app.app_context():
        merchant = db.session.scalar(select(Merchant).where(Merchant.name == "好味面包房"))
        assert (merchant.earn_rate_bp, merchant.max_redeem_bp) == (150, 3_000)
        db.session.remove()
    assert response.location.endswith(f"/console/merchants/{merchant.id}")
    edit = f"/console/merchants/{merchant.id}/edit"
    response = post_form(client, edit, edit, {**data, "earn_rate": "2", "status": "suspended"})
    assert response.status_code == 302
    with app.app_context():
        merchant = db.session.get(Merchant, merchant.id)
        assert (merchant.earn_rate_bp, merchant.status) == (200, "suspended")
        db.session.remove()
    assert post_form(client, edit, edit, {**data, "earn_rate": "120"}).status_code == 200  # out of range: form error
    assert [row.action for row in audit_rows(app, "merchant.update")] == ["merchant.update"]
    # refunds above 200.00 need the supervisor PIN, stored hashed; an empty PIN field keeps it
    page = page_text(client.get(edit))
    assert "退款超过此金额需主管密码" in page and "尚未设置密码" in page
    assert post_form(client, edit, edit, {**data, "refund_threshold": "200", "refund_pin": "12ab"}).status_code == 200
    response = post_form(client, edit, edit, {**data, "refund_threshold": "200", "refund_pin": "5791"})
    assert response.status_code == 302
    with app.app_context():
        merchant = db.session.get(Merchant, merchant.id)
        assert merchant.refund_auth_threshold_fen == 20_000 and merchant.refund_pin_hash.startswith("$argon2")
        pin_hash = merchant.refund_pin_hash
        db.session.remove()
    assert "已设置密码" in page_text(client.get(edit)) and "5791" not in page_text(client.get(edit))
    assert post_form(client, edit, edit, {**data, "refund_threshold": "300"}).status_code == 302
    with app.app_context():
        merchant = db.session.get(Merchant, merchant.id)
        assert (merchant.refund_auth_threshold_fen, merchant.refund_pin_hash) == (30_000, pin_hash)
        db.session.remove()


def test_level_discounts_stay_within_the_operators_bounds(app, scene, client):
    assert sign_in(client, "c-owner-a").status_code == 302
    merchant_id, gold = scene.world.shop_a.merchant.id, scene.world.levels["gold"]
    page = f"/console/merchants/{merchant_id}"
    url = f"{page}/discounts/{gold.id}"
    post_form(client, page, url, {"level_id": gold.id, "pays": "50"})  # below the bound
    post_form(client, page, url, {"level_id": gold.id, "pays": "88.5"})
    with app.app_context():
        assert db.session.get(MerchantLevelDiscount, (merchant_id, gold.id)).discount_bp == 8_850
        db.session.remove()
    assert len(audit_rows(app, "merchant.set_level_discount")) == 1


def test_members_are_found_by_card_or_phone_and_the_full_phone_is_an_audited_reveal(app, scene, client):
    assert sign_in(client, "c-support").status_code == 302
    for query in (scene.card.card_no, "139 1234 5678", "+86 13912345678"):
        html = page_text(post_form(client, "/console/members", "/console/members", {"q": query}))
        assert "赵敏" in html and "139****5678" in html and "13912345678" not in html.replace(f'value="{query}"', "")
    assert "赵敏" not in page_text(post_form(client, "/console/members", "/console/members", {"q": "13900000000"}))
    detail = f"/console/members/{scene.member.id}"
    assert "13912345678" not in page_text(client.get(detail))
    assert audit_rows(app, "member.reveal_phone") == []
    refused = post_form(client, detail, f"{detail}/phone", {})  # a reason is required
    assert refused.status_code == 422 and "13912345678" not in page_text(refused)
    revealed = post_form(client, detail, f"{detail}/phone", {"reason": "会员来电核对身份"})
    assert revealed.status_code == 200 and "13912345678" in page_text(revealed)
    assert revealed.headers["Cache-Control"] == "no-store"
    [entry] = audit_rows(app, "member.reveal_phone")
    assert entry.object_id == scene.member.id and entry.actor.startswith("staff:")
    assert entry.details == {"reason": "会员来电核对身份"}
    finance = app.test_client()
    assert sign_in(finance, "c-finance").status_code == 302
    assert post_form(finance, detail, f"{detail}/phone", {}).status_code == 403


def test_the_registration_poster_qr_decodes_to_the_join_link(app, scene, client):
    assert sign_in(client, "c-owner-a").status_code == 302
    merchant_id = scene.world.shop_a.merchant.id
    png = client.get(f"/console/merchants/{merchant_id}/poster.png")
    assert png.status_code == 200 and png.mimetype == "image/png"
    [result] = zxingcpp.read_barcodes(Image.open(io.BytesIO(png.data)))
    assert result.text.startswith("http://localhost/m/join?m=")
    with app.app_context():
        from server.services.member_login import poster_merchant

        assert poster_merchant(result.text.rsplit("=", 1)[1]) == merchant_id  # the poster token of this merchant
        db.session.remove()
    assert "<svg" in page_text(client.get(f"/console/merchants/{merchant_id}/poster"))


def test_sales_and_ledger_export_as_csv_with_filters(scene, client):
    assert sign_in(client, "c-finance").status_code == 302
    response = client.get(f"/console/sales.csv?merchant_id={scene.world.shop_a.merchant.id}")
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert [row["交易编号"] for row in rows] == [scene.sale_id]
    assert rows[0]["商户"] == "甲店" and re.fullmatch(r"[1-9]\d*\.\d\d", rows[0]["实付金额（元）"])  # yuan, not fen
    page = page_text(client.get(f"/console/sales?merchant_id={scene.world.shop_a.merchant.id}"))
    assert rows[0]["时间"][:16] in page  # the page's local time, not UTC
    ledger = client.get(f"/console/ledger.csv?sale_id={scene.sale_id}")
    entries = list(csv.DictReader(io.StringIO(ledger.get_data(as_text=True).lstrip("\ufeff"))))
    assert entries and sum(int(row["积分"]) for row in entries) == 0
    assert {row["交易编号"] for row in entries} == {scene.sale_id}
    workbook = client.get(f"/console/sales.xlsx?merchant_id={scene.world.shop_a.merchant.id}")
    sheet = load_workbook(io.BytesIO(workbook.get_data())).active
    assert sheet.max_row == 2 and sheet.cell(1, 1).value == "时间" and sheet.cell(2, 2).value == rows[0]["小票号"]


def test_sales_are_filtered_by_local_days(app, scene, client):
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    from server.services.alliance import get_settings

    with app.app_context():  # both sales were made just now, on the same local day
        today = db.session.get(Sale, scene.sale_id).occurred_at.astimezone(ZoneInfo(get_settings().timezone)).date()
        db.session.remove()
    assert sign_in(client, "c-finance").status_code == 302

    def sale_ids(query: str) -> set[str]:
        text = page_text(client.get(f"/console/sales.csv?{query}")).lstrip("\ufeff")
        return {row["交易编号"] for row in csv.DictReader(io.StringIO(text))}

    both = {scene.sale_id, scene.other_sale_id}
    assert sale_ids(f"from={today}&to={today}") == both
    assert sale_ids(f"to={today - timedelta(days=1)}") == set()
    assert sale_ids(f"from={today + timedelta(days=1)}") == set()
    assert sale_ids("from=not-a-day") == both  # a mistyped day is ignored


def test_an_admin_changes_alliance_settings_and_a_level(app, scene, client):
    assert sign_in(client, "c-admin").status_code == 302
    data = {
        "name": "光明路商家联盟",
        "point_value_fen": "1",
        "level_window_days": "180",
        "offline_max_sale": "300.00",
        "offline_max_sales_per_shift": "20",
        "offline_max_age_hours": "12",
    }
    assert post_form(client, "/console/alliance", "/console/alliance", data).status_code == 302
    with app.app_context():
        settings = db.session.get(AllianceSettings, 1)
        assert (settings.name, settings.level_window_days, settings.offline_max_sale_fen) == (
            "光明路商家联盟",
            180,
            30_000,
        )
        db.session.remove()
    [entry] = audit_rows(app, "alliance.update")
    assert entry.details.pop("before")["level_window_days"] != 180  # the old values, for the log's diff
    assert entry.details == {
        "name": "光明路商家联盟",
        "level_window_days": 180,
        "offline_max_sale_fen": 30_000,
        "offline_max_sales_per_shift": 20,
        "offline_max_age_hours": 12,
    }
    silver = scene.world.levels["silver"]
    edit = f"/console/levels/{silver.id}/edit"
    level = {
        "name": "银卡",
        "name_en": "Silver",
        "upgrade_spend": "800",
        "keep_spend": "600",
        "protection_days": "60",
        "default_pays": "9.5",
        "min_pays": "9",
        "max_pays": "10",
    }
    assert post_form(client, edit, edit, level).status_code == 302
    assert post_form(client, edit, edit, {**level, "keep_spend": "900"}).status_code == 200  # keep above upgrade
    assert len(audit_rows(app, "level.update")) == 1
    finance = app.test_client()
    assert sign_in(finance, "c-finance").status_code == 302
    assert post_form(finance, "/console/alliance", "/console/alliance", data).status_code == 302
    assert len(audit_rows(app, "alliance.update")) == 1  # finance may read, not change


def test_chinese_by_default_english_on_request(scene, client):
    assert sign_in(client, "c-admin").status_code == 302
    chinese = page_text(client.get("/console/"))
    assert "仪表盘" in chinese and "今日销售额" in chinese
    english = page_text(client.get("/console/?lang=en"))
    assert "Dashboard" in english and "Sales today" in english and "仪表盘" not in english


def test_finance_adjusts_points_with_a_reason_through_the_ledger(app, scene, client):
    assert sign_in(client, "c-finance").status_code == 302
    page = f"/console/members/{scene.member.id}"
    url = f"{page}/points"
    assert post_form(client, page, url, {"points": "200", "reason": ""}).status_code == 422
    html = page_text(client.get(page))
    once = re.search(r'class="row g-2 align-items-end adjust-form">.*?name="once"[^>]*value="([^"]+)"', html, re.S)
    data = {"points": "-150", "reason": "重复积分更正", "once": once.group(1)}
    assert post_form(client, page, url, data).status_code == 302
    assert post_form(client, page, url, data).status_code == 302  # replayed, not applied twice
    with app.app_context():
        from server.services.members import get_member, points_balance

        balance = points_balance(get_member(scene.member.id))
        assert db.session.scalar(select(func.sum(LedgerEntry.amount))) == 0
        db.session.remove()
    assert balance == 500 - 100 - 100 + _earned(app, scene) - 150
    [entry] = audit_rows(app, "points.adjust")[-1:]
    assert entry.details == {"points": -150, "reason": "重复积分更正"}
    support = app.test_client()
    assert sign_in(support, "c-support").status_code == 302
    assert post_form(support, page, url, {"points": "5", "reason": "x"}).status_code == 403


def _earned(app, scene) -> int:
    with app.app_context():
        earned = db.session.scalar(select(func.sum(Sale.points_earned)))
        db.session.remove()
        return earned


def test_support_registers_a_member_and_binds_a_card(app, scene, client):
    with app.app_context():
        from server.services.members import create_cards

        card_no = create_cards("test", 1)[0].card_no
        db.session.remove()
    assert sign_in(client, "c-support").status_code == 302
    created = post_form(
        client, "/console/members", "/console/members/new", {"phone": "137 0000 1111", "display_name": "周芷若"}
    )
    assert created.status_code == 302 and "/console/members/mem_" in created.location
    detail = created.location
    assert "137****1111" in page_text(client.get(detail))
    bound = post_form(client, detail, f"{detail}/cards", {"card_no": card_no})
    assert bound.status_code == 302
    assert card_no in page_text(client.get(detail))
    with app.app_context():
        from server.services.members import issue_electronic_card

        member_id = detail.rsplit("/", 1)[1]
        ecard_no = issue_electronic_card(f"member:{member_id}", member_id).card_no  # as a phone registration does
        db.session.remove()
    html = page_text(client.get(detail))  # the kind stored, not guessed: neither card has a chip or a batch
    assert re.search(rf"{card_no}(</a>)?</strong>\s*<span[^>]*>印刷卡</span>", html) and re.search(
        rf"{ecard_no}(</a>)?</strong>\s*<span[^>]*>电子卡</span>", html
    )
    again = post_form(client, detail, f"{detail}/cards", {"card_no": card_no})  # already bound: refused, shown
    assert again.status_code == 302
    assert {"member.register", "card.bind"} <= {row.action for row in audit_rows(app, "member.register")} | {
        row.action for row in audit_rows(app, "card.bind")
    }
    duplicate = post_form(client, "/console/members", "/console/members/new", {"phone": "13700001111"})
    assert duplicate.status_code == 302 and duplicate.location.endswith("/console/members")


def test_card_batches_show_each_batch_encoding_progress(app, scene, client):
    from server.services import cards

    with app.app_context():
        first = cards.create_batch("test", 3, name="first batch")
        second = cards.create_batch("test", 2, name="second batch")
        cards.plan_encoding("test", first.id, "04A1B2C3")
        cards.confirm_encoding("test", first.id, "04A1B2C3")
        assert cards.batches_progress([first.id, second.id]) == {
            first.id: {"created": 2, "issued": 1},
            second.id: {"created": 2},
        }
        db.session.remove()
    assert sign_in(client, "c-card_issuer").status_code == 302
    html = page_text(client.get("/console/card-batches"))
    done = dict(re.findall(r'>(first batch|second batch)</a>.*?aria-valuenow="(\d+)"', html, re.DOTALL))
    assert done == {"first batch": "1", "second batch": "0"}
