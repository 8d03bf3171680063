"""The console's settlement, reports, points policy and service fee pages, through the services (test client)."""

from __future__ import annotations

import csv
import io
import subprocess
from datetime import UTC, date, datetime

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select, update

from server.api.finance_schemas import MerchantReportSchema
from server.extensions import db
from server.models import AllianceSettings, AuditLog, Merchant, Sale, Settlement, SettlementDay
from tests.clock import frozen_clock
from tests.console.support import build_console_world, page_text, post_form, sign_in

MORNING = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 Beijing time on business day 2026-03-02
AFTER = datetime(2026, 3, 2, 20, 30, tzinfo=UTC)  # the day is over
DAY = "2026-03-02"
SETTLEMENTS = "/console/settlements"


@pytest.fixture
def trading_day(app, client):
    """The console world's sales (one per shop) recorded on 2026-03-02; the clock then stands after the day."""
    with frozen_clock(MORNING) as clock:
        scene = build_console_world(app, client)
        clock.now = AFTER
        yield scene


def close_day(client, day: str = DAY):
    """Close ``day`` through the console's form (a fresh form: its own one-time key)."""
    return post_form(client, SETTLEMENTS, f"{SETTLEMENTS}/close", {"business_day": day})


def settlement_of(app, merchant_id: str) -> Settlement:
    with app.app_context():
        found = db.session.scalar(select(Settlement).where(Settlement.merchant_id == merchant_id))
        db.session.expunge_all()
        db.session.remove()
        return found


@pytest.fixture
def closed_day(app, client, trading_day):
    """The day closed by finance through the console; the finance user stays signed in on ``client``."""
    assert sign_in(client, "c-finance").status_code == 302
    assert close_day(client).status_code == 302
    return trading_day


def test_closing_a_day_twice_makes_one_settlement_per_merchant_and_one_audit_entry(app, client, trading_day):
    assert sign_in(client, "c-finance").status_code == 302
    html = page_text(client.get(SETTLEMENTS))
    assert "尚无已结账的营业日" in html and 'name="business_day"' in html
    first = close_day(client)
    assert first.status_code == 302 and first.location.endswith(f"{SETTLEMENTS}?from={DAY}&to={DAY}")
    assert "营业日 2026-03-02 已结账。" in page_text(client.get(first.location))
    again = close_day(client)
    assert again.status_code == 302
    assert "营业日 2026-03-02 早已结账，未做任何更改。" in page_text(client.get(again.location))
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(SettlementDay)) == 1
        assert db.session.scalar(select(func.count()).select_from(Settlement)) == 2
        [entry] = db.session.scalars(select(AuditLog).where(AuditLog.action == "settlement.close")).all()
        assert entry.object_id == DAY and entry.actor.startswith("staff:") and entry.details["merchants"] == 2
        db.session.remove()
    future = close_day(client, "2030-01-01")
    assert future.status_code == 409 and "该营业日尚未结束" in page_text(future)
    assert client.post(f"{SETTLEMENTS}/close", data={"business_day": DAY}).status_code == 400  # no CSRF token
    for role in ("owner-a", "support", "cashier-a", "card_issuer"):
        other = app.test_client()
        assert sign_in(other, f"c-{role}").status_code == 302
        assert 'name="business_day"' not in page_text(other.get(SETTLEMENTS))
        assert close_day(other).status_code == 403


def test_finance_sees_every_merchant_an_owner_only_their_own(app, client, closed_day):
    scene = closed_day
    a, b = scene.world.shop_a.merchant, scene.world.shop_b.merchant
    listing = page_text(client.get(SETTLEMENTS))  # default: the last closed day
    assert a.name in listing and b.name in listing and "合计" in listing
    a_row, b_row = settlement_of(app, a.id), settlement_of(app, b.id)
    assert b.name in page_text(client.get(f"{SETTLEMENTS}/{b_row.id}"))
    owner = app.test_client()
    assert sign_in(owner, "c-owner-a").status_code == 302
    own = page_text(owner.get(f"{SETTLEMENTS}?merchant_id={b.id}&from={DAY}&to={DAY}"))
    assert a.name in own and b.name not in own and b_row.id not in own
    assert owner.get(f"{SETTLEMENTS}/{a_row.id}").status_code == 200
    for url in (f"{SETTLEMENTS}/{b_row.id}", f"{SETTLEMENTS}/{b_row.id}/statement.csv"):
        assert owner.get(url).status_code == 404
    assert owner.get(f"{SETTLEMENTS}/{b_row.id}/statement.pdf").status_code == 404
    assert owner.get(f"{SETTLEMENTS}/reconciliation").status_code == 403
    report = page_text(owner.get("/console/reports/merchants"))
    assert a.name in report and b.name not in report
    assert owner.get("/console/reports/points").status_code == 403
    for role in ("support", "cashier-a", "card_issuer"):
        refused = app.test_client()
        assert sign_in(refused, f"c-{role}").status_code == 302
        for url in (SETTLEMENTS, f"{SETTLEMENTS}/{a_row.id}", "/console/reports/merchants", "/console/reports/points"):
            assert refused.get(url).status_code == 403, (role, url)
    too_long = page_text(client.get(f"{SETTLEMENTS}?from=2026-01-01&to=2026-06-30"))
    assert "最多 92 天" in too_long


def test_the_statement_lists_each_sale_and_its_csv_and_pdf_match_the_sales(app, client, closed_day):
    scene = closed_day
    row = settlement_of(app, scene.world.shop_a.merchant.id)
    with app.app_context():
        sales = db.session.scalars(select(Sale).where(Sale.merchant_id == row.merchant_id)).all()
        db.session.remove()
    assert len(sales) == 1
    html = page_text(client.get(f"{SETTLEMENTS}/{row.id}"))
    assert sales[0].receipt_no in html and f"/console/sales/{sales[0].id}" in html
    assert "¥" + f"{sales[0].payable_fen // 100:,}.{sales[0].payable_fen % 100:02d}" in html
    response = client.get(f"{SETTLEMENTS}/{row.id}/statement.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert f"statement-{DAY}-{row.merchant_id}.csv" in response.headers["Content-Disposition"]
    lines = list(csv.DictReader(io.StringIO(response.get_data().decode("utf-8-sig"))))  # one table
    sold = [line for line in lines if line["类型"] == "交易"]
    assert [(line["小票号"], yuan_fen(line["实付金额（元）"]), int(line["发放积分"])) for line in sold] == [
        (sale.receipt_no, sale.payable_fen, sale.points_earned) for sale in sales
    ]
    assert sum(yuan_fen(line["实付金额（元）"]) for line in lines) == row.member_sales_fen
    assert sum(yuan_fen(line["净额（元）"]) for line in lines) == row.net_fen
    workbook = client.get(f"{SETTLEMENTS}/{row.id}/statement.xlsx")
    assert workbook.status_code == 200 and workbook.headers["Content-Disposition"].endswith('.xlsx"')
    sheet = load_workbook(io.BytesIO(workbook.get_data())).active
    assert [cell.value for cell in sheet[1]][:3] == ["记账时间", "类型", "小票号"] and sheet.max_row == len(lines) + 1
    pdf = client.get(f"{SETTLEMENTS}/{row.id}/statement.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.get_data().startswith(b"%PDF")


def test_reconciliation_says_all_agree_then_names_a_corrupted_row(app, client, closed_day):
    page = f"{SETTLEMENTS}/reconciliation?day={DAY}"
    html = page_text(client.get(page))
    assert "营业日 2026-03-02 全部一致。" in html
    row = settlement_of(app, closed_day.world.shop_a.merchant.id)
    with app.app_context():
        db.session.execute(update(Settlement).where(Settlement.id == row.id).values(points_redeemed=499))
        db.session.commit()
        db.session.remove()
    html = page_text(client.get(page))
    assert "处不一致" in html and f"结算单 {row.id}" in html  # in Chinese, the merchant by name
    assert f"抵扣积分 记为 499，按消费记录应为 {row.points_redeemed}" in html and "甲" in html
    assert f"points_redeemed is 499, sales say {row.points_redeemed}" in html  # the English in the tooltip
    assert "营业日 2026-03-05 尚未结账" in page_text(client.get(f"{SETTLEMENTS}/reconciliation?day=2026-03-05"))


def test_reports_show_money_as_yuan_and_export_the_api_columns(app, client, closed_day):
    scene = closed_day
    a, b = settlement_of(app, scene.world.shop_a.merchant.id), settlement_of(app, scene.world.shop_b.merchant.id)
    merchants = page_text(client.get(f"/console/reports/merchants?from={DAY}&to={DAY}"))
    assert scene.world.shop_a.merchant.name in merchants and "按商户" in merchants
    total = a.member_sales_fen + b.member_sales_fen
    assert f"¥{total // 100:,}.{total % 100:02d}" in merchants
    exported = client.get(f"/console/reports/merchants.csv?from={DAY}&to={DAY}")
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(exported.get_data().decode("utf-8-sig"))))
    assert len(list(rows[0])) == len(MerchantReportSchema().fields) and "净额（元）" in rows[0]
    assert {row["商户编号"]: yuan_fen(row["净额（元）"]) for row in rows} == {
        a.merchant_id: a.net_fen,
        b.merchant_id: b.net_fen,
    }
    days = page_text(client.get("/console/reports/days"))
    assert DAY in days and "<svg" in days and "每日净头寸" in days
    levels = page_text(client.get("/console/reports/levels"))
    assert "按等级" in levels
    assert client.get("/console/reports/levels.csv").status_code == 200
    points = page_text(client.get("/console/reports/points"))
    assert "未兑积分（负债）" in points and "兑换率" in points and "即将过期" in points
    points_csv = client.get("/console/reports/points.csv").get_data().decode("utf-8-sig")
    header, values = list(csv.reader(io.StringIO(points_csv)))
    assert "注销积分" in header and "兑换率" in header and values[header.index("兑换率")].endswith("%")
    assert client.get("/console/reports").status_code == 302
    english = page_text(client.get("/console/reports/points?lang=en"))
    assert "Points outstanding (liability)" in english and "Redemption rate" in english
    assert "By merchant" in page_text(client.get("/console/reports/days?lang=en"))


def test_admin_sets_the_points_policy_and_the_cut_off_is_refused_after_a_closing(app, client, trading_day):
    admin = client
    assert sign_in(admin, "c-admin").status_code == 302
    page, action = "/console/alliance", "/console/alliance/points-policy"
    policy = {
        "points_expiry_policy": "months",
        "points_expiry_months": "18",
        "expiry_notice_days": "14",
        "business_day_cutoff_hour": "4",
    }
    assert post_form(admin, page, action, policy).status_code == 302
    assert post_form(admin, page, action, {**policy, "business_day_cutoff_hour": "24"}).status_code == 422
    with app.app_context():
        settings = db.session.get(AllianceSettings, 1)
        assert (settings.points_expiry_months, settings.expiry_notice_days, settings.business_day_cutoff_hour) == (
            18,
            14,
            4,
        )
        db.session.remove()
    finance = app.test_client()
    assert sign_in(finance, "c-finance").status_code == 302
    assert 'name="business_day_cutoff_hour"' not in page_text(finance.get(page))
    assert post_form(finance, page, action, policy).status_code == 403
    assert close_day(finance, "2026-03-01").status_code == 302  # a quiet day closed: the cut-off is fixed now
    refused = post_form(admin, page, action, {**policy, "business_day_cutoff_hour": "5"})
    assert refused.status_code == 409 and "已有营业日结账，营业日起始时刻不能再更改。" in page_text(refused)
    with app.app_context():
        assert db.session.get(AllianceSettings, 1).business_day_cutoff_hour == 4
        assert db.session.scalar(select(func.count()).where(AuditLog.action == "alliance.update")) == 1
        db.session.remove()


def test_service_fees_are_set_by_an_admin_on_the_merchant_page(app, client, trading_day):
    merchant = trading_day.world.shop_a.merchant
    edit = f"/console/merchants/{merchant.id}/edit"
    owner = app.test_client()
    assert sign_in(owner, "c-owner-a").status_code == 302
    assert owner.get(edit).status_code == 403
    assert sign_in(client, "c-admin").status_code == 302
    form = page_text(client.get(edit))
    assert 'name="service_fee"' in form and 'name="service_fee_per_sale"' in form
    data = {
        "name": merchant.name,
        "trade": merchant.trade,
        "region": "",
        "address": "",
        "contact_phone": "",
        "status": "active",
        "earn_rate": "1",
        "max_redeem": "50",
        "service_fee": "1.25",
        "service_fee_per_sale": "0.30",
    }
    assert post_form(client, edit, edit, data).status_code == 302
    assert post_form(client, edit, edit, {**data, "service_fee": "101"}).status_code == 200  # out of range
    with app.app_context():
        found = db.session.get(Merchant, merchant.id)
        assert (found.service_fee_bp, found.service_fee_per_sale_fen) == (125, 30)
        db.session.remove()
    assert "1.25%" in page_text(client.get(f"/console/merchants/{merchant.id}"))
    with frozen_clock(AFTER):
        assert close_day(client).status_code == 302
    row = settlement_of(app, merchant.id)
    assert (row.fee_bp, row.fee_per_sale_fen) == (125, 30) and row.service_fee_fen > 0
    assert date.fromisoformat(DAY) == row.business_day


def yuan_fen(text: str) -> int:
    """An exported yuan figure back to fen, exactly: ``-1.23`` → ``-123``."""
    whole, _, fen = text.lstrip("-").partition(".")
    return (-1 if text.startswith("-") else 1) * (int(whole) * 100 + int(fen))


def pdf_text(content: bytes) -> str:
    """The text of a PDF as poppler's pdftotext reads it."""
    return subprocess.run(["pdftotext", "-", "-"], input=content, capture_output=True, check=True).stdout.decode()


def test_bank_details_are_kept_encrypted_and_shown_in_full_to_finance_only(app, client, trading_day):
    merchant = trading_day.world.shop_a.merchant
    edit = f"/console/merchants/{merchant.id}/edit"
    assert sign_in(client, "c-admin").status_code == 302
    data = {
        "name": merchant.name,
        "trade": merchant.trade,
        "status": "active",
        "earn_rate": "1",
        "max_redeem": "50",
        "bank_account_name": "甲店餐饮有限公司",
        "bank_name": "中国银行杭州西湖支行",
        "bank_account_no": "6217 8560 0001 2345 678",
    }
    assert post_form(client, edit, edit, {**data, "bank_account_no": "12-34"}).status_code == 200  # refused
    assert post_form(client, edit, edit, data).status_code == 302
    assert post_form(client, edit, edit, {**data, "bank_account_no": ""}).status_code == 302  # empty: kept
    with app.app_context():
        found = db.session.get(Merchant, merchant.id)
        assert b"5678" not in found.bank_account_ciphertext and found.bank_account_masked == "**** **** 5678"
        audit_text = " ".join(str(row.details) for row in db.session.scalars(select(AuditLog)))
        assert "62178560" not in audit_text
        db.session.remove()
    detail = page_text(client.get(f"/console/merchants/{merchant.id}"))
    assert "**** **** 5678" in detail and "6217856000012345678" not in detail
    assert "6217856000012345678" not in page_text(client.get(edit))
    assert sign_in(client, "c-finance").status_code == 302
    assert close_day(client).status_code == 302
    row = settlement_of(app, merchant.id)
    statement = page_text(client.get(f"{SETTLEMENTS}/{row.id}"))
    assert "中国银行杭州西湖支行" in statement and "**** **** 5678" in statement
    for_finance = pdf_text(client.get(f"{SETTLEMENTS}/{row.id}/statement.pdf").get_data())
    assert "6217856000012345678" in for_finance and "中国银行杭州西湖支行" in for_finance
    owner = app.test_client()
    assert sign_in(owner, "c-owner-a").status_code == 302
    for_owner = pdf_text(owner.get(f"{SETTLEMENTS}/{row.id}/statement.pdf").get_data())
    assert "5678" in for_owner and "6217856000012345678" not in for_owner


def test_finance_marks_a_statement_paid_in_the_console(app, client, closed_day):
    row = settlement_of(app, closed_day.world.shop_a.merchant.id)
    page, action = f"{SETTLEMENTS}/{row.id}", f"{SETTLEMENTS}/{row.id}/payment"
    assert "未付款" in page_text(client.get(page))
    assert "未付款" in pdf_text(client.get(f"{page}/statement.pdf").get_data())
    done = post_form(client, page, action, {"paid": "1", "reference": "BANK-0042"})
    assert done.status_code == 302
    shown = page_text(client.get(page))
    assert "已付款" in shown and "BANK-0042" in shown and "标记为未付款" in shown
    assert "已付款" in page_text(client.get(f"{SETTLEMENTS}?from={DAY}&to={DAY}"))
    listed = client.get(f"{SETTLEMENTS}.csv?from={DAY}&to={DAY}").get_data().decode("utf-8-sig")
    by_number = {line["结算单号"]: line for line in csv.DictReader(io.StringIO(listed))}
    assert by_number[row.id]["付款状态"] == "已付款" and by_number[row.id]["付款流水号"] == "BANK-0042"
    assert "已于" in pdf_text(client.get(f"{page}/statement.pdf").get_data())
    owner = app.test_client()
    assert sign_in(owner, "c-owner-a").status_code == 302
    assert "标记为" not in page_text(owner.get(page))  # no payment form for the merchant
    assert post_form(owner, page, action, {"paid": "0"}).status_code == 403
    assert post_form(client, page, action, {"paid": "0"}).status_code == 302
    assert "未付款" in page_text(client.get(page))
    with app.app_context():
        actions = db.session.scalars(
            select(AuditLog.action).where(AuditLog.object_id == row.id).order_by(AuditLog.id)
        ).all()
        db.session.remove()
    assert actions == ["settlement.paid", "settlement.unpaid"]
