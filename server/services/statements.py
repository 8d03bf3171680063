"""A merchant's settlement statement as CSV and as a printable PDF (reportlab, Chinese CID font)."""

from __future__ import annotations

import csv
import io
from zoneinfo import ZoneInfo

from server.domain.money import format_yuan
from server.models import Settlement

LINE_COLUMNS = (
    "kind",
    "recorded_at",
    "receipt_no",
    "sale_id",
    "refund_id",
    "amount_fen",
    "money_fen",
    "points_granted",
    "points_accepted",
    "granted_value_fen",
    "accepted_value_fen",
    "per_sale_fee_fen",
)
TOTAL_FIELDS = (
    "sales_count",
    "member_sales_fen",
    "refunds_count",
    "refunds_fen",
    "points_granted",
    "points_accepted",
    "granted_value_fen",
    "accepted_value_fen",
    "fee_bp",
    "fee_per_sale_fen",
    "service_fee_fen",
    "commission_fen",
    "net_fen",
)
CJK_FONT = "STSong-Light"  # reportlab's built-in Adobe CID font: no font file needed


def statement_csv(settlement: Settlement, merchant_name: str, lines: list[dict]) -> str:
    """The statement as CSV: a totals block, a blank row, then one row per sale and refund."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["settlement_id", "merchant_id", "merchant_name", "business_day", "point_value_fen"])
    writer.writerow(
        [settlement.id, settlement.merchant_id, merchant_name, settlement.business_day, settlement.point_value_fen]
    )
    writer.writerow(TOTAL_FIELDS)
    writer.writerow([getattr(settlement, name) for name in TOTAL_FIELDS])
    writer.writerow([])
    writer.writerow(LINE_COLUMNS)
    for line in lines:
        writer.writerow(
            [
                line["recorded_at"].isoformat() if name == "recorded_at" else "" if line[name] is None else line[name]
                for name in LINE_COLUMNS
            ]
        )
    return out.getvalue()


def statement_pdf(settlement: Settlement, merchant_name: str, lines: list[dict], alliance: str, timezone: str) -> bytes:
    """The statement as an A4 PDF a merchant can print: header, totals, then every sale and refund."""
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
    zone = ZoneInfo(timezone)
    s = settlement
    totals = [
        ["销售笔数 Sales", str(s.sales_count), "会员消费 Member sales", format_yuan(s.member_sales_fen)],
        ["退款笔数 Refunds", str(s.refunds_count), "退款金额 Refunded", format_yuan(s.refunds_fen)],
        ["发放积分 Points granted", str(s.points_granted), "积分成本 Granted value", format_yuan(s.granted_value_fen)],
        [
            "收取积分 Points accepted",
            str(s.points_accepted),
            "积分应收 Accepted value",
            format_yuan(s.accepted_value_fen),
        ],
        [
            "服务费 Service fee",
            format_yuan(s.service_fee_fen),
            f"费率 {s.fee_bp} bp + {format_yuan(s.fee_per_sale_fen)}/笔",
            "",
        ],
        ["佣金 Commission", format_yuan(s.commission_fen), "净额 Net (联盟应付为正)", format_yuan(s.net_fen)],
    ]
    rows = [["时间 Time", "类型", "小票号 Receipt", "金额", "实付", "发放积分", "收取积分", "净额 Net"]]
    for line in lines:
        net = line["accepted_value_fen"] - line["granted_value_fen"] - line["per_sale_fee_fen"]
        rows.append(
            [
                line["recorded_at"].astimezone(zone).strftime("%m-%d %H:%M:%S"),
                "销售" if line["kind"] == "sale" else "退款",
                line["receipt_no"],
                format_yuan(line["amount_fen"]),
                format_yuan(line["money_fen"]),
                str(line["points_granted"]),
                str(line["points_accepted"]),
                format_yuan(net),
            ]
        )
    grid = TableStyle(
        [
            ("FONTNAME", (0, 0), (-1, -1), CJK_FONT),
            ("FONTSIZE", (0, 0), (-1, -1), 8),
            ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
            ("ALIGN", (3, 1), (-1, -1), "RIGHT"),
        ]
    )
    header = TableStyle([("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke)])
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title=f"{merchant_name} {s.business_day} 结算单",
    )
    story = [
        Paragraph(f"{alliance}  商户日结算单 Settlement statement", title),
        Paragraph(f"商户 Merchant：{merchant_name}（{s.merchant_id}）", body),
        Paragraph(
            f"营业日 Business day：{s.business_day.isoformat()}　结算单号：{s.id}　积分面值：{s.point_value_fen} 分",
            body,
        ),
        Spacer(1, 4 * mm),
        Table(totals, style=grid, hAlign="LEFT"),
        Spacer(1, 6 * mm),
        Table(rows, style=TableStyle(grid.getCommands() + header.getCommands()), repeatRows=1, hAlign="LEFT"),
    ]
    document.build(story)
    return buffer.getvalue()
