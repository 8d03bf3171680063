"""Code scanners: a keyboard-wedge scanner told apart from typing by key timing, and image/camera decoding.

Each returns the decoded text; what the text is (a member code or a card number) is decided elsewhere.
"""

from __future__ import annotations

import queue
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pos_client.messages import PosError

DEFAULT_MAX_KEY_GAP = 0.05
"""Seconds between two keys of one scan: wedge scanners type a whole code at 1-20 ms per key."""

DEFAULT_MIN_SCAN_LENGTH = 4
"""Shorter bursts are a cashier's key roll-over (two keys hit together), not a scan."""

TERMINATORS = ("\r", "\n")


class ScannerError(PosError):
    """Base of all scanner errors: a message key of pos_client.messages (str() Chinese, ``text("en")``)."""

    default_key = "scanner_error"

    def __init__(self, key: str | None = None, **values: Any) -> None:
        super().__init__(key or self.default_key, **values)


class ScannerUnavailable(ScannerError):
    """A library or device the scanner needs is missing."""

    default_key = "scanner_library_missing"


class ImageUnreadable(ScannerError):
    """The image to decode cannot be opened."""

    default_key = "scanner_image_unreadable"


class CodeScanner(ABC):
    """A source of scanned codes."""

    @abstractmethod
    def read(self, timeout: float) -> str | None:
        """Wait up to timeout seconds for one scanned code; return its text, or None if none came."""

    def close(self) -> None:
        """Release the device (nothing to release by default)."""
        return None

    def __enter__(self) -> CodeScanner:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@dataclass(frozen=True)
class Scanned:
    """A code the scanner typed, without its Enter."""

    text: str


@dataclass(frozen=True)
class Typed:
    """Keys the cashier typed, to be passed on to the focused field as they are ("\\n" for Enter)."""

    text: str


WedgeEvent = Scanned | Typed


class KeyboardWedgeScanner(CodeScanner):
    """A scanner that types like a keyboard, told apart from a cashier by its speed.

    A pure state machine: feed it every key with its timestamp (seconds, e.g. a Tk event's time / 1000)
    and call flush(now) from a timer; both return what happened. A burst of at least min_length keys,
    each within max_key_gap of the previous one and ended by Enter within max_key_gap, is a scan; any
    other keys are typing. Keys are held back until this is known, i.e. for at most max_key_gap.
    """

    def __init__(self, max_key_gap: float = DEFAULT_MAX_KEY_GAP, min_length: int = DEFAULT_MIN_SCAN_LENGTH) -> None:
        self.max_key_gap = max_key_gap
        self.min_length = min_length
        self._pending: list[str] = []
        self._last_key_at = 0.0
        self._scans: queue.Queue[str] = queue.Queue()
        self._lock = threading.Lock()

    def feed(self, char: str, timestamp: float) -> list[WedgeEvent]:
        """Take one key (a character, "\\r" or "\\n" for Enter) pressed at timestamp; return what it completed."""
        with self._lock:
            events: list[WedgeEvent] = []
            if self._pending and timestamp - self._last_key_at > self.max_key_gap:
                events.append(Typed("".join(self._pending)))
                self._pending.clear()
            if char in TERMINATORS:
                if len(self._pending) >= self.min_length:
                    code = "".join(self._pending)
                    events.append(Scanned(code))
                    self._scans.put(code)
                else:
                    events.append(Typed("".join(self._pending) + "\n"))
                self._pending.clear()
            else:
                self._pending.append(char)
                self._last_key_at = timestamp
            return events

    def flush(self, now: float) -> list[WedgeEvent]:
        """Release held keys as typing once no key followed them within max_key_gap (call from a timer)."""
        with self._lock:
            if self._pending and now - self._last_key_at > self.max_key_gap:
                text = "".join(self._pending)
                self._pending.clear()
                return [Typed(text)]
            return []

    @property
    def pending(self) -> str:
        """Keys held back while it is not yet known whether they are a scan."""
        with self._lock:
            return "".join(self._pending)

    def read(self, timeout: float) -> str | None:
        """Wait up to timeout seconds for the next scan fed to this scanner (from another thread)."""
        try:
            return self._scans.get(timeout=timeout)
        except queue.Empty:
            return None


def _zxingcpp() -> Any:
    try:
        import zxingcpp
    except ImportError as exc:
        raise ScannerUnavailable(what="zxing-cpp", package="zxing-cpp") from exc
    return zxingcpp


class ImageScanner:
    """Decodes QR codes and barcodes (Code 128, EAN, ...) from an image file, a PIL image or a camera frame."""

    def __init__(self) -> None:
        self._zxing = _zxingcpp()

    def decode(self, image: Any) -> str | None:
        """The text of the first code in the image (path, PIL image or numpy array), or None if there is none."""
        texts = self.decode_all(image)
        return texts[0] if texts else None

    def decode_all(self, image: Any) -> list[str]:
        """The texts of all codes found in the image, in the decoder's order."""
        if isinstance(image, str | Path):
            image = _open_image(Path(image))
        return [result.text for result in self._zxing.read_barcodes(image) if result.valid]


def _open_image(path: Path) -> Any:
    try:
        from PIL import Image
    except ImportError as exc:
        raise ScannerUnavailable(what="Pillow", package="pillow") from exc
    try:
        with Image.open(path) as opened:
            opened.load()
            return opened.convert("L")
    except (OSError, Image.DecompressionBombError) as exc:
        raise ImageUnreadable(path=path, reason=exc) from exc


class CameraScanner(CodeScanner):
    """Reads codes from a camera through OpenCV (only when cv2 is installed; not a dependency)."""

    def __init__(self, camera_index: int = 0, frame_interval: float = 0.05) -> None:
        try:
            import cv2
        except ImportError as exc:
            raise ScannerUnavailable(what="OpenCV", package="opencv-python-headless") from exc
        self._decoder = ImageScanner()
        self._frame_interval = frame_interval
        self._capture = cv2.VideoCapture(camera_index)
        if not self._capture.isOpened():
            self._capture.release()
            raise ScannerUnavailable("scanner_camera_closed", camera=camera_index)

    def read(self, timeout: float) -> str | None:
        """Grab frames for up to timeout seconds; return the first code decoded, or None."""
        deadline = time.monotonic() + timeout
        while True:
            ok, frame = self._capture.read()
            if ok:
                text = self._decoder.decode(frame)
                if text is not None:
                    return text
            if time.monotonic() >= deadline:
                return None
            time.sleep(self._frame_interval)

    def close(self) -> None:
        """Release the camera."""
        self._capture.release()
