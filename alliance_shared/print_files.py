"""Print files for the card factory: a CSV and an A4 PDF with, per card, the face number, the card
number as a QR code (zxing-cpp) and a Code 128 barcode (reportlab), imported only when a PDF is made, and
the check code the member types to bind the card (printed under a scratch-off strip)."""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable, Sequence
from functools import cache
from typing import NamedTuple, TextIO

CSV_COLUMNS = ("seq", "card_no", "face_number", "qr_text", "barcode_text", "barcode_type", "check_code")
BARCODE_TYPE = "CODE128"

# CR80 cards (85.6 mm x 54 mm), 2 x 5 per A4 page inside 12 mm margins, with a header line.
CARD_WIDTH_MM, CARD_HEIGHT_MM = 85.6, 54.0
COLUMNS, ROWS = 2, 5
CARDS_PER_PAGE = COLUMNS * ROWS
QR_SIZE_MM = 26.0
QR_LEVEL = "M"  # error correction: about 15 % of the code may be damaged
QR_BORDER = 4  # quiet zone around the code, in modules
BARCODE_BAR_WIDTH_MM = 0.33
BARCODE_HEIGHT_MM = 11.0
CJK_FONT = "STSong-Light"  # one of the Adobe Asian fonts reportlab knows without font files


class PrintCard(NamedTuple):
    """What is printed for one card: its number and its check code (from the batch's card list)."""

    card_no: str
    check_code: str


class PrintFileError(Exception):
    """A print file cannot be made; str() says why and what to install."""


def face_number(card_no: str) -> str:
    """The number as printed on the card face: groups of four digits ("8860 0000 0000 0010")."""
    return " ".join(card_no[i : i + 4] for i in range(0, len(card_no), 4))


_DARK_RUN = re.compile(rb"\x00+")  # zxing-cpp images: 0 is a dark module


def qr_rows(value: str, level: str = QR_LEVEL) -> list[bytes]:
    """``value`` as a QR code (zxing-cpp's encoder), one bytes row per module row, 0 for a dark module."""
    import zxingcpp

    barcode = zxingcpp.create_barcode(value, zxingcpp.BarcodeFormat.QRCode, ec_level=level)
    image = memoryview(barcode.to_image(scale=1, add_quiet_zones=False))
    height, width = image.shape
    pixels = image.tobytes()
    return [pixels[row * width : (row + 1) * width] for row in range(height)]


def _draw_qr(pdf, value: str, x: float, y: float, size: float) -> None:
    """``value`` as a QR code with its quiet zone filling the size x size square at (x, y): one filled
    path of the dark runs of each row, in module units."""
    rows = qr_rows(value)
    n = len(rows)
    runs = [
        f"{run.start() + QR_BORDER} {n + QR_BORDER - 1 - index} {run.end() - run.start()} 1 re"
        for index, row in enumerate(rows)
        for run in _DARK_RUN.finditer(row)
    ]
    box = size / (n + 2 * QR_BORDER)
    pdf.addLiteral(f"q 0 g {box:.5f} 0 0 {box:.5f} {x:.4f} {y:.4f} cm\n" + "\n".join(runs) + "\nf Q")


@cache
def _code128_class():
    """reportlab's Code 128 with its bars filled as one path rather than one rectangle operation each."""
    from reportlab.graphics.barcode import code128

    class PathCode128(code128.Code128):
        def draw(self):
            self._bars = []
            super().draw()  # the bars (collected by rect) and the human-readable line
            self.canv.addLiteral("q 0 g\n" + "\n".join(self._bars) + "\nf Q")

        def rect(self, x, y, w, h):
            self._bars.append(f"{x:.4f} {y:.4f} {w:.4f} {h:.4f} re")

    return PathCode128


def write_csv(cards: Iterable[PrintCard], stream: TextIO, on_card: Callable[[], None] | None = None) -> int:
    """One row per card with what the factory prints; returns the number of cards."""
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    count = 0
    for count, (card_no, check_code) in enumerate(cards, start=1):
        writer.writerow((count, card_no, face_number(card_no), card_no, card_no, BARCODE_TYPE, check_code))
        if on_card:
            on_card()
    return count


def write_pdf(
    cards: Sequence[PrintCard],
    path: str,
    *,
    title: str = "",
    on_card: Callable[[], None] | None = None,
) -> int:
    """An A4 PDF, 10 cards a page (face number, QR code, Code 128, check code); returns the number of pages."""
    try:
        import reportlab  # noqa: F401
        import zxingcpp  # noqa: F401
    except ImportError as exc:
        raise PrintFileError(
            "PDF 制卡文件需要 reportlab 和 zxing-cpp (PDF print files need reportlab and zxing-cpp): "
            "pip install 'alliancecard[cards]'"
        ) from exc
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
    pages = max(1, -(-len(cards) // CARDS_PER_PAGE))
    pdf = canvas.Canvas(path, pagesize=A4, pageCompression=1)
    pdf.setTitle(title or "AllianceCard print file")
    pdf.setCreator("alliance-cards")

    for page in range(pages):
        pdf.setFont(CJK_FONT, 10)
        pdf.drawString(left, page_height - 11 * mm, f"{title}    page {page + 1}/{pages}")
        for index, (card_no, check_code) in enumerate(cards[page * CARDS_PER_PAGE : (page + 1) * CARDS_PER_PAGE]):
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
            _draw_qr(pdf, card_no, x + 3 * mm, y + 4 * mm, QR_SIZE_MM * mm)
            barcode = _code128_class()(
                card_no,
                barWidth=BARCODE_BAR_WIDTH_MM * mm,
                barHeight=BARCODE_HEIGHT_MM * mm,
                humanReadable=True,
                quiet=True,
                lquiet=3 * mm,
                rquiet=3 * mm,
            )
            barcode.drawOn(pdf, x + QR_SIZE_MM * mm + 4 * mm, y + 10 * mm)
            pdf.setFont(CJK_FONT, 8)
            pdf.drawString(x + QR_SIZE_MM * mm + 7 * mm, y + card_h - 20 * mm, f"绑卡验证码 {check_code}")
            if on_card:
                on_card()
        pdf.showPage()
    pdf.save()
    return pages
