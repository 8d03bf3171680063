"""Skip-or-fail for tests that need a real component (PostgreSQL, pcscd, Chromium, Xvfb)."""

import os

import pytest


def in_ci() -> bool:
    """True when running under CI, where no real-component test may skip."""
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def unavailable(reason: str):
    """Skip the current test locally; fail it in CI, where the component must be present."""
    if in_ci():
        pytest.fail(f"required component unavailable in CI: {reason}", pytrace=False)
    pytest.skip(reason)
