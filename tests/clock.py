"""A settable clock for the services that read the time (sales, refunds, lots, settlement, jobs)."""

from __future__ import annotations

import threading
from contextlib import ExitStack, contextmanager
from datetime import datetime, timedelta
from unittest.mock import patch

CLOCK_MODULES = (
    "server.services.checkout",
    "server.services.identified",
    "server.services.sales.pipeline",
    "server.services.points",
    "server.services.settlement",
    "server.services.jobs",
    "server.services.brushing",
    "server.services.complaints",
    "server.services.commissions",
)


class Clock:
    """Returns ``now`` until moved."""

    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> datetime:
        """Move the clock forward by ``timedelta(**delta)``."""
        self.now += timedelta(**delta)
        return self.now


@contextmanager
def frozen_clock(start: datetime):
    """Every service module in CLOCK_MODULES reads the time from the yielded Clock.

    Only from the test's own thread: the patches replace module attributes, and threads entering and leaving
    them out of order would leave a frozen clock behind for the tests that follow (pass ``now=`` instead)."""
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("frozen_clock patches module attributes: use it in the test's thread, not a worker")
    clock = Clock(start)
    with ExitStack() as stack:
        for module in CLOCK_MODULES:
            stack.enter_context(patch(f"{module}.utcnow", clock))
        yield clock
