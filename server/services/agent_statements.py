"""An agent's monthly money statement (every entry) and yearly tax statement, as CSV and Chinese PDF.

The monthly statement lists every entry of the agent's pending, available, paid and debt accounts whose
transaction was recorded in the month (alliance time zone), with the balances at the month's start and
end; the yearly tax statement is ``server/domain/tax.py``'s, from the paid withdrawals.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from server.domain import money_ledger as money
from server.domain.tax import YearlyTaxStatement
from server.exports import Column, csv_bytes
from server.extensions import db
from server.formatting import local_time, yuan
from server.models import Agent, MoneyEntry, MoneyTransaction
from server.services import agent_evaluation
from server.services import money_ledger as ledger
from server.services.alliance import current_settings
from server.services.withdrawals import yearly_tax_statement

CJK_FONT = "STSong-Light"
ACCOUNT_LABELS = {
    money.PENDING: _l("Pending"),
    money.AVAILABLE: _l("Available"),
    money.PAID: _l("Paid out"),
    money.DEBT: _l("Debt"),
}
KIND_LABELS = {
    "commission_earned": _l("Commission earned"),
    "commission_reversed": _l("Commission reversed"),
    "commission_released": _l("Commission became available"),
    "commission_clawback": _l("Commission taken back (debt)"),
    "debt_netted": _l("Debt cleared from commission"),
    "correction": _l("Correction"),
    "withdrawal_requested": _l("Withdrawal requested"),
    "withdrawal_returned": _l("Withdrawal returned"),
    "withdrawal_paid": _l("Withdrawal paid"),
    "bonus_distributed": _l("Bonus pool share"),
    "bonus_paid": _l("Bonus pool share available"),
    "benefit_consignment_paid": _l("Benefits bought (consignment)"),
}


@dataclass
class MonthlyStatement:
    agent: Agent
    period: str
    opening: dict[str, int] = field(default_factory=dict)
    closing: dict[str, int] = field(default_factory=dict)
    lines: list[dict] = field(default_factory=list)


def monthly_statement(agent_id: str, period_name: str) -> MonthlyStatement:
    agent = db.session.get(Agent, agent_id)
    period = agent_evaluation.period_of(period_name, current_settings().timezone)
    accounts = {ledger.account(money.AGENT, agent.id, kind): kind for kind in money.BENEFICIARY_ACCOUNTS}
    statement = MonthlyStatement(agent, period_name)
    for account_id, kind in accounts.items():
        before = db.session.scalar(
            select(func.coalesce(func.sum(MoneyEntry.amount), 0))
            .join(MoneyTransaction, MoneyTransaction.id == MoneyEntry.transaction_id)
            .where(MoneyEntry.account_id == account_id, MoneyTransaction.created_at < period.start)
        )
        statement.opening[kind] = int(before)
        statement.closing[kind] = int(before)
    for line in ledger.entries(list(accounts), period.start, period.end):
        kind = accounts[line.account_id]
        statement.closing[kind] += line.amount
        statement.lines.append(
            {
                "recorded_at": line.created_at,
                "kind": line.kind,
                "kind_label": str(KIND_LABELS.get(line.kind, line.kind)),
                "account": str(ACCOUNT_LABELS[kind]),
                "amount_fen": line.amount,
                "sale_id": line.sale_id or "",
                "memo": line.memo,
                "transaction_id": line.transaction_id,
            }
        )
    return statement


def _columns() -> list[Column]:
    return [
        Column("recorded_at", _l("Recorded at"), "time"),
        Column("kind_label", _l("Entry")),
        Column("account", _l("Account")),
        Column("amount_fen", _l("Amount"), "yuan"),
        Column("sale_id", _l("Sale")),
        Column("memo", _l("Reference")),
        Column("transaction_id", _l("Transaction"), "int"),
    ]


def statement_csv(statement: MonthlyStatement) -> bytes:
    return csv_bytes(_columns(), statement.lines)


def _pdf(title_text: str, facts: list[list[str]], rows: list[list[str]]) -> bytes:
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
    grid = TableStyle(
        [
            ("FONTNAME", (0, 0), (-1, -1), CJK_FONT),
            ("FONTSIZE", (0, 0), (-1, -1), 8),
            ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
            ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke),
        ]
    )
    buffer = io.BytesIO()
    document = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=12 * mm, rightMargin=12 * mm, title=title_text)
    facts_table = Table(facts)
    facts_table.setStyle(TableStyle([("FONTNAME", (0, 0), (-1, -1), CJK_FONT), ("FONTSIZE", (0, 0), (-1, -1), 9)]))
    lines = Table(rows, repeatRows=1)
    lines.setStyle(grid)
    document.build([Paragraph(title_text, title), Spacer(1, 4 * mm), facts_table, Spacer(1, 4 * mm), lines])
    return buffer.getvalue()


def statement_pdf(statement: MonthlyStatement) -> bytes:
    alliance = current_settings().name
    title = _("%(alliance)s agent statement %(period)s", alliance=alliance, period=statement.period)
    facts = [[_("Agent"), statement.agent.name, _("Period"), statement.period]]
    for kind in money.BENEFICIARY_ACCOUNTS:
        facts.append(
            [
                str(ACCOUNT_LABELS[kind]),
                _("Opening"),
                yuan(statement.opening[kind]),
                _("Closing"),
                yuan(statement.closing[kind]),
            ]
        )
    rows = [[_("Recorded at"), _("Entry"), _("Account"), _("Amount"), _("Sale"), _("Reference")]]
    for line in statement.lines:
        rows.append(
            [
                local_time(line["recorded_at"]),
                line["kind_label"],
                line["account"],
                yuan(line["amount_fen"]),
                line["sale_id"],
                line["memo"][:30],
            ]
        )
    if not statement.lines:
        rows.append([_("No entries in this period."), "", "", "", "", ""])
    return _pdf(title, facts, rows)


def tax_statement(agent_id: str, year: int) -> YearlyTaxStatement:
    return yearly_tax_statement(agent_id, year)


def _tax_rows(statement: YearlyTaxStatement) -> list[dict]:
    rows = [
        {"month": f"{statement.year}-{month:02d}", **vars(totals)} for month, totals in sorted(statement.months.items())
    ]
    rows.append({"month": _("Total"), **vars(statement.total)})
    return rows


def tax_statement_csv(statement: YearlyTaxStatement) -> bytes:
    columns = [
        Column("month", _l("Month")),
        Column("payouts", _l("Payouts"), "int"),
        Column("gross_fen", _l("Withdrawn (gross)"), "yuan"),
        Column("tax_fen", _l("Tax withheld"), "yuan"),
        Column("fee_fen", _l("Fees"), "yuan"),
        Column("net_fen", _l("Received"), "yuan"),
    ]
    return csv_bytes(columns, _tax_rows(statement))


def tax_statement_pdf(statement: YearlyTaxStatement, agent_name: str) -> bytes:
    title = _("Yearly tax withholding statement %(year)s", year=statement.year)
    kind = _("Individual") if statement.agent_kind == "person" else _("Company (no withholding)")
    facts = [
        [_("Agent"), agent_name, _("Kind"), kind],
        [_("Printed at"), local_time(datetime.now().astimezone()), "", ""],
    ]
    rows = [[_("Month"), _("Payouts"), _("Withdrawn (gross)"), _("Tax withheld"), _("Fees"), _("Received")]]
    for row in _tax_rows(statement):
        rows.append(
            [
                row["month"],
                str(row["payouts"]),
                yuan(row["gross_fen"]),
                yuan(row["tax_fen"]),
                yuan(row["fee_fen"]),
                yuan(row["net_fen"]),
            ]
        )
    return _pdf(title, facts, rows)
