"""Receipt printers: one small interface, ESC/POS transports from python-escpos chosen by a spec string.

Spec strings (the `printer` setting of the terminal):
  network:HOST[:PORT]   a network printer, raw TCP (port 9100 by default)
  usb:VID:PID           a USB printer by hex vendor and product id (needs pyusb), e.g. usb:0416:5011
  serial:DEVICE[@BAUD]  a serial printer (needs pyserial), e.g. serial:/dev/ttyUSB0@115200
  file:PATH             a device file such as /dev/usb/lp0, or a plain file (overwritten by each receipt)
  dummy                 keeps the bytes in memory (tests, demo)
"""

from __future__ import annotations

import contextlib
import re
import socket
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pos_client.devices.receipt import Receipt, layout_receipt
from pos_client.messages import PosError

DEFAULT_NETWORK_PORT = 9100
DEFAULT_TIMEOUT = 5.0
TEXT_ENCODING = "gb18030"

ESC_INIT = b"\x1b@"
# Chinese thermal printers (Xprinter, Gprinter, Rongta, Epson's Chinese models) print two-byte GB codes only in
# "Chinese character mode": FS & turns it on, FS . turns it off again for whoever prints after us.
FS_CHINESE_MODE_ON = b"\x1c&"
FS_CHINESE_MODE_OFF = b"\x1c."
QR_MODULE_SIZE = 6
CHECK_TIMEOUT = 1.0  # seconds the status line's reachability check may wait for a network printer


class PrinterError(PosError):
    """Base of all printer errors: a message key of pos_client.messages (str() Chinese, ``text("en")``)."""

    default_key = "printer_error"

    def __init__(self, key: str | None = None, **values: Any) -> None:
        super().__init__(key or self.default_key, **values)


class PrinterOffline(PrinterError):
    """The printer cannot be reached: connection refused or timed out, or the device is missing."""

    default_key = "printer_unreachable"


class InvalidPrinterSpec(PrinterError):
    """The printer setting cannot be understood."""

    default_key = "printer_spec_invalid"


@dataclass(frozen=True)
class PrinterSpec:
    """A parsed printer setting: the transport and its address."""

    kind: str
    host: str = ""
    port: int = DEFAULT_NETWORK_PORT
    vendor_id: int = 0
    product_id: int = 0
    device: str = ""
    baudrate: int = 9600


class ReceiptPrinter(ABC):
    """A receipt printer; print_receipt either prints the whole receipt or raises PrinterError."""

    @abstractmethod
    def print_receipt(self, receipt: Receipt, width_mm: int = 58, lang: str = "zh") -> None:
        """Print the receipt (text, QR code, cut) or raise PrinterOffline / PrinterError."""

    @abstractmethod
    def print_text(self, title: str, lines: list[str]) -> None:
        """Print a report (title big, then fixed-width lines, cut) or raise PrinterOffline / PrinterError."""

    def check(self) -> None:
        """Raise PrinterOffline when the printer cannot be reached right now (the status line asks this)."""
        return None

    def close(self) -> None:
        """Release the printer (transports here connect per receipt, so there is usually nothing to do)."""
        return None

    def __enter__(self) -> ReceiptPrinter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _escpos_printer_module() -> Any:
    try:
        from escpos import printer
    except ImportError as exc:
        raise PrinterError("printer_library_missing", package="python-escpos") from exc
    return printer


def receipt_job(receipt: Receipt, width_mm: int = 58, lang: str = "zh") -> bytes:
    """The complete ESC/POS job for one receipt: GB18030 text in Chinese mode, native QR code, cut."""
    layout = layout_receipt(receipt, width_mm, lang)
    job = _escpos_printer_module().Dummy()
    job._raw(ESC_INIT + FS_CHINESE_MODE_ON)
    # The layout centres its lines with spaces, so the printer aligns text left (double height keeps the width).
    job.set(align="left", bold=True, double_height=True)
    _text_lines(job, layout.header)
    job.set(align="left", bold=False, normal_textsize=True)
    _text_lines(job, layout.body)
    if layout.gift:
        _text_lines(job, layout.gift)
    if layout.gift_qr:  # the gift voucher's code, for the till that scans it next time
        job.set(align="center")
        job.qr(layout.gift_qr, size=QR_MODULE_SIZE, native=True)
        job.set(align="left")
    if layout.qr_url:
        # Native QR (GS ( k) is rendered by the printer itself: sharp and compact on every thermal head.
        # ESC a 1 centres it on the printers we know; python-escpos refuses center= for native codes.
        job.set(align="center")
        job.qr(layout.qr_url, size=QR_MODULE_SIZE, native=True)
        job.set(align="left")
    _text_lines(job, layout.footer)
    job._raw(FS_CHINESE_MODE_OFF)
    job.cut()
    return job.output


def text_job(title: str, lines: list[str]) -> bytes:
    """An ESC/POS job for a report such as the shift report: a big title, GB18030 lines, cut."""
    job = _escpos_printer_module().Dummy()
    job._raw(ESC_INIT + FS_CHINESE_MODE_ON)
    job.set(align="left", bold=True, double_height=True)
    _text_lines(job, [title])
    job.set(align="left", bold=False, normal_textsize=True)
    _text_lines(job, lines)
    job._raw(FS_CHINESE_MODE_OFF)
    job.cut()
    return job.output


def _text_lines(job: Any, lines: list[str]) -> None:
    # python-escpos' magic encoder knows no two-byte code pages, so the text is encoded here (GB18030 is what
    # Chinese printers' resident fonts use). Trailing spaces only cost transfer time and are dropped.
    if lines:
        job._raw("".join(line.rstrip() + "\n" for line in lines).encode(TEXT_ENCODING))


class EscposPrinter(ReceiptPrinter):
    """A printer behind one python-escpos transport, connected afresh for each receipt."""

    def __init__(self, spec: PrinterSpec, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.spec = spec
        self.timeout = timeout
        self._module = _escpos_printer_module()
        self._check_transport_available()

    def print_receipt(self, receipt: Receipt, width_mm: int = 58, lang: str = "zh") -> None:
        """Print the receipt in one write (built completely first, so a bad receipt sends nothing)."""
        self.send(receipt_job(receipt, width_mm, lang))

    def print_text(self, title: str, lines: list[str]) -> None:
        """Print a report in one write."""
        self.send(text_job(title, lines))

    def send(self, job: bytes) -> None:
        """Open the transport, write the job, close it; raise PrinterOffline when the printer is not there."""
        escpos_exceptions = _escpos_exceptions()
        try:
            device = self._open_device()
        except (escpos_exceptions.DeviceNotFoundError, OSError) as exc:
            raise PrinterOffline(where=self.describe()) from exc
        except escpos_exceptions.Error as exc:
            raise PrinterError("printer_reported", where=self.describe(), detail=exc) from exc
        try:
            device._raw(job)
            if self.spec.kind == "file":
                device.flush()
        except escpos_exceptions.DeviceNotFoundError as exc:
            raise PrinterOffline(where=self.describe()) from exc
        except TimeoutError as exc:
            raise PrinterOffline("printer_stalled", where=self.describe()) from exc
        except OSError as exc:
            raise PrinterOffline(where=self.describe()) from exc
        except escpos_exceptions.Error as exc:
            raise PrinterError("printer_reported", where=self.describe(), detail=exc) from exc
        finally:
            self._close_device(device)

    def check(self) -> None:
        """Raise PrinterOffline when the printer is not there: nothing answers at its address, its device file
        is missing, or (USB) no device with its ids is plugged in. Prints nothing."""
        spec = self.spec
        if spec.kind == "network":
            try:
                socket.create_connection((spec.host, spec.port), timeout=min(self.timeout, CHECK_TIMEOUT)).close()
            except OSError as exc:
                raise PrinterOffline(where=self.describe()) from exc
        elif spec.kind in ("file", "serial"):
            device = Path(spec.device)
            # a plain file (not a device) is created by the first receipt, so only its folder must exist
            if not device.exists() and (spec.device.startswith("/dev/") or not device.parent.is_dir()):
                raise PrinterOffline(where=self.describe())
        elif spec.kind == "usb":
            import usb.core  # present: __init__ checked that the Usb transport is usable

            try:
                found = usb.core.find(idVendor=spec.vendor_id, idProduct=spec.product_id)
            except usb.core.USBError as exc:
                raise PrinterError("printer_reported", where=self.describe(), detail=exc) from exc
            if found is None:
                raise PrinterOffline(where=self.describe())

    def describe(self) -> str:
        """Where this printer is, for messages: '192.168.1.50:9100', 'USB 0416:5011', '/dev/usb/lp0'."""
        spec = self.spec
        if spec.kind == "network":
            return f"{spec.host}:{spec.port}"
        if spec.kind == "usb":
            return f"USB {spec.vendor_id:04x}:{spec.product_id:04x}"
        return spec.device

    def _check_transport_available(self) -> None:
        # python-escpos' Usb and Serial fail even in __del__ when their library is missing, so check first.
        needs = {"usb": ("Usb", "pyusb"), "serial": ("Serial", "pyserial")}
        if self.spec.kind in needs:
            class_name, package = needs[self.spec.kind]
            if not getattr(self._module, class_name).is_usable():
                raise PrinterError("printer_library_missing", package=package)

    def _open_device(self) -> Any:
        spec, module = self.spec, self._module
        if spec.kind == "network":
            device = module.Network(host=spec.host, port=spec.port, timeout=self.timeout)
            # python-escpos' Network.open leaves its socket open when connecting fails, so connect here.
            device.device = socket.create_connection((spec.host, spec.port), timeout=self.timeout)
            return device
        if spec.kind == "usb":
            device = module.Usb(spec.vendor_id, spec.product_id, timeout=int(self.timeout * 1000))
        elif spec.kind == "serial":
            device = module.Serial(devfile=spec.device, baudrate=spec.baudrate, timeout=self.timeout)
        elif spec.kind == "file":
            device = module.File(devfile=spec.device, auto_flush=False)
        else:
            raise InvalidPrinterSpec(spec=spec.kind)
        device.open()
        return device

    def _close_device(self, device: Any) -> None:
        # The job is written; a connection that fails while closing changes nothing for the receipt.
        with contextlib.suppress(OSError):
            device.close()
        # python-escpos closes again from __del__; mark it closed so that cannot raise later.
        device._device = False


class DummyPrinter(ReceiptPrinter):
    """Keeps every printed job in memory; output is all bytes printed so far."""

    def __init__(self) -> None:
        _escpos_printer_module()
        self.jobs: list[bytes] = []

    def print_receipt(self, receipt: Receipt, width_mm: int = 58, lang: str = "zh") -> None:
        """Append the receipt's ESC/POS job to jobs."""
        self.jobs.append(receipt_job(receipt, width_mm, lang))

    def print_text(self, title: str, lines: list[str]) -> None:
        """Append the report's ESC/POS job to jobs."""
        self.jobs.append(text_job(title, lines))

    @property
    def output(self) -> bytes:
        """All bytes printed so far."""
        return b"".join(self.jobs)


def parse_printer_spec(spec: str) -> PrinterSpec:
    """Parse a printer setting such as 'network:192.168.1.50:9100' or 'usb:0416:5011'."""
    kind, _, rest = spec.strip().partition(":")
    kind = kind.lower()
    if kind == "dummy" and not rest:
        return PrinterSpec(kind="dummy")
    if kind == "network" and rest:
        host, port = rest, DEFAULT_NETWORK_PORT
        match = re.fullmatch(r"\[(?P<v6>[^\]]+)\](?::(?P<port6>\d+))?|(?P<host>[^:]+)(?::(?P<port>\d+))?", rest)
        if match is None:
            raise InvalidPrinterSpec(spec=spec)
        host = match["v6"] or match["host"]
        port_text = match["port6"] or match["port"]
        port = int(port_text) if port_text else DEFAULT_NETWORK_PORT
        if not 0 < port < 65536:
            raise InvalidPrinterSpec(spec=spec)
        return PrinterSpec(kind="network", host=host, port=port)
    if kind == "usb":
        match = re.fullmatch(r"(?:0x)?([0-9a-fA-F]{1,4}):(?:0x)?([0-9a-fA-F]{1,4})", rest)
        if match is None:
            raise InvalidPrinterSpec(spec=spec)
        return PrinterSpec(kind="usb", vendor_id=int(match[1], 16), product_id=int(match[2], 16))
    if kind == "serial" and rest:
        device, _, baud = rest.partition("@")
        if baud and not baud.isdigit():
            raise InvalidPrinterSpec(spec=spec)
        return PrinterSpec(kind="serial", device=device, baudrate=int(baud) if baud else 9600)
    if kind == "file" and rest:
        return PrinterSpec(kind="file", device=rest)
    raise InvalidPrinterSpec(spec=spec)


def open_printer(spec: str, timeout: float = DEFAULT_TIMEOUT) -> ReceiptPrinter:
    """The printer a spec string names; timeout (seconds) bounds connecting and each write."""
    parsed = parse_printer_spec(spec)
    if parsed.kind == "dummy":
        return DummyPrinter()
    return EscposPrinter(parsed, timeout=timeout)


def _escpos_exceptions() -> Any:
    from escpos import exceptions

    return exceptions
