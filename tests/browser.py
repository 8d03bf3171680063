"""Headless Chromium (Debian's ``chromium``) through Playwright, and screenshots for people to review."""

from __future__ import annotations

import shutil
from pathlib import Path

ARTIFACTS_DIR = Path(__file__).resolve().parent.parent / "test-artifacts"
CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome")


def chromium_path() -> str | None:
    """The system Chromium executable, if one is installed."""
    return next((path for name in CHROMIUM_CANDIDATES if (path := shutil.which(name))), None)


def save_screenshot(page, name: str, full_page: bool = True) -> Path:
    """Save a screenshot of ``page`` as ``test-artifacts/<name>.png`` and return its path."""
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    path = ARTIFACTS_DIR / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
