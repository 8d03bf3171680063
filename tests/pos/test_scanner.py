"""Code scanners: the keyboard-wedge timing state machine, and real QR / Code 128 decoding with zxing-cpp."""

import importlib.util
import time

import barcode
import pytest
import segno
from barcode.writer import ImageWriter
from PIL import Image

from pos_client.devices.scanner import (
    CameraScanner,
    ImageScanner,
    ImageUnreadable,
    KeyboardWedgeScanner,
    Scanned,
    ScannerUnavailable,
    Typed,
)

MEMBER_CODE = "620012345678901234"


def feed_all(scanner, keys, start, gap):
    """Feed keys gap seconds apart from start; return every event and the time after the last key."""
    events, now = [], start
    for key in keys:
        events += scanner.feed(key, now)
        now += gap
    return events, now - gap


def test_fast_burst_ended_by_enter_is_a_scan():
    scanner = KeyboardWedgeScanner()

    events, _ = feed_all(scanner, MEMBER_CODE + "\r", start=10.0, gap=0.008)

    assert events == [Scanned(MEMBER_CODE)]
    assert scanner.pending == ""
    assert scanner.read(timeout=0) == MEMBER_CODE
    assert scanner.read(timeout=0) is None


def test_slow_typing_is_passed_on_key_by_key_including_enter():
    scanner = KeyboardWedgeScanner()

    assert scanner.feed("1", 0.0) == []
    assert scanner.feed("3", 0.25) == [Typed("1")]
    assert scanner.feed("8", 0.5) == [Typed("3")]
    assert scanner.feed("\r", 0.7) == [Typed("8"), Typed("\n")]
    assert scanner.read(timeout=0) is None


def test_typing_followed_by_a_scan_gives_both_in_order():
    scanner = KeyboardWedgeScanner()

    events, end = feed_all(scanner, "ab", start=0.0, gap=0.3)
    events += feed_all(scanner, "CARD0001\n", start=end + 1.0, gap=0.01)[0]

    assert events == [Typed("a"), Typed("b"), Scanned("CARD0001")]


def test_two_keys_hit_together_and_enter_are_typing_not_a_scan():
    scanner = KeyboardWedgeScanner()

    events, _ = feed_all(scanner, "12\r", start=5.0, gap=0.01)

    assert events == [Typed("12\n")]
    assert scanner.read(timeout=0) is None


def test_a_pause_inside_a_burst_splits_it_into_typing_and_a_scan():
    scanner = KeyboardWedgeScanner()

    events, end = feed_all(scanner, "1234", start=0.0, gap=0.01)
    events += feed_all(scanner, "5678\r", start=end + 0.1, gap=0.01)[0]

    assert events == [Typed("1234"), Scanned("5678")]


def test_flush_releases_held_keys_only_after_the_gap():
    scanner = KeyboardWedgeScanner(max_key_gap=0.05)

    feed_all(scanner, "abc", start=1.0, gap=0.01)

    assert scanner.flush(1.05) == []
    assert scanner.pending == "abc"
    assert scanner.flush(1.09) == [Typed("abc")]
    assert scanner.pending == ""
    assert scanner.flush(2.0) == []


def test_thresholds_are_configurable():
    scanner = KeyboardWedgeScanner(max_key_gap=0.1, min_length=2)

    events, _ = feed_all(scanner, "42\r", start=0.0, gap=0.08)

    assert events == [Scanned("42")]


def test_read_waits_at_most_its_timeout():
    scanner = KeyboardWedgeScanner()

    started = time.monotonic()
    assert scanner.read(timeout=0.05) is None
    assert time.monotonic() - started < 1


def test_image_scanner_decodes_a_qr_code_png(tmp_path):
    path = tmp_path / "code.png"
    segno.make(MEMBER_CODE, error="m").save(path, scale=6)

    assert ImageScanner().decode(path) == MEMBER_CODE
    assert ImageScanner().decode(str(path)) == MEMBER_CODE


def test_image_scanner_decodes_a_chinese_url_qr_code_from_a_pil_image(tmp_path):
    path = tmp_path / "url.png"
    text = "https://alliance.example.cn/r/8f3a2c?店=老王"
    segno.make(text, encoding="utf-8").save(path, scale=5, border=4)

    with Image.open(path) as image:
        assert ImageScanner().decode(image.convert("RGB")) == text


def test_image_scanner_decodes_code_128():
    image = barcode.get("code128", "6200123456789012", writer=ImageWriter()).render({"write_text": False})

    assert ImageScanner().decode(image) == "6200123456789012"
    assert ImageScanner().decode_all(image) == ["6200123456789012"]


def test_blank_image_decodes_to_none():
    blank = Image.new("L", (400, 300), color=255)

    assert ImageScanner().decode(blank) is None
    assert ImageScanner().decode_all(blank) == []


def test_unreadable_image_file_raises_image_unreadable(tmp_path):
    not_an_image = tmp_path / "code.png"
    not_an_image.write_bytes(b"not a png")

    with pytest.raises(ImageUnreadable):
        ImageScanner().decode(not_an_image)
    with pytest.raises(ImageUnreadable):
        ImageScanner().decode(tmp_path / "missing.png")


@pytest.mark.skipif(importlib.util.find_spec("cv2") is not None, reason="OpenCV is installed here")
def test_camera_scanner_without_opencv_says_so():
    with pytest.raises(ScannerUnavailable) as raised:
        CameraScanner()

    assert "OpenCV" in str(raised.value)
