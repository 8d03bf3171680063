"""A merchant's settlement statement as one table (CSV or XLSX) and as a printable PDF (reportlab, Chinese CID font).

The lines are those of ``settlement.statement_lines``: every sale and refund, then the service fee on
net member sales (and commissions), so the lines' net positions add up to the statement's total.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from server.exports import Column, cell_text, csv_bytes, percent_text, xlsx_bytes
from server.formatting import local_time, yuan
from server.models import Settlement

LINE_KINDS = {
    "sale": _l("Sale"),
    "refund": _l("Refund"),
    "service_fee": _l("Service fee on net member sales"),
    "commission": _l("Commission"),
    "voucher": _l("Voucher accepted"),
    "voucher_refund": _l("Voucher share refunded"),
    "voucher_sponsored": _l("Sponsored voucher accepted elsewhere"),
    "voucher_sponsored_refund": _l("Sponsored voucher share refunded"),
}
LINE_COLUMNS = (
    Column("recorded_at", _l("Recorded at"), "time"),
    Column("kind_label", _l("Kind"), "text"),
    Column("receipt_no", _l("Receipt"), "text"),
    Column("amount_fen", _l("Amount (¥)"), "yuan"),
    Column("money_fen", _l("Paid in money (¥)"), "yuan"),
    Column("points_granted", _l("Points granted"), "int"),
    Column("points_accepted", _l("Points accepted"), "int"),
    Column("granted_value_fen", _l("Granted value (¥)"), "yuan"),
    Column("accepted_value_fen", _l("Accepted value (¥)"), "yuan"),
    Column("fee_fen", _l("Fees (¥)"), "yuan"),
    Column("voucher_fen", _l("Voucher value (¥)"), "yuan"),
    Column("voucher_owed_fen", _l("Owed for vouchers (¥)"), "yuan"),
    Column("net_fen", _l("Net position (¥)"), "yuan"),
)
CJK_FONT = "STSong-Light"  # reportlab's built-in Adobe CID font: no font file needed


@dataclass(frozen=True)
class StatementParty:
    """Who the statement is for and where it is paid (the account number masked unless shown to finance)."""

    merchant_name: str
    bank_account_name: str = ""
    bank_name: str = ""
    bank_account_no: str = ""


def labelled(lines: list[dict]) -> list[dict]:
    """The lines with their kind in the reader's language."""
    return [{**line, "kind_label": str(LINE_KINDS.get(line["kind"], line["kind"]))} for line in lines]


def payment_status(settlement: Settlement) -> str:
    """``Paid on <time> (reference)`` or ``Unpaid``, in the reader's language and the alliance's time."""
    if settlement.paid_at is None:
        return _("Unpaid")
    paid = _("Paid on %(time)s", time=local_time(settlement.paid_at))
    return f"{paid} ({settlement.payment_reference})" if settlement.payment_reference else paid


def fee_terms(settlement: Settlement) -> str:
    """The fee terms as people read them: ``0.60% + ¥0.10 per sale``."""
    return _(
        "%(rate)s of net member sales + %(per_sale)s per sale",
        rate=percent_text(settlement.fee_bp),
        per_sale=yuan(settlement.fee_per_sale_fen),
    )


def statement_table(lines: list[dict], fmt: str) -> bytes:
    """The statement's lines as one table: a CSV file or an XLSX workbook."""
    if fmt == "xlsx":
        return xlsx_bytes(LINE_COLUMNS, labelled(lines), _("Statement"))
    return csv_bytes(LINE_COLUMNS, labelled(lines))


def statement_pdf(
    settlement: Settlement, party: StatementParty, lines: list[dict], alliance: str, notice: str = ""
) -> bytes:
    """The statement as an A4 PDF a merchant can print: header, bank details, totals, every line (and the
    management commission notice while it is on)."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    if CJK_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))
    title = ParagraphStyle("title", fontName=CJK_FONT, fontSize=15, leading=20)
    body = ParagraphStyle("body", fontName=CJK_FONT, fontSize=9, leading=13)
    s = settlement
    totals = [
        [_("Number of sales"), str(s.sales_count), _("Member sales"), yuan(s.member_sales_fen)],
        [_("Number of refunds"), str(s.refunds_count), _("Refunded"), yuan(s.refunds_fen)],
        [_("Points granted"), str(s.points_granted), _("Granted value"), yuan(s.granted_value_fen)],
        [_("Points accepted"), str(s.points_accepted), _("Accepted value"), yuan(s.accepted_value_fen)],
        [_("Service fee"), yuan(s.service_fee_fen), _("Fee terms"), fee_terms(s)],
        [_("Commission"), yuan(s.commission_fen), _("Net position (positive: the alliance pays)"), yuan(s.net_fen)],
        [_("Payment"), payment_status(s), "", ""],
    ]
    shown = labelled(lines)
    sold = {"sale", "refund"}
    rows = [[_("Recorded at"), _("Kind"), _("Receipt"), _("Amount"), _("Paid"), _("Points granted")]]
    rows[0] += [_("Points accepted"), _("Fees"), _("Net")]
    for line in shown:
        rows.append(
            [
                cell_text("time", line["recorded_at"]),
                line["kind_label"],
                line["receipt_no"],
                *(
                    [yuan(line["amount_fen"]), yuan(line["money_fen"])]
                    + [str(line["points_granted"]), str(line["points_accepted"])]
                    if line["kind"] in sold
                    else ["", "", "", ""]
                ),
                yuan(line["fee_fen"]),
                yuan(line["net_fen"]),
            ]
        )
    rows.append([_("Total"), "", "", "", "", "", "", yuan(sum(line["fee_fen"] for line in lines)), yuan(s.net_fen)])
    grid = TableStyle(
        [
            ("FONTNAME", (0, 0), (-1, -1), CJK_FONT),
            ("FONTSIZE", (0, 0), (-1, -1), 8),
            ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
        ]
    )
    lines_style = TableStyle(
        [
            ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke),
            ("BACKGROUND", (0, -1), (-1, -1), colors.whitesmoke),
            ("ALIGN", (3, 1), (-1, -1), "RIGHT"),
        ]
    )
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title=f"{party.merchant_name} {s.business_day} {_('Settlement statement')}",
    )
    bank = " ".join(part for part in (party.bank_account_name, party.bank_name, party.bank_account_no) if part)
    story = [
        Paragraph(f"{alliance}  {_('Settlement statement')}", title),
        Paragraph(f"{_('Merchant')}：{party.merchant_name}", body),
        Paragraph(f"{_('Settlement account')}：{bank or _('not on file')}", body),
        Paragraph(
            f"{_('Business day')}：{s.business_day.isoformat()} · {_('Statement number')}：{s.id} · "
            f"{_('Point value')}：{yuan(s.point_value_fen)}",
            body,
        ),
        *([Paragraph(notice, body)] if notice else []),
        Spacer(1, 4 * mm),
        Table(totals, style=grid, hAlign="LEFT"),
        Spacer(1, 6 * mm),
        Table(rows, style=TableStyle(grid.getCommands() + lines_style.getCommands()), repeatRows=1, hAlign="LEFT"),
    ]
    document.build(story)
    return buffer.getvalue()
