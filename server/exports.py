"""Files for accountants: every table the API and the console export, as CSV or XLSX, one table per file.

Headers in the reader's language (Chinese by default, English with the language setting), money as
yuan with two decimals (exact, from integer fen), times in the alliance's time zone (the one format of
``server.formatting``), rates as percentages. CSV is UTF-8 with a BOM so spreadsheet programs read
Chinese; XLSX (openpyxl) holds real numbers and dates with their display formats.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from flask import Response, stream_with_context
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import to_user_timezone
from marshmallow import fields as schema_fields

from server.formatting import local_time

FORMATS = ("csv", "xlsx")
MIMETYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
TIME_PATTERN = "yyyy-MM-dd HH:mm:ss"
XLSX_FORMATS = {"yuan": "#,##0.00", "percent": "0.00%", "time": "yyyy-mm-dd hh:mm:ss", "date": "yyyy-mm-dd"}

# Column headers (English msgids, translated when a file is written) of the fields exports share.
LABELS = {
    "id": _l("ID"),
    "settlement_id": _l("Statement number"),
    "merchant_id": _l("Merchant ID"),
    "merchant_name": _l("Merchant"),
    "merchant": _l("Merchant"),
    "business_day": _l("Business day"),
    "status": _l("Status"),
    "paid": _l("Payment"),
    "paid_at": _l("Paid at"),
    "payment_reference": _l("Payment reference"),
    "days": _l("Days"),
    "merchants": _l("Merchants"),
    "sales_count": _l("Number of sales"),
    "member_sales_fen": _l("Member sales (¥)"),
    "refunds_count": _l("Number of refunds"),
    "refunds_fen": _l("Refunded (¥)"),
    "points_earned": _l("Points earned"),
    "points_redeemed": _l("Points redeemed"),
    "points_reversed": _l("Points taken back by refunds"),
    "points_restored": _l("Points given back by refunds"),
    "points_granted": _l("Points granted"),
    "points_accepted": _l("Points accepted"),
    "point_value_fen": _l("Point value (¥)"),
    "granted_value_fen": _l("Granted value (¥)"),
    "accepted_value_fen": _l("Accepted value (¥)"),
    "fee_bp": _l("Service fee rate"),
    "fee_per_sale_fen": _l("Service fee per sale (¥)"),
    "service_fee_fen": _l("Service fee (¥)"),
    "commission_fen": _l("Commission (¥)"),
    "net_fen": _l("Net position (¥)"),
    "closed_at": _l("Closed at"),
    "level_code": _l("Level code"),
    "level_name": _l("Level"),
    "amount_fen": _l("Amount (¥)"),
    "discount_fen": _l("Discount (¥)"),
    "refunded_fen": _l("Refunded (¥)"),
    "as_of": _l("As of"),
    "points_outstanding": _l("Points outstanding"),
    "outstanding_value_fen": _l("Outstanding value (¥)"),
    "points_adjusted": _l("Points adjusted"),
    "points_expired": _l("Points expired"),
    "points_forfeited": _l("Points forfeited"),
    "breakage_value_fen": _l("Breakage value (¥)"),
    "redemption_rate_bp": _l("Redemption rate"),
    "breakage_rate_bp": _l("Breakage rate"),
    "expiry_notice_days": _l("Expiry notice (days)"),
    "points_expiring_soon": _l("Points expiring soon"),
    "open_lots": _l("Open points lots"),
}


@dataclass(frozen=True)
class Column:
    """One column of an exported table: the row key, its header and how its values are written.

    ``kind``: ``text``, ``int``, ``yuan`` (integer fen), ``percent`` (basis points), ``time`` (UTC
    datetime, written in the alliance's time zone) or ``date``.
    """

    key: str
    label: object
    kind: str = "text"


def _kind_of(name: str, field) -> str:
    if name.endswith("_fen"):
        return "yuan"
    if name.endswith("_bp"):
        return "percent"
    if isinstance(field, schema_fields.DateTime):
        return "time"
    if isinstance(field, schema_fields.Date):
        return "date"
    if isinstance(field, schema_fields.Integer):
        return "int"
    return "text"


def columns_of(schema, skip: Sequence[str] = ()) -> tuple[Column, ...]:
    """The columns of an API schema's fields, in the schema's order."""
    return tuple(
        Column(name, LABELS.get(name, name), _kind_of(name, field))
        for name, field in schema().fields.items()
        if name not in skip
    )


def yuan_text(amount_fen: int) -> str:
    """Integer fen as a plain yuan figure with two decimals for spreadsheets: ``-1234`` → ``-12.34``."""
    sign = "-" if amount_fen < 0 else ""
    whole, fen = divmod(abs(amount_fen), 100)
    return f"{sign}{whole}.{fen:02d}"


def percent_text(rate_bp: int) -> str:
    """Basis points as a percentage: ``125`` → ``1.25%``."""
    sign = "-" if rate_bp < 0 else ""
    whole, rest = divmod(abs(rate_bp), 100)
    return f"{sign}{whole}.{rest:02d}%"


def cell_text(kind: str, value) -> str:
    """A value as CSV text."""
    if value is None:
        return ""
    if kind == "yuan":
        return yuan_text(int(value))
    if kind == "percent":
        return percent_text(int(value))
    if kind == "time" and isinstance(value, datetime):
        return local_time(value, TIME_PATTERN)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    return str(value)


def cell_value(kind: str, value):
    """A value as an XLSX cell value: exact decimals for money and rates, local times without a zone."""
    if value is None:
        return None
    if kind == "yuan":
        return Decimal(int(value)).scaleb(-2)
    if kind == "percent":
        return Decimal(int(value)).scaleb(-4)
    if kind == "time" and isinstance(value, datetime):
        return to_user_timezone(value).replace(tzinfo=None)
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    return value


def headers(columns: Sequence[Column]) -> list[str]:
    """The header row in the reader's language."""
    return [str(column.label) for column in columns]


def csv_bytes(columns: Sequence[Column], rows: Iterable[dict]) -> bytes:
    """The table as a CSV file (UTF-8 with BOM)."""
    return "".join(_csv_chunks(columns, rows)).encode("utf-8")


def _csv_chunks(columns: Sequence[Column], rows: Iterable[dict]):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(headers(columns))
    yield "\ufeff" + buffer.getvalue()
    for row in rows:
        buffer.seek(0), buffer.truncate()
        writer.writerow([cell_text(column.kind, row.get(column.key)) for column in columns])
        yield buffer.getvalue()


def xlsx_bytes(columns: Sequence[Column], rows: Iterable[dict], title: str = "") -> bytes:
    """The table as an XLSX workbook of one sheet (header row frozen, number formats set)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=(title or "Sheet1")[:31])
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    header_row = []
    for text in headers(columns):
        cell = WriteOnlyCell(sheet, value=text)
        cell.font = bold
        header_row.append(cell)
    sheet.append(header_row)
    for row in rows:
        cells = []
        for column in columns:
            value = cell_value(column.kind, row.get(column.key))
            if isinstance(value, str):  # control characters someone typed into a name: XML cannot hold them
                value = ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)
            cell = WriteOnlyCell(sheet, value=value)
            if column.kind in XLSX_FORMATS:
                cell.number_format = XLSX_FORMATS[column.kind]
            cells.append(cell)
        sheet.append(cells)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def download(content: bytes, mimetype: str, filename: str) -> Response:
    """``content`` as a file download named ``filename``."""
    return Response(content, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def table_download(columns: Sequence[Column], rows: Iterable[dict], fmt: str, stem: str) -> Response:
    """One table as ``stem.csv`` (streamed: exports may be large) or ``stem.xlsx``."""
    filename = f"{stem}.{fmt}"
    if fmt == "xlsx":
        return download(xlsx_bytes(columns, rows, stem), MIMETYPES["xlsx"], filename)
    headers_ = {"Content-Disposition": f'attachment; filename="{filename}"'}
    return Response(stream_with_context(_csv_chunks(columns, rows)), mimetype=MIMETYPES["csv"], headers=headers_)


def schema_download(rows: list[dict], schema, fmt: str, stem: str, skip: Sequence[str] = ()) -> Response:
    """Report rows as one table with the API schema's fields as columns."""
    return table_download(columns_of(schema, skip), rows, fmt, stem)
