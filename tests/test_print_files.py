"""Print files for the card factory: the CSV, and the PDF's QR codes and barcodes read back by a real decoder."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import sys

import pytest

from alliance_shared.print_files import (
    CARDS_PER_PAGE,
    CSV_COLUMNS,
    PrintCard,
    PrintFileError,
    face_number,
    write_csv,
    write_pdf,
)
from server.domain.identifiers import make_card_number
from tests.resources import unavailable

NUMBERS = [make_card_number("8860", serial) for serial in range(1, 13)]  # 12 cards: 2 pages
CARDS = [PrintCard(number, f"{serial:06d}") for serial, number in enumerate(NUMBERS, start=1)]


def test_face_number_groups_the_digits_by_four():
    assert face_number("8860000000000010") == "8860 0000 0000 0010"


def test_csv_has_a_row_per_card_with_what_the_factory_prints():
    stream = io.StringIO()
    assert write_csv(CARDS[:3], stream) == 3
    rows = list(csv.reader(io.StringIO(stream.getvalue())))
    assert rows[0] == list(CSV_COLUMNS)
    assert rows[1:] == [
        [str(seq), number, face_number(number), number, number, "CODE128", f"{seq:06d}"]
        for seq, number in enumerate(NUMBERS[:3], start=1)
    ]


def _render(pdf_path, tmp_path) -> list:
    if shutil.which("pdftoppm") is None:
        unavailable("pdftoppm is not installed (apt-get install poppler-utils)")
    try:
        import zxingcpp
        from PIL import Image
    except ImportError:
        unavailable("zxing-cpp and pillow are needed to decode the print file (pip install zxing-cpp pillow)")
    subprocess.run(["pdftoppm", "-r", "150", "-png", str(pdf_path), str(tmp_path / "page")], check=True, timeout=60)
    pages = sorted(tmp_path.glob("page-*.png"))
    decoded = []
    for page in pages:
        with Image.open(page) as image:
            found = zxingcpp.read_barcodes(image)
        decoded.append(
            {
                "qr": sorted(result.text for result in found if result.format == zxingcpp.BarcodeFormat.QRCode),
                "code128": sorted(result.text for result in found if result.format == zxingcpp.BarcodeFormat.Code128),
            }
        )
    return decoded


def test_pdf_pages_carry_a_readable_qr_code_and_barcode_per_card(tmp_path):
    path = tmp_path / "batch.pdf"
    assert write_pdf(CARDS, str(path), title="批次 gold-2026") == 2
    assert path.read_bytes().startswith(b"%PDF-")
    pages = _render(path, tmp_path)
    assert pages == [
        {"qr": NUMBERS[:CARDS_PER_PAGE], "code128": NUMBERS[:CARDS_PER_PAGE]},
        {"qr": NUMBERS[CARDS_PER_PAGE:], "code128": NUMBERS[CARDS_PER_PAGE:]},
    ]


def test_progress_callback_is_called_once_per_card(tmp_path):
    calls = []
    write_pdf(CARDS[:3], str(tmp_path / "three.pdf"), on_card=lambda: calls.append(1))
    write_csv(CARDS[:3], io.StringIO(), on_card=lambda: calls.append(2))
    assert calls == [1, 1, 1, 2, 2, 2]


def test_no_cards_give_a_valid_empty_page(tmp_path):
    path = tmp_path / "empty.pdf"
    assert write_pdf([], str(path)) == 1
    assert _render(path, tmp_path) == [{"qr": [], "code128": []}]


def test_a_pdf_without_reportlab_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "reportlab", None)
    with pytest.raises(PrintFileError, match=r"pip install 'alliancecard\[cards\]'"):
        write_pdf(CARDS, str(tmp_path / "none.pdf"))
    assert not (tmp_path / "none.pdf").exists()
