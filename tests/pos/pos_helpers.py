"""Helpers for POS tests: a server the test can stop and start on a fixed port, holding requests on demand."""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from pos_client.config import PosConfig


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Gate:
    """What the front server does with POST /sales: forward it, hold it before (or after) the real server."""

    hold_before: threading.Event = field(default_factory=threading.Event)
    hold_after: threading.Event = field(default_factory=threading.Event)
    held: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    sales_seen: list[dict] = field(default_factory=list)


class FrontServer:
    """An HTTP front for the real server on a fixed port, which the test can take down and bring back.

    ``stop()`` closes the port (the POS sees connection refused: offline); ``start()`` opens it again.
    A gate holds POST /sales before forwarding it or after the real server answered, so a test can kill
    the POS at exactly that moment.
    """

    def __init__(self, upstream: str):
        self.upstream, self.port, self.gate = upstream, free_port(), Gate()
        self.gated = lambda path: path == "/api/v1/sales"  # which POST paths the gate holds
        self._server = None
        self._thread: threading.Thread | None = None
        self._session = requests.Session()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server = make_server("127.0.0.1", self.port, self._app, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self.gate.release.set()
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=10)
            self._server = None
            self.gate.release.clear()

    def _app(self, environ, start_response):
        request = Request(environ)
        body = request.get_data()
        is_sale = request.method == "POST" and self.gated(request.path)
        if is_sale:
            self.gate.sales_seen.append(json.loads(body))
        if is_sale and self.gate.hold_before.is_set():
            self.gate.held.set()
            self.gate.release.wait(60)
            return Response("held", status=503)(environ, start_response)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        answer = self._session.request(
            request.method, self.upstream + request.full_path.rstrip("?"), data=body, headers=headers, timeout=30
        )
        if is_sale and self.gate.hold_after.is_set():
            self.gate.held.set()
            self.gate.release.wait(60)
            return Response("held", status=503)(environ, start_response)
        response = Response(answer.content, status=answer.status_code, content_type=answer.headers.get("Content-Type"))
        return response(environ, start_response)


def write_config(tmp_path: Path, url: str, token: str, printer: str = "dummy", reader: str | None = None) -> Path:
    """A registered terminal's configuration file; returns its path (the outbox goes beside it)."""
    path = tmp_path / "pos" / "config.json"
    PosConfig(server_url=url, token=token, printer=printer, reader=reader).save(path)
    return path


def wait_until(predicate, timeout: float = 15.0, interval: float = 0.02) -> None:
    """Poll ``predicate`` until it is true; AssertionError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(interval)


class TcpPrinter:
    """A raw-TCP receipt 'printer' on a free local port keeping the bytes of every job (one per connection
    that sends any)."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.jobs: list[bytes] = []
        self._stop = False
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def spec(self) -> str:
        return f"network:127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while not self._stop:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            with connection:
                chunks = []
                while chunk := connection.recv(4096):
                    chunks.append(chunk)
                if chunks:  # a connection that sends nothing (the status line's check) prints nothing
                    self.jobs.append(b"".join(chunks))

    def close(self) -> None:
        self._stop = True
        with contextlib.suppress(OSError):
            self.server.shutdown(socket.SHUT_RDWR)  # wakes the accept() of the serving thread
        self.server.close()


def printed_text_and_qr(job: bytes) -> tuple[str, list[str]]:
    """The GB18030 text of an ESC/POS job and the QR payloads it asks the printer to draw."""
    from tests.pos.test_printer import parse_job

    text, _, codes = parse_job(job)
    stored = [code[3:].decode() for code in codes if code[:3] == b"1P0"]  # GS ( k <fn 80>: store the QR data
    return text.decode("gb18030"), stored


def decode_qr_image(payload: str) -> str:
    """Draw ``payload`` as the printer would (a QR code) and read it back with zxing-cpp."""
    import segno
    import zxingcpp
    from PIL import Image

    path = Path(__import__("tempfile").mkdtemp()) / "qr.png"
    segno.make_qr(payload).save(path, scale=6, border=4)
    results = zxingcpp.read_barcodes(Image.open(path))
    assert results, "no QR code found in the rendered image"
    return results[0].text


_xvfb: dict = {}


def xvfb_display() -> str:
    """DISPLAY of an Xvfb server started once per test process and set in the environment; it lives until
    the process ends, because Tk keeps its X connection and exits the whole process when that server
    goes away. Xvfb picks a free display itself (``-displayfd``: it takes the display's lock file, then
    writes the number back), so test runs started side by side never share, or take over, a display."""
    import atexit
    import os
    import select
    import shutil
    import subprocess

    from tests.resources import unavailable

    if "display" in _xvfb:
        os.environ["DISPLAY"] = _xvfb["display"]
        return _xvfb["display"]
    if shutil.which("Xvfb") is None:
        unavailable("Xvfb is not installed (apt-get install xvfb)")
    read_end, write_end = os.pipe()
    try:
        process = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write_end), "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
            pass_fds=(write_end,),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    finally:
        os.close(write_end)
    number, deadline = b"", time.monotonic() + 10
    try:
        while not number.endswith(b"\n"):
            left = deadline - time.monotonic()
            chunk = os.read(read_end, 16) if left > 0 and select.select([read_end], [], [], left)[0] else b""
            if not chunk:  # timed out, or Xvfb exited (end of the pipe) without a display
                process.kill()
                unavailable("Xvfb did not start")
            number += chunk
    finally:
        os.close(read_end)
    atexit.register(process.terminate)
    _xvfb["display"] = os.environ["DISPLAY"] = f":{int(number)}"
    return _xvfb["display"]


class LeftChip:
    """A chip the till read and that was taken away before anything was written (no reader in the test)."""

    apdu_count = 12

    def open(self, *args) -> None:
        from alliance_shared.devices.card_reader import CardRemoved

        raise CardRemoved("the card was taken away")


def chip_on_the_reader(app, core, card_id: str, uid: bytes = bytes.fromhex("04C0FFEE112233")) -> dict:
    """Give ``card_id`` the chip ``uid`` and make ``core`` read it at each tap, as its reader would: the
    signed record and counter the alliance wrote (the reader itself is hardware: tests/hardware). Returns
    the read as the API takes it."""
    from alliance_shared.devices.card_reader import CardInfo
    from alliance_shared.devices.member_card import card_read_body
    from server.extensions import db
    from server.models import Card
    from server.services import cards

    with app.app_context():
        card = db.session.get(Card, card_id)
        card.chip_uid = uid.hex().upper()
        blocks, _ = cards._card_image(card, uid)
        db.session.commit()
        db.session.remove()
    read = card_read_body(uid, blocks)
    core._read_tapped_card = lambda timeout: (core.info, CardInfo(uid, b""), LeftChip(), blocks, read)
    return read
