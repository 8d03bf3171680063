"""Files for accountants (server/exports.py): one table per file, Chinese headers, yuan, the alliance's time."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from openpyxl import load_workbook

from server.api.finance_schemas import PointsReportSchema
from server.exports import Column, csv_bytes, percent_text, schema_download, xlsx_bytes, yuan_text

COLUMNS = (
    Column("recorded_at", _l("Recorded at"), "time"),
    Column("net_fen", _l("Net position (¥)"), "yuan"),
    Column("fee_bp", _l("Service fee rate"), "percent"),
    Column("points_granted", _l("Points granted"), "int"),
    Column("business_day", _l("Business day"), "date"),
)
ROWS = [
    {
        "recorded_at": datetime(2026, 3, 2, 2, 6, tzinfo=UTC),  # 10:06 in Shanghai
        "net_fen": -2_746,
        "fee_bp": 60,
        "points_granted": 95,
        "business_day": date(2026, 3, 2),
    },
    {"recorded_at": datetime(2026, 3, 2, 19, 30, tzinfo=UTC), "net_fen": 5, "fee_bp": 10_000, "points_granted": 0},
]


def test_money_and_rates_are_written_exactly():
    assert [yuan_text(fen) for fen in (0, 5, -2_746, 123_456_789)] == ["0.00", "0.05", "-27.46", "1234567.89"]
    assert [percent_text(bp) for bp in (60, 1_250, 10_000, -5)] == ["0.60%", "12.50%", "100.00%", "-0.05%"]


def test_csv_is_one_table_with_chinese_headers_yuan_and_local_time(app):
    with app.test_request_context("/"):
        content = csv_bytes(COLUMNS, ROWS)
    assert content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert rows[0] == ["记账时间", "净额（元）", "服务费率", "发放积分", "营业日"]
    assert rows[1] == ["2026-03-02 10:06:00", "-27.46", "0.60%", "95", "2026-03-02"]
    assert rows[2] == ["2026-03-03 03:30:00", "0.05", "100.00%", "0", ""]
    assert len(rows) == 3 and all(len(row) == len(COLUMNS) for row in rows)  # no second table, no blank rows


def test_headers_follow_the_language_setting(app):
    with app.test_request_context("/?lang=en"):
        content = csv_bytes(COLUMNS, ROWS)
    assert (
        content.decode("utf-8-sig").splitlines()[0]
        == "Recorded at,Net position (¥),Service fee rate,Points granted,Business day"
    )


def test_xlsx_holds_numbers_local_times_and_one_sheet(app):
    with app.test_request_context("/"):
        workbook = load_workbook(io.BytesIO(xlsx_bytes(COLUMNS, ROWS, "结算单")))
    assert workbook.sheetnames == ["结算单"]
    sheet = workbook.active
    assert [cell.value for cell in sheet[1]] == ["记账时间", "净额（元）", "服务费率", "发放积分", "营业日"]
    first = [cell for cell in sheet[2]]
    assert first[0].value == datetime(2026, 3, 2, 10, 6)  # the alliance's time, as a real date-time
    assert Decimal(str(first[1].value)) == Decimal("-27.46") and first[1].number_format == "#,##0.00"
    assert Decimal(str(first[2].value)) == Decimal("0.006") and first[2].number_format == "0.00%"
    assert first[3].value == 95 and sheet.max_row == 3


def test_schema_exports_label_every_field_and_guess_its_kind(app):
    report = {name: 0 for name in PointsReportSchema().fields} | {"as_of": date(2026, 3, 2), "breakage_rate_bp": 125}
    with app.test_request_context("/"):
        response = schema_download([report], PointsReportSchema, "csv", "points")
        text = response.get_data().decode("utf-8-sig")
    assert response.headers["Content-Disposition"] == 'attachment; filename="points.csv"'
    header, values = list(csv.reader(io.StringIO(text)))
    assert all(not name.isascii() for name in header), header  # every header has its Chinese label
    assert values[header.index("沉淀率")] == "1.25%" and values[header.index("截至")] == "2026-03-02"
    assert values[header.index("未兑积分价值（元）")] == "0.00"


def test_xlsx_keeps_a_name_with_control_characters(app):
    """A name typed with a control character (which XML cannot hold) is exported, the character marked."""
    columns = (Column("name", _l("Name"), "text"),)
    with app.test_request_context("/"):
        workbook = load_workbook(io.BytesIO(xlsx_bytes(columns, [{"name": "甲店\x01\x1b分店"}], "商户")))
    assert workbook.active["A2"].value == "甲店\ufffd\ufffd分店"
