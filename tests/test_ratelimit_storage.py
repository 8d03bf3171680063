"""The default rate-limit storage counts like limits' memory storage without starting a thread per hit."""

from __future__ import annotations

import threading
import time

from limits import parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

from server.ratelimit import SweptMemoryStorage


def test_default_storage_is_the_swept_memory_storage(app):
    from server.ratelimit import limiter

    assert app.config["RATELIMIT_STORAGE_URI"] == "memory-swept://"
    assert isinstance(limiter.storage, SweptMemoryStorage)


def test_hits_start_no_thread_and_expired_counters_are_swept(monkeypatch):
    storage = storage_from_string("memory-swept://")
    assert isinstance(storage, SweptMemoryStorage)
    started = []
    start = threading.Thread.start
    monkeypatch.setattr(threading.Thread, "start", lambda self, *a, **k: started.append(self) or start(self, *a, **k))
    strategy = FixedWindowRateLimiter(storage)
    item = parse("3/second")
    allowed = []
    for _ in range(4):
        allowed.append(strategy.hit(item, "test", "key"))
        time.sleep(0.015)  # more than the 10 ms after which MemoryStorage would start a new timer thread
    assert allowed == [True, True, True, False]
    assert started == []
    storage.SWEEP_SECONDS = 0
    time.sleep(1.05)
    storage.incr("other", 60)  # a hit sweeps: the expired window of "key" is gone
    assert list(storage.storage) == ["other"]
