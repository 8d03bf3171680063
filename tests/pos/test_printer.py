"""Receipt printing: real ESC/POS bytes over a local TCP 'printer', to a file and to the dummy, decoded back."""

import socket
import threading
import time

import pytest

from pos_client.devices.printer import (
    DummyPrinter,
    InvalidPrinterSpec,
    PrinterError,
    PrinterOffline,
    PrinterSpec,
    open_printer,
    parse_printer_spec,
    receipt_job,
)
from pos_client.devices.receipt import render_lines
from tests.pos.test_receipt import make_receipt

URL = "https://alliance.example.cn/r/8f3a2c"

# ESC/POS commands a receipt job may contain: prefix -> number of parameter bytes that follow.
_FIXED_COMMANDS = {
    b"\x1b@": 0,  # initialise
    b"\x1c&": 0,  # Chinese mode on
    b"\x1c.": 0,  # Chinese mode off
    b"\x1b!": 1,  # print mode (size)
    b"\x1bE": 1,  # bold
    b"\x1ba": 1,  # alignment
    b"\x1bd": 1,  # print and feed n lines
    b"\x1dV": 1,  # cut
}


def parse_job(data: bytes) -> tuple[bytes, list[bytes], list[bytes]]:
    """Split an ESC/POS stream into its text bytes, its commands and its GS ( k (2D code) payloads."""
    text, commands, codes = bytearray(), [], []
    i = 0
    while i < len(data):
        if data[i] in (0x1B, 0x1C, 0x1D):
            prefix = data[i : i + 2]
            if prefix == b"\x1d(" and data[i + 2 : i + 3] == b"k":
                length = data[i + 3] | data[i + 4] << 8
                codes.append(data[i + 5 : i + 5 + length])
                commands.append(data[i : i + 5 + length])
                i += 5 + length
                continue
            assert prefix in _FIXED_COMMANDS, f"unexpected command {prefix!r} at {i}"
            end = i + 2 + _FIXED_COMMANDS[prefix]
            commands.append(data[i:end])
            i = end
        else:
            text.append(data[i])
            i += 1
    return bytes(text), commands, codes


class FakeNetworkPrinter:
    """A raw-TCP 'printer' on a free local port that records every byte of each connection."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(5)
        self.port = self.server.getsockname()[1]
        self.jobs: list[bytes] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        connection, _ = self.server.accept()
        with connection:
            connection.settimeout(5)
            chunks = []
            while chunk := connection.recv(4096):
                chunks.append(chunk)
            self.jobs.append(b"".join(chunks))

    def received(self) -> bytes:
        self.thread.join(timeout=5)
        self.server.close()
        assert len(self.jobs) == 1
        return self.jobs[0]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_network_printer_receives_gb18030_text_in_chinese_mode_a_native_qr_code_and_a_cut():
    fake = FakeNetworkPrinter()
    receipt = make_receipt()

    open_printer(f"network:127.0.0.1:{fake.port}").print_receipt(receipt, 58)
    data = fake.received()

    assert data == receipt_job(receipt, 58)
    text_bytes, commands, codes = parse_job(data)
    assert "老王火锅".encode("gb18030") in text_bytes
    assert "老王火锅".encode() not in data
    text = text_bytes.decode("gb18030")
    assert text.splitlines() == [line.rstrip() for line in render_lines(receipt, 58)]
    for expected in ("老王火锅（人民路店）", "R202611220001", "128.00", "-12.80", "114.20", "+114", "138****5678"):
        assert expected in text
    # Initialise and Chinese mode come before any text; bold + double height for the merchant name.
    assert data.startswith(b"\x1b@\x1c&")
    header_at = data.index("老王火锅".encode("gb18030"))
    assert b"\x1bE\x01" in data[:header_at] and b"\x1b!\x10" in data[:header_at]
    assert data.index(b"\x1bE\x00") > header_at
    # Native QR: model 2, module size, error level, the URL stored (fn 80), then printed (fn 81).
    assert codes == [b"1A2\x00", b"1C\x06", b"1E0", b"1P0" + URL.encode(), b"1Q0"]
    # The QR code sits after the body and before the footer text; the job ends with the cut.
    qr_at = data.index(b"\x1d(k")
    assert data.index("实付金额".encode("gb18030")) < qr_at < data.index("扫码查看电子小票".encode("gb18030"))
    assert commands[-2:] == [b"\x1bd\x06", b"\x1dV\x00"]


def test_80mm_english_receipt_over_the_network():
    fake = FakeNetworkPrinter()
    receipt = make_receipt(offline=True)

    open_printer(f"network:127.0.0.1:{fake.port}").print_receipt(receipt, 80, lang="en")
    text = parse_job(fake.received())[0].decode("gb18030")

    assert text.splitlines() == [line.rstrip() for line in render_lines(receipt, 80, "en")]
    assert "Total paid                                114.20" in text
    assert "OFFLINE SALE - PENDING UPLOAD" in text


def test_file_printer_writes_the_same_bytes(tmp_path):
    path = tmp_path / "lp0"
    receipt = make_receipt()

    with open_printer(f"file:{path}") as printer:
        printer.print_receipt(receipt, 58)

    assert path.read_bytes() == receipt_job(receipt, 58)
    assert b"R202611220001" in path.read_bytes()


def test_a_receipt_that_cannot_be_laid_out_sends_nothing(tmp_path):
    path = tmp_path / "lp0"

    with pytest.raises(ValueError):
        open_printer(f"file:{path}").print_receipt(make_receipt(), 70)

    assert not path.exists()


def test_dummy_printer_keeps_every_job():
    printer = open_printer("dummy")
    first, second = make_receipt(), make_receipt(receipt_no="R202611220002")

    printer.print_receipt(first)
    printer.print_receipt(second, 80)

    assert isinstance(printer, DummyPrinter)
    assert printer.output == receipt_job(first, 58) + receipt_job(second, 80)


def test_nothing_listening_raises_printer_offline_quickly():
    port = free_port()
    printer = open_printer(f"network:127.0.0.1:{port}", timeout=1.0)

    started = time.monotonic()
    with pytest.raises(PrinterOffline) as raised:
        printer.print_receipt(make_receipt())

    assert time.monotonic() - started < 2
    assert f"127.0.0.1:{port}" in str(raised.value)
    assert "连接不上" in str(raised.value) and "开机" in str(raised.value)
    assert "switched on" in raised.value.text("en")


def test_a_printer_that_never_answers_the_connection_times_out():
    # A listener whose accept queue is full drops further SYNs, like a printer that hangs.
    server = socket.create_server(("127.0.0.1", 0), backlog=0)
    port = server.getsockname()[1]
    queued = []
    try:
        for _ in range(8):
            try:
                queued.append(socket.create_connection(("127.0.0.1", port), timeout=0.2))
            except TimeoutError:
                break
        else:
            pytest.fail("the kernel accepted every connection; cannot simulate a hanging printer")
        printer = open_printer(f"network:127.0.0.1:{port}", timeout=0.3)
        started = time.monotonic()
        with pytest.raises(PrinterOffline):
            printer.print_receipt(make_receipt())
        assert time.monotonic() - started < 2
    finally:
        for connection in queued:
            connection.close()
        server.close()


def test_missing_device_file_raises_printer_offline(tmp_path):
    with pytest.raises(PrinterOffline) as raised:
        open_printer(f"file:{tmp_path}/missing/lp0").print_receipt(make_receipt())

    assert "missing/lp0" in str(raised.value)


@pytest.mark.parametrize(
    ("spec", "parsed"),
    [
        ("network:192.168.1.50", PrinterSpec(kind="network", host="192.168.1.50", port=9100)),
        ("network:printer.local:9101", PrinterSpec(kind="network", host="printer.local", port=9101)),
        ("network:[fe80::1]:9100", PrinterSpec(kind="network", host="fe80::1", port=9100)),
        ("usb:0416:5011", PrinterSpec(kind="usb", vendor_id=0x0416, product_id=0x5011)),
        ("USB:0x04b8:0x0e15", PrinterSpec(kind="usb", vendor_id=0x04B8, product_id=0x0E15)),
        ("serial:/dev/ttyUSB0", PrinterSpec(kind="serial", device="/dev/ttyUSB0", baudrate=9600)),
        ("serial:/dev/ttyS1@115200", PrinterSpec(kind="serial", device="/dev/ttyS1", baudrate=115200)),
        ("file:/dev/usb/lp0", PrinterSpec(kind="file", device="/dev/usb/lp0")),
        (" dummy ", PrinterSpec(kind="dummy")),
    ],
)
def test_parse_printer_spec(spec, parsed):
    assert parse_printer_spec(spec) == parsed


@pytest.mark.parametrize(
    "spec", ["", "network:", "network:host:99999", "network:host:port", "usb:0416", "usb:xyz:5011", "lpt1", "file:"]
)
def test_bad_printer_settings_are_refused_with_the_accepted_forms(spec):
    with pytest.raises(InvalidPrinterSpec) as raised:
        open_printer(spec)

    assert "无法识别" in str(raised.value) and "network:HOST[:PORT]" in str(raised.value)
    assert "usb:0416:5011" in raised.value.text("en")


def test_usb_printer_without_pyusb_says_what_to_install():
    from escpos.printer import Usb

    if Usb.is_usable():
        pytest.skip("pyusb is installed here")
    with pytest.raises(PrinterError) as raised:
        open_printer("usb:0416:5011")

    assert "pip install pyusb" in str(raised.value)
    assert not isinstance(raised.value, PrinterOffline)


def test_check_tells_a_reachable_printer_from_a_missing_one(tmp_path):
    listening = socket.create_server(("127.0.0.1", 0))
    try:
        open_printer(f"network:127.0.0.1:{listening.getsockname()[1]}").check()  # answers: no error, prints nothing
    finally:
        listening.close()
    with pytest.raises(PrinterOffline) as raised:
        open_printer(f"network:127.0.0.1:{free_port()}").check()
    assert "连接不上" in str(raised.value)
    with pytest.raises(PrinterOffline):
        open_printer("file:/dev/usb/no-such-lp9").check()
    open_printer(f"file:{tmp_path}/receipt.bin").check()  # a plain file in an existing folder is created on print
