"""Print files for the card factory: a CSV and an A4 PDF with, per card, the face number and the card
number as a QR code and a Code 128 barcode. reportlab is imported only when a PDF is made."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Sequence
from typing import TextIO

CSV_COLUMNS = ("seq", "card_no", "face_number", "qr_text", "barcode_text", "barcode_type")
BARCODE_TYPE = "CODE128"

# CR80 cards (85.6 mm x 54 mm), 2 x 5 per A4 page inside 12 mm margins, with a header line.
CARD_WIDTH_MM, CARD_HEIGHT_MM = 85.6, 54.0
COLUMNS, ROWS = 2, 5
CARDS_PER_PAGE = COLUMNS * ROWS
QR_SIZE_MM = 26.0
BARCODE_BAR_WIDTH_MM = 0.33
BARCODE_HEIGHT_MM = 11.0
CJK_FONT = "STSong-Light"  # one of the Adobe Asian fonts reportlab knows without font files


class PrintFileError(Exception):
    """A print file cannot be made; str() says why and what to install."""


def face_number(card_no: str) -> str:
    """The number as printed on the card face: groups of four digits ("8860 0000 0000 0010")."""
    return " ".join(card_no[i : i + 4] for i in range(0, len(card_no), 4))


def write_csv(card_numbers: Iterable[str], stream: TextIO, on_card: Callable[[], None] | None = None) -> int:
    """One row per card with what the factory prints; returns the number of cards."""
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    count = 0
    for count, card_no in enumerate(card_numbers, start=1):
        writer.writerow((count, card_no, face_number(card_no), card_no, card_no, BARCODE_TYPE))
        if on_card:
            on_card()
    return count


def write_pdf(
    card_numbers: Sequence[str],
    path: str,
    *,
    title: str = "",
    on_card: Callable[[], None] | None = None,
) -> int:
    """An A4 PDF, 10 cards a page (face number, QR code, Code 128); returns the number of pages."""
    try:
        import reportlab  # noqa: F401
    except ImportError as exc:
        raise PrintFileError(
            "PDF 制卡文件需要 reportlab (PDF print files need reportlab): pip install 'alliancecard[cards]'"
        ) from exc
    from reportlab.graphics import renderPDF
    from reportlab.graphics.barcode import code128, qr
    from reportlab.graphics.shapes import Drawing
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    if CJK_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))
    page_width, page_height = A4
    card_w, card_h = CARD_WIDTH_MM * mm, CARD_HEIGHT_MM * mm
    left = (page_width - COLUMNS * card_w) / 2
    top = page_height - 18 * mm
    pages = max(1, -(-len(card_numbers) // CARDS_PER_PAGE))
    pdf = canvas.Canvas(path, pagesize=A4, pageCompression=1)
    pdf.setTitle(title or "AllianceCard print file")
    pdf.setCreator("alliance-cards")

    def qr_drawing(value: str) -> Drawing:
        widget = qr.QrCodeWidget(value, barLevel="M", barBorder=4)
        x0, y0, x1, y1 = widget.getBounds()
        size = QR_SIZE_MM * mm
        drawing = Drawing(size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0])
        drawing.add(widget)
        return drawing

    for page in range(pages):
        pdf.setFont(CJK_FONT, 10)
        pdf.drawString(left, page_height - 11 * mm, f"{title}    page {page + 1}/{pages}")
        for index, card_no in enumerate(card_numbers[page * CARDS_PER_PAGE : (page + 1) * CARDS_PER_PAGE]):
            seq = page * CARDS_PER_PAGE + index + 1
            column, row = index % COLUMNS, index // COLUMNS
            x, y = left + column * card_w, top - (row + 1) * card_h
            pdf.setLineWidth(0.3)
            pdf.setDash(2, 2)
            pdf.rect(x, y, card_w, card_h)  # cutting guide
            pdf.setDash()
            pdf.setFont("Courier-Bold", 13)
            pdf.drawString(x + 5 * mm, y + card_h - 9 * mm, face_number(card_no))
            pdf.setFont("Helvetica", 7)
            pdf.drawRightString(x + card_w - 4 * mm, y + card_h - 9 * mm, f"#{seq}")
            renderPDF.draw(qr_drawing(card_no), pdf, x + 3 * mm, y + 4 * mm)
            barcode = code128.Code128(
                card_no, barWidth=BARCODE_BAR_WIDTH_MM * mm, barHeight=BARCODE_HEIGHT_MM * mm,
                humanReadable=True, quiet=True, lquiet=3 * mm, rquiet=3 * mm,
            )
            barcode.drawOn(pdf, x + QR_SIZE_MM * mm + 4 * mm, y + 10 * mm)
            if on_card:
                on_card()
        pdf.showPage()
    pdf.save()
    return pages
