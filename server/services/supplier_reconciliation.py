"""Supplier reconciliation: a supplier's month (per SKU and in total), what is due, and the differences.

The figures and the rules are ``server/domain/supplier_reconciliation.py``; this module reads them from the
purchases, the stock and the claims, in the alliance's time zone (a month runs from its first local midnight
to the next month's). Files: ``reconciliation_table`` (CSV/XLSX, ``server/exports.py``) and
``reconciliation_pdf`` (reportlab, Chinese, like the settlement statement).
"""

from __future__ import annotations

import io
from datetime import datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, func, or_, select

from server.domain import supplier_reconciliation as rules
from server.domain.errors import InvalidRequest, NotFound
from server.domain.statuses import BenefitClaimStatus, BenefitPurchaseStatus
from server.exports import Column, csv_bytes, xlsx_bytes
from server.extensions import db
from server.formatting import yuan
from server.models import BenefitClaim, BenefitCode, BenefitInvoice, BenefitPurchase, BenefitSku, Supplier
from server.services.audit import audit
from server.services.benefit_alerts import local_midnight
from server.services.unit_of_work import transactional

MAX_CODE_CHECKS = 5_000  # codes checked for impossible states per report (the busiest first)


def get_supplier(supplier_id: str) -> Supplier:
    """A supplier by id."""
    supplier = db.session.get(Supplier, supplier_id) if supplier_id else None
    if supplier is None:
        raise NotFound("No such supplier.", supplier_id=supplier_id)
    return supplier


def month_window(month: str) -> tuple[datetime, datetime, tuple]:
    """``[start, end)`` in UTC of a ``YYYY-MM`` month in the alliance's time zone, and its first/next days."""
    year, number = rules.parse_month(month)
    first, after = rules.month_bounds(year, number)
    return local_midnight(first), local_midnight(after), (first, after)


def _in(column, start, end):
    return and_(column >= start, column < end)


def _count_by_sku(supplier_id: str, time_column, start, end) -> dict[str, int]:
    rows = db.session.execute(
        select(BenefitCode.sku_id, func.count(BenefitCode.id))
        .join(BenefitPurchase, BenefitPurchase.id == BenefitCode.purchase_id)
        .where(BenefitPurchase.supplier_id == supplier_id, _in(time_column, start, end))
        .group_by(BenefitCode.sku_id)
    )
    return {sku: int(count) for sku, count in rows}


def supplier_month(supplier_id: str, month: str) -> dict:
    """The supplier's month: one line per SKU with every figure, the total, and the difference report."""
    supplier = get_supplier(supplier_id)
    start, end, (first, after) = month_window(month)
    bought = db.session.execute(
        select(
            BenefitPurchase.sku_id,
            func.sum(BenefitPurchase.quantity),
            func.sum(BenefitPurchase.quantity * BenefitPurchase.unit_cost_fen),
        )
        .where(
            BenefitPurchase.supplier_id == supplier.id,
            BenefitPurchase.purchase_date >= first,
            BenefitPurchase.purchase_date < after,
            BenefitPurchase.status != BenefitPurchaseStatus.CANCELLED,
        )
        .group_by(BenefitPurchase.sku_id)
    ).all()
    received = db.session.execute(
        select(BenefitCode.sku_id, func.count(BenefitCode.id), func.sum(BenefitPurchase.unit_cost_fen))
        .join(BenefitPurchase, BenefitPurchase.id == BenefitCode.purchase_id)
        .where(BenefitPurchase.supplier_id == supplier.id, _in(BenefitCode.created_at, start, end))
        .group_by(BenefitCode.sku_id)
    ).all()
    states = {
        name: _count_by_sku(supplier.id, column, start, end)
        for name, column in (
            ("issued", BenefitCode.issued_at),
            ("redeemed", BenefitCode.redeemed_at),
            ("void", BenefitCode.voided_at),
            ("expired", BenefitCode.expired_at),
        )
    }
    claims = db.session.execute(
        select(
            BenefitCode.sku_id,
            func.count(BenefitClaim.id),
            func.sum(BenefitClaim.credit_fen),
        )
        .join(BenefitCode, BenefitCode.id == BenefitClaim.code_id)
        .where(
            BenefitClaim.supplier_id == supplier.id,
            _in(BenefitClaim.reported_at, start, end),
            BenefitClaim.status != BenefitClaimStatus.REJECTED,  # the code worked after all
        )
        .group_by(BenefitCode.sku_id)
    ).all()
    figures: dict[str, dict] = {}

    def line(sku_id):
        return figures.setdefault(sku_id, {name: 0 for name in rules.FIGURE_NAMES})

    for sku_id, quantity, cost in bought:
        line(sku_id).update(bought=int(quantity or 0), bought_cost_fen=int(cost or 0))
    for sku_id, count, cost in received:
        line(sku_id).update(received=int(count), received_cost_fen=int(cost or 0))
    for name, counts in states.items():
        for sku_id, count in counts.items():
            line(sku_id)[name] = count
    for sku_id, count, credit in claims:
        line(sku_id).update(failed=int(count), credit_fen=int(credit or 0))
    skus = dict(
        db.session.execute(select(BenefitSku.id, BenefitSku.name).where(BenefitSku.id.in_(list(figures)))).all()
    )
    months = {sku_id: rules.SupplierMonth(**values) for sku_id, values in figures.items()}
    lines = [
        _line_dict(sku_id, skus.get(sku_id, sku_id), figures_)
        for sku_id, figures_ in sorted(months.items(), key=lambda item: skus.get(item[0], item[0]))
    ]
    total = rules.add_months(months.values())
    return {
        "supplier_id": supplier.id,
        "supplier_name": supplier.name,
        "month": f"{first.year:04d}-{first.month:02d}",
        "lines": lines,
        "total": _line_dict(None, _("Total"), total),
        "differences": differences(supplier.id, start, end, first, after),
    }


def _line_dict(sku_id, name, month: rules.SupplierMonth) -> dict:
    return {
        "sku_id": sku_id,
        "sku_name": name,
        **{field: getattr(month, field) for field in rules.FIGURE_NAMES},
        "due_fen": month.due_fen,
    }


def differences(supplier_id: str, start, end, first, after) -> list[rules.Discrepancy]:
    """What does not add up for the supplier's month: purchases (received count, invoice total, the
    purchase's own count of received codes) and codes in impossible states."""
    purchases = db.session.execute(
        select(BenefitPurchase, BenefitInvoice)
        .outerjoin(BenefitInvoice, BenefitInvoice.purchase_id == BenefitPurchase.id)
        .where(
            BenefitPurchase.supplier_id == supplier_id,
            BenefitPurchase.status != BenefitPurchaseStatus.CANCELLED,
            or_(
                and_(BenefitPurchase.purchase_date >= first, BenefitPurchase.purchase_date < after),
                _in(BenefitPurchase.received_at, start, end),
            ),
        )
        .order_by(BenefitPurchase.purchase_date, BenefitPurchase.id)
    ).all()
    in_stock = dict(
        db.session.execute(
            select(BenefitCode.purchase_id, func.count(BenefitCode.id))
            .where(BenefitCode.purchase_id.in_([p.id for p, _ in purchases]))
            .group_by(BenefitCode.purchase_id)
        ).all()
    )
    found: list[rules.Discrepancy] = []
    for purchase, invoice in purchases:
        count = int(in_stock.get(purchase.id, 0))
        facts = rules.PurchaseFacts(
            id=purchase.id,
            quantity=purchase.quantity,
            unit_cost_fen=purchase.unit_cost_fen,
            invoice_no=(invoice.invoice_number if invoice else "") or purchase.invoice_number,
            invoice_total_fen=invoice.total_fen if invoice else None,
            received=count,
            complete=purchase.status == BenefitPurchaseStatus.RECEIVED,
        )
        found += rules.purchase_differences(facts)
        if purchase.received_count != count:
            found.append(
                rules.Discrepancy(
                    "purchase %(purchase)s records %(stated)s codes received, the stock holds %(expected)s",
                    {"purchase": purchase.id, "stated": purchase.received_count, "expected": count},
                )
            )
    touched = or_(
        _in(BenefitCode.created_at, start, end),
        _in(BenefitCode.issued_at, start, end),
        _in(BenefitCode.redeemed_at, start, end),
        _in(BenefitCode.voided_at, start, end),
        _in(BenefitCode.expired_at, start, end),
        BenefitCode.id.in_(
            select(BenefitClaim.code_id).where(
                BenefitClaim.supplier_id == supplier_id, _in(BenefitClaim.reported_at, start, end)
            )
        ),
    )
    codes = db.session.execute(
        select(BenefitCode, BenefitClaim.id)
        .join(BenefitPurchase, BenefitPurchase.id == BenefitCode.purchase_id)
        .outerjoin(BenefitClaim, BenefitClaim.code_id == BenefitCode.id)
        .where(BenefitPurchase.supplier_id == supplier_id, touched)
        .order_by(BenefitCode.id)
        .limit(MAX_CODE_CHECKS)
    ).all()
    for code, claim_id in codes:
        facts = rules.CodeFacts(
            id=code.id,
            status=code.status,
            masked=f"{code.id} (…{code.last4})",
            received_at=code.created_at,
            issued_at=code.issued_at,
            redeemed_at=code.redeemed_at,
            expires_on=code.expires_on,
        )
        found += rules.code_differences(facts, claimed=claim_id is not None)
    return found


@transactional
def record_invoice(actor: str, purchase_id: str, total_fen: int, invoice_number: str = "") -> BenefitInvoice:
    """Record (or correct) the supplier's invoice total for a purchase (audited)."""
    purchase = db.session.get(BenefitPurchase, purchase_id)
    if purchase is None:
        raise NotFound("No such purchase.", purchase_id=purchase_id)
    if isinstance(total_fen, bool) or not isinstance(total_fen, int) or not 0 <= total_fen <= 10**12:
        raise InvalidRequest("The amount is not valid.", field="total_fen")
    invoice = db.session.get(BenefitInvoice, purchase_id) or BenefitInvoice(purchase_id=purchase_id)
    invoice.total_fen, invoice.invoice_number, invoice.recorded_by = total_fen, (invoice_number or "")[:64], actor
    db.session.add(invoice)
    db.session.flush()
    audit(actor, "benefit_invoice.record", "benefit_purchase", purchase_id, total_fen=total_fen)
    return invoice


# --- files --------------------------------------------------------------------------------------------

COLUMNS = (
    Column("sku_name", _l("Benefit product"), "text"),
    Column("bought", _l("Bought"), "int"),
    Column("bought_cost_fen", _l("Cost bought (¥)"), "yuan"),
    Column("received", _l("Received"), "int"),
    Column("received_cost_fen", _l("Cost received (¥)"), "yuan"),
    Column("issued", _l("Handed out"), "int"),
    Column("redeemed", _l("Used at redemption"), "int"),
    Column("void", _l("Void"), "int"),
    Column("expired", _l("Expired"), "int"),
    Column("failed", _l("Failed at redemption"), "int"),
    Column("credit_fen", _l("Credits for failed codes (¥)"), "yuan"),
    Column("due_fen", _l("Amount due (¥)"), "yuan"),
)


def reconciliation_table(report: dict, fmt: str) -> bytes:
    """The month's lines and total as one table: CSV or XLSX."""
    rows = [*report["lines"], report["total"]]
    if fmt == "xlsx":
        return xlsx_bytes(COLUMNS, rows, f"{report['month']}")
    return csv_bytes(COLUMNS, rows)


def difference_text(difference: rules.Discrepancy) -> str:
    """A difference in the reader's language (the console catalog holds the templates)."""
    return _(difference.template, **difference.values)


def reconciliation_pdf(report: dict, alliance: str) -> bytes:
    """The month as an A4 landscape PDF: the supplier, every SKU's figures, the total and the differences."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    from server.services.statements import CJK_FONT

    if CJK_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))
    title = ParagraphStyle("title", fontName=CJK_FONT, fontSize=15, leading=20)
    body = ParagraphStyle("body", fontName=CJK_FONT, fontSize=9, leading=13)
    rows = [[str(column.label) for column in COLUMNS]]
    for line in [*report["lines"], report["total"]]:
        rows.append([yuan(line[column.key]) if column.kind == "yuan" else str(line[column.key]) for column in COLUMNS])
    style = TableStyle(
        [
            ("FONTNAME", (0, 0), (-1, -1), CJK_FONT),
            ("FONTSIZE", (0, 0), (-1, -1), 7),
            ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
            ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke),
            ("BACKGROUND", (0, -1), (-1, -1), colors.whitesmoke),
            ("ALIGN", (1, 1), (-1, -1), "RIGHT"),
        ]
    )
    buffer = io.BytesIO()
    heading = _("Supplier reconciliation")
    document = SimpleDocTemplate(
        buffer,
        pagesize=landscape(A4),
        leftMargin=12 * mm,
        rightMargin=12 * mm,
        topMargin=12 * mm,
        bottomMargin=12 * mm,
        title=f"{report['supplier_name']} {report['month']} {heading}",
    )
    story = [
        Paragraph(f"{alliance}  {heading}", title),
        Paragraph(f"{_('Supplier')}：{report['supplier_name']} · {_('Month')}：{report['month']}", body),
        Paragraph(f"{_('Amount due')}：{yuan(report['total']['due_fen'])}", body),
        Spacer(1, 4 * mm),
        Table(rows, style=style, repeatRows=1, hAlign="LEFT"),
        Spacer(1, 5 * mm),
        Paragraph(_("Differences"), body),
    ]
    if report["differences"]:
        story += [Paragraph(f"· {difference_text(d)}", body) for d in report["differences"]]
    else:
        story.append(Paragraph(_("None: the purchases, the stock and the claims agree."), body))
    document.build(story)
    return buffer.getvalue()
