"""The console's benefit pages (权益): each renders for the benefits manager and is refused to roles without the
permission; revealing a code needs its own permission; alerts are acknowledged; the reconciliation downloads
open; consigning stock to an agent invoices it at the level price."""

from __future__ import annotations

import io
import re

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from server.extensions import db
from server.models import BenefitAlert, BenefitCode, BenefitConsignment
from server.services import staff
from tests.builders import ACTOR
from tests.console.support import (
    PASSWORD,
    build_console_world,
    page_text,
    post_form,
    seed_every_kind_of_object,
    sign_in,
)

PAGES = (
    "/console/benefits/catalogue",
    "/console/benefits/catalogue/new",
    "/console/benefits/suppliers",
    "/console/benefits/purchases",
    "/console/benefits/stock",
    "/console/benefits/demands",
    "/console/benefits/alerts",
    "/console/benefits/reconciliation",
    "/console/benefits/consignments",
)


@pytest.fixture
def scene(app, client):
    scene = build_console_world(app, client)
    ids = seed_every_kind_of_object(app, client, scene)
    with app.app_context():
        staff.create_staff_user(ACTOR, "c-benefits", "benefits_manager", PASSWORD)
        db.session.commit()
    return ids


def test_every_benefit_page_renders_for_the_benefits_manager(scene, client):
    assert sign_in(client, "c-benefits").status_code == 302
    for url in (*PAGES, f"/console/benefits/purchases/{scene['purchase_id']}"):
        response = client.get(url)
        assert response.status_code == 200, url
    text = page_text(client.get("/console/benefits/alerts"))
    assert "库存不足" in text and "视频月卡" in text
    catalogue = page_text(client.get("/console/benefits/catalogue"))
    assert "视频月卡" in catalogue and "¥18.00" in catalogue  # the county agent level's price
    menu = page_text(client.get("/console/benefits/stock"))
    assert "权益" in menu and "供应商对账" in menu
    assert "查看卡密" not in menu  # no read-secrets permission: no menu entry
    assert client.get("/console/benefits/reveal").status_code == 403


@pytest.mark.parametrize("username", ["c-finance", "c-support", "c-owner-a"])
def test_roles_without_the_permission_are_refused(scene, client, username):
    assert sign_in(client, username).status_code == 302
    for url in PAGES:
        assert client.get(url).status_code == 403, (username, url)


def test_alerts_are_acknowledged_from_the_page(app, scene, client):
    sign_in(client, "c-benefits")
    with app.app_context():
        alert_id = db.session.scalar(select(BenefitAlert.id).where(BenefitAlert.kind == "low_stock"))
    response = post_form(client, "/console/benefits/alerts", f"/console/benefits/alerts/{alert_id}/acknowledge", {})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(BenefitAlert, alert_id).status == "acknowledged"


def test_reconciliation_downloads_open(app, scene, client):
    sign_in(client, "c-benefits")
    html = page_text(client.get("/console/benefits/reconciliation"))
    assert "华夏卡券" in html and "INV-0001" in html  # the purchase offered for its invoice
    query = client.get("/console/benefits/reconciliation").get_data(as_text=True)
    assert "reconciliation.xlsx?supplier=" in query
    supplier = query.split("reconciliation.xlsx?supplier=", 1)[1].split("&", 1)[0]
    month = query.split("&amp;month=", 1)[1].split('"', 1)[0]
    xlsx = client.get(f"/console/benefits/reconciliation.xlsx?supplier={supplier}&month={month}")
    assert xlsx.status_code == 200
    assert list(load_workbook(io.BytesIO(xlsx.data)).active.values)[0][0] == "权益产品"
    pdf = client.get(f"/console/benefits/reconciliation.pdf?supplier={supplier}&month={month}")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    csv = client.get(f"/console/benefits/reconciliation.csv?supplier={supplier}&month={month}")
    assert csv.data.decode("utf-8-sig").splitlines()[0].startswith("权益产品,")


def test_consigning_from_the_page_invoices_the_agent(app, scene, client):
    sign_in(client, "c-benefits")
    with app.app_context():
        sku_id = db.session.scalar(select(BenefitCode.sku_id).limit(1))
    data = {"agent_id": scene["agent_id"], "sku_id": sku_id, "quantity": "3"}
    response = post_form(client, "/console/benefits/consignments", "/console/benefits/consignments", data)
    assert response.status_code == 302
    with app.app_context():
        amounts = sorted(db.session.scalars(select(BenefitConsignment.amount_fen)))
    assert amounts == [3_600, 5_400]
    assert "¥54.00" in page_text(client.get("/console/benefits/consignments"))


def test_an_admin_reveals_a_code_with_a_reason_and_the_page_is_not_cached(app, scene, client):
    sign_in(client, "c-admin")
    page = client.get("/console/benefits/reveal")
    assert page.status_code == 200
    response = post_form(
        client, "/console/benefits/reveal", "/console/benefits/reveal", {"code_id": "bcd_x", "reason": ""}
    )
    assert response.status_code == 422 and response.headers["Cache-Control"] == "no-store"


def test_a_sku_is_edited_with_its_alert_settings_and_agent_prices(app, scene, client):
    sign_in(client, "c-benefits")
    url = f"/console/benefits/catalogue/{scene['sku_id']}/edit"
    html = page_text(client.get(url))
    assert 'value="18.00"' in html and "视频月卡" in html  # the agent level's price, filled in
    assert re.search(r'<input checked[^>]*name="restore_on_refund"', html)  # on by default
    data = {
        "code": "ignored",
        "kind": "third_party_code",
        "name": "视频月卡（新）",
        "face_value": "25.00",
        "sale_price": "19.90",
        "scope": "all",
        "low_stock_threshold": "5",
        "near_expiry_days": "10",
        f"price_{scene['agent_level_id']}": "17.50",
    }
    assert post_form(client, url, url, data).status_code == 302
    with app.app_context():
        from server.services import benefit_catalog

        sku = benefit_catalog.sku_details(benefit_catalog.get_sku(scene["sku_id"]))
    assert (sku["name"], sku["low_stock_threshold"], sku["near_expiry_days"]) == ("视频月卡（新）", 5, 10)
    assert sku["restore_on_refund"] is False  # the box left unticked
    assert sku["code"] != "ignored" and sku["agent_prices"] == {scene["agent_level_id"]: 1_750}
    bad = post_form(client, url, url, data | {f"price_{scene['agent_level_id']}": "abc"})
    assert bad.status_code == 422


def test_a_purchase_is_added_and_its_file_imported_with_the_rejected_rows_shown(app, scene, client):
    sign_in(client, "c-benefits")
    with app.app_context():
        sku_id = db.session.scalar(select(BenefitCode.sku_id).limit(1))
        from server.models import Supplier

        supplier_id = db.session.scalar(select(Supplier.id).limit(1))
    data = {
        "sku_id": sku_id,
        "supplier_id": supplier_id,
        "source": "file_import",
        "quantity": "3",
        "unit_cost": "15.00",
        "invoice_number": "INV-0002",
        "purchase_date": "2026-12-01",
    }
    added = post_form(client, "/console/benefits/purchases", "/console/benefits/purchases", data)
    assert added.status_code == 302 and "/console/benefits/purchases/" in added.location
    url = added.location
    page = page_text(client.get(url))
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    once = re.search(r'name="once"[^>]*value="([^"]+)"', page).group(1)
    codes = b"code,secret,expiry\nAB12CD34,S1,2099-01-31\nAB12CD34,S2,2099-01-31\nEF56GH78,S3,\n"
    codes += b"".join(
        b"PAD%07d,SECRET-%07d,2099-01-31\n" % (n, n) for n in range(3_000)
    )  # 100 KB: above a form's limit
    response = client.post(
        url,
        data={"csrf_token": csrf, "once": once, "all_or_nothing": "y", "file": (io.BytesIO(codes), "codes.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    shown = page_text(client.get(url))
    assert "卡号在本文件前面已出现过。" in shown and "****CD34" in shown and "已拒绝" in shown
    with app.app_context():
        assert db.session.scalar(select(func.count(BenefitCode.id)).where(BenefitCode.last4 == "CD34")) == 0


def test_a_consignment_payment_is_recorded_with_its_reference(app, scene, client):
    sign_in(client, "c-benefits")
    with app.app_context():
        consignment_id = db.session.scalar(select(BenefitConsignment.id))
    url = "/console/benefits/consignments"
    response = post_form(client, url, url, {"paid": consignment_id, "reference": "转账 20261206"})
    assert response.status_code == 302
    with app.app_context():
        paid = db.session.get(BenefitConsignment, consignment_id)
        assert (paid.status, paid.payment_reference) == ("paid", "转账 20261206")
    assert "已付款" in page_text(client.get(url))
