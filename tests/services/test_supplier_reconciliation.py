"""Supplier reconciliation on a month with codes in every state: each figure, the amount due, the difference
report (short delivery, invoice off, a code in an impossible state), and the CSV/XLSX/PDF files."""

from __future__ import annotations

import base64
import csv
import io
import re
import zlib
from datetime import UTC, date, datetime

import pytest
from openpyxl import load_workbook

from server.domain.errors import InvalidRequest, NotFound
from server.extensions import db
from server.services import benefit_alerts
from server.services import supplier_reconciliation as recon
from tests.benefit_ops_support import add_codes, make_purchase, make_sku, make_supplier
from tests.builders import ACTOR, make_member, make_world


def nov(day, hour=4):
    return datetime(2026, 11, day, hour, tzinfo=UTC)  # noon in Shanghai


@pytest.fixture
def scenario(ctx):
    world = make_world()
    member = make_member(with_card=False)[0]
    shop = world.shop_a.merchant.id
    supplier = make_supplier("华夏卡券")
    video, coffee = make_sku("视频月卡"), make_sku("咖啡券")
    p1 = make_purchase(supplier, video, 11, 1_000, date(2026, 11, 3), invoice_number="INV-1", received_at=nov(5))
    held = {"issued_at": nov(10), "member_id": member.id}
    add_codes(p1, 2, received_at=nov(5))
    add_codes(p1, 1, status="reserved", received_at=nov(5))
    issued = add_codes(p1, 2, status="issued", received_at=nov(5), **held)
    add_codes(p1, 2, status="redeemed", received_at=nov(5), redeemed_at=nov(12), redeemed_merchant_id=shop, **held)
    bad = add_codes(p1, 1, status="redeemed", received_at=nov(5), redeemed_at=nov(12), member_id=member.id)
    void = add_codes(p1, 1, status="void", received_at=nov(5), voided_at=nov(15), **held)
    add_codes(p1, 1, status="expired", received_at=nov(5), expired_at=nov(20), expires_on=date(2026, 11, 19))
    # bought in October, received in November
    p2 = make_purchase(supplier, coffee, 5, 2_000, date(2026, 10, 28), received_at=nov(2))
    add_codes(p2, 5, received_at=nov(2))
    # outside the month: bought and received in December
    p3 = make_purchase(supplier, video, 4, 1_000, date(2026, 12, 1), received_at=datetime(2026, 12, 1, 4, tzinfo=UTC))
    add_codes(p3, 4, received_at=datetime(2026, 12, 1, 4, tzinfo=UTC))
    recon.record_invoice(ACTOR, p1.id, 11_500, "INV-1")
    claim = benefit_alerts.report_failed_code(ACTOR, issued[0].id, "兑换时提示卡密无效")
    rejected = benefit_alerts.report_failed_code(ACTOR, void[0].id, "会员说无法使用")
    benefit_alerts.resolve_claim(ACTOR, rejected.id, credited=False)
    for made in (claim, rejected):
        made.reported_at = nov(20)
    db.session.commit()
    return supplier, p1, bad[0]


def test_each_figure_of_the_month_and_the_amount_due(scenario):
    supplier, _, _ = scenario
    report = recon.supplier_month(supplier.id, "2026-11")
    lines = {line["sku_name"]: line for line in report["lines"]}
    assert lines["视频月卡"] == {
        "sku_id": lines["视频月卡"]["sku_id"],
        "sku_name": "视频月卡",
        "bought": 11,
        "bought_cost_fen": 11_000,
        "received": 10,
        "received_cost_fen": 10_000,
        "issued": 5,  # two still issued, two redeemed, one void (the bad code has no issue time)
        "redeemed": 3,
        "void": 1,
        "expired": 1,
        "failed": 1,  # the rejected claim does not count
        "credit_fen": 1_000,
        "due_fen": 9_000,
    }
    assert (lines["咖啡券"]["bought"], lines["咖啡券"]["received"], lines["咖啡券"]["due_fen"]) == (0, 5, 10_000)
    total = report["total"]
    assert (total["received"], total["received_cost_fen"], total["credit_fen"], total["due_fen"]) == (
        15,
        20_000,
        1_000,
        19_000,
    )
    december = recon.supplier_month(supplier.id, "2026-12")["total"]
    assert (december["bought"], december["received"], december["due_fen"]) == (4, 4, 4_000)


def test_the_difference_report_names_what_does_not_add_up(scenario):
    supplier, p1, bad = scenario
    found = [str(d) for d in recon.supplier_month(supplier.id, "2026-11")["differences"]]
    assert found == [
        f"purchase {p1.id}: 11 codes bought, 10 received",
        f"purchase {p1.id}: invoice INV-1 totals 11500 fen, unit cost × quantity is 11000 fen",
        f"code {bad.id} (…{bad.last4}) is redeemed but was never issued",
    ]


def test_bad_month_or_supplier_is_refused(ctx):
    supplier = make_supplier()
    with pytest.raises(InvalidRequest):
        recon.supplier_month(supplier.id, "2026-13")
    with pytest.raises(NotFound):
        recon.supplier_month("sup_nobody", "2026-11")


ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}


def pdf_literal(raw: bytes) -> bytes:
    """A PDF literal string's bytes: its backslash escapes (octal, named, escaped) undone."""
    out, i = bytearray(), 0
    while i < len(raw):
        byte = raw[i : i + 1]
        if byte != b"\\":
            out += byte
            i += 1
            continue
        octal = re.match(rb"[0-7]{1,3}", raw[i + 1 : i + 4])
        if octal:
            out.append(int(octal.group(0), 8) & 0xFF)
            i += 1 + len(octal.group(0))
        else:
            nxt = raw[i + 1 : i + 2]
            out += ESCAPES.get(nxt, nxt)
            i += 2
    return bytes(out)


def pdf_text_runs(pdf: bytes) -> str:
    """The text drawn in the PDF (a small extraction: no PDF reader is installed): content streams undone
    (ASCII85, then Flate), each shown string read as UTF-16 (the CID font's encoding, UniGB-UCS2-H)."""
    runs = []
    for stream in re.findall(rb"stream\r?\n(.*?)endstream", pdf, re.S):
        stream = stream.strip()
        try:
            content = zlib.decompress(base64.a85decode(stream[:-2] if stream.endswith(b"~>") else stream))
        except (ValueError, zlib.error):
            continue
        for literal in re.findall(rb"\(((?:\\.|[^\\)])*)\)\s*Tj", content, re.S):
            runs.append(pdf_literal(literal).decode("utf-16-be", "replace"))
    return " ".join(runs)


def test_files_open_csv_xlsx_and_pdf_in_chinese(scenario, app):
    supplier, _, _ = scenario
    report = recon.supplier_month(supplier.id, "2026-11")
    with app.test_request_context("/"):
        rows = list(csv.reader(io.StringIO(recon.reconciliation_table(report, "csv").decode("utf-8-sig"))))
        workbook = load_workbook(io.BytesIO(recon.reconciliation_table(report, "xlsx")))
        pdf = recon.reconciliation_pdf(report, "幸福街商家联盟")
    assert rows[0][0] == "权益产品" and rows[0][-1] == "应付金额（元）"
    assert rows[-1][0] == "合计" and rows[-1][-1] == "190.00"
    sheet = workbook.active
    values = list(sheet.values)
    assert values[0][0] == "权益产品" and len(values) == 4
    assert values[-1][-1] == 190 and values[-1][1] == 11  # the total: yuan as a number, counts as integers
    assert pdf.startswith(b"%PDF")
    text = pdf_text_runs(pdf)
    assert "华夏卡券" in text and "供应商对账" in text and "190.00" in text
