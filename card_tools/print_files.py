"""Print files for the card factory: a CSV and an A4 PDF with, per card, the face number and the card
number as a QR code and a Code 128 barcode. reportlab is imported only when a PDF is made."""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable, Sequence
from functools import cache
from typing import TextIO

CSV_COLUMNS = ("seq", "card_no", "face_number", "qr_text", "barcode_text", "barcode_type")
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


class PrintFileError(Exception):
    """A print file cannot be made; str() says why and what to install."""


def face_number(card_no: str) -> str:
    """The number as printed on the card face: groups of four digits ("8860 0000 0000 0010")."""
    return " ".join(card_no[i : i + 4] for i in range(0, len(card_no), 4))


# reportlab's mask penalty rule 3: dark, light, dark x3, light, dark, light x4 (left to right, rows only).
_FINDER_LIKE = (1, 0, 1, 1, 1, 0, 1, 0, 0, 0, 0)
_DARK_RUN = re.compile("1+")


class _QrLayout:
    """What every QR code of one version and error correction level shares, worked out once with
    reportlab's own encoder: the function patterns, where each data codeword goes and the eight masks.

    A module matrix is one integer: bit ``row * n + column`` is set for a dark module. The mask is
    chosen as reportlab's ``QRCode.make()`` chooses it (its penalty rules and their quirks: format
    bits blank while scoring, rule 3 along rows only and one way round, first lowest score wins), so
    the codes are module for module the ones ``QrCodeWidget`` draws, about 50 times faster.
    """

    def __init__(self, version: int, level: int):
        from reportlab.graphics.barcode import qrencoder

        probe = qrencoder.QRCode(version, level)
        probe.dataCache = []  # no data: every data module is left holding its mask bit
        probe.makeImpl(True, 0)  # sets the module count the data positions depend on
        n = self.n = probe.getModuleCount()
        self.size = n * n
        positions = [row * n + column for column, row in probe.dataPosIterator()]
        self.region = sum(1 << bit for bit in set(positions))

        def matrix(test: bool, mask: int) -> int:
            probe.makeImpl(test, mask)
            return sum(1 << (r * n + c) for r, row in enumerate(probe.modules) for c, dark in enumerate(row) if dark)

        self.masks = [matrix(False, mask) & self.region for mask in range(8)]
        self.functions = [matrix(False, mask) & ~self.region for mask in range(8)]
        self.scored_functions = matrix(True, 0) & ~self.region  # format bits blank, as reportlab scores
        self.codewords = [  # codeword k holding value v: its dark modules, most significant bit first
            [sum(1 << positions[8 * k + i] for i in range(8) if value & (0x80 >> i)) for value in range(256)]
            for k in range(len(positions) // 8)
        ]
        self.all_modules = (1 << self.size) - 1
        self.not_last_column = sum(((1 << (n - 1)) - 1) << (r * n) for r in range(n))
        self.not_last_row = (1 << (n * (n - 1))) - 1
        rule3_starts = (1 << max(0, n - len(_FINDER_LIKE))) - 1  # reportlab tries columns 0 .. n - 12
        self.rule3_starts = sum(rule3_starts << (r * n) for r in range(n))

    def penalty(self, modules: int) -> int:
        """reportlab's ``QRUtil.getLostPoint`` of a matrix, with bit operations."""
        n = self.n
        same_right = ~(modules ^ (modules >> 1)) & self.not_last_column  # module equals its right neighbour
        same_below = ~(modules ^ (modules >> n)) & self.not_last_row
        score = 0
        for same, step in ((same_right, 1), (same_below, n)):  # rule 1: a run of L >= 5 scores L - 2
            five = same & (same >> step) & (same >> 2 * step) & (same >> 3 * step)  # 5-module windows
            run_starts = five & ~(same << step)
            score += five.bit_count() + 2 * run_starts.bit_count()
        score += 3 * (same_right & (same_right >> n) & same_below).bit_count()  # rule 2: 2 x 2 blocks
        light = ~modules & self.all_modules
        found = self.rule3_starts
        for offset, dark in enumerate(_FINDER_LIKE):
            found &= (modules if dark else light) >> offset
        score += 40 * found.bit_count()
        return score + 10 * (abs(100 * modules.bit_count() // self.size - 50) // 5)  # rule 4: dark share

    def modules(self, data: Sequence[int]) -> int:
        """The matrix for these codewords (data and error correction), with the best mask."""
        bits = 0
        for table, value in zip(self.codewords, data, strict=True):
            bits |= table[value]
        scores = [self.penalty(self.scored_functions | (bits ^ mask)) for mask in self.masks]
        best = scores.index(min(scores))
        return self.functions[best] | (bits ^ self.masks[best])


@cache
def _qr_layout(version: int, level: int) -> _QrLayout:
    return _QrLayout(version, level)


def qr_modules(value: str, level: str = QR_LEVEL) -> tuple[int, int]:
    """``value`` as a QR code: (n, matrix), bit ``row * n + column`` of matrix set for a dark module."""
    from reportlab.graphics.barcode import qrencoder

    level_code = getattr(qrencoder.QRErrorCorrectLevel, level)
    code = qrencoder.QRCode(None, level_code)
    code.addData(value)
    version = code.calculate_version()
    layout = _qr_layout(version, level_code)
    return layout.n, layout.modules(qrencoder.QRCode.createData(version, level_code, code.dataList))


def _draw_qr(pdf, value: str, x: float, y: float, size: float) -> None:
    """``value`` as a QR code with its quiet zone filling the size x size square at (x, y): one filled
    path of the dark runs of each row, in module units."""
    n, modules = qr_modules(value)
    row_mask = (1 << n) - 1
    runs = []
    for row in range(n):
        bottom = n + QR_BORDER - 1 - row
        columns = f"{(modules >> (row * n)) & row_mask:0{n}b}"[::-1]  # column 0 first
        runs.extend(f"{run.start() + QR_BORDER} {bottom} {run.end() - run.start()} 1 re"
                    for run in _DARK_RUN.finditer(columns))
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
            _draw_qr(pdf, card_no, x + 3 * mm, y + 4 * mm, QR_SIZE_MM * mm)
            barcode = _code128_class()(
                card_no, barWidth=BARCODE_BAR_WIDTH_MM * mm, barHeight=BARCODE_HEIGHT_MM * mm,
                humanReadable=True, quiet=True, lquiet=3 * mm, rquiet=3 * mm,
            )
            barcode.drawOn(pdf, x + QR_SIZE_MM * mm + 4 * mm, y + 10 * mm)
            if on_card:
                on_card()
        pdf.showPage()
    pdf.save()
    return pages
