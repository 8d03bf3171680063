"""Where one request's time goes: CPU and wall time by stage (auth, decode, price, write, encode, other).

The stages are timed by wrapping, for the duration of a ``with StageProfile(app):`` block, the functions
that do each part of a request, wherever the application holds a reference to them (a name imported
with ``from … import``, a module attribute, a class attribute). Time is counted once, in the innermost
stage running (``write`` minus the ``price`` and ``encode`` inside it); ``other`` is the rest of the WSGI
request (Flask, routing, flask-smorest, werkzeug). A target that no longer exists (code moved) is listed
as missing instead of failing the benchmark.
"""

from __future__ import annotations

import importlib
import sys
import threading
import time
from collections import Counter

# stage -> the functions doing it, as "module:attribute" or "module:Class.method" (those that exist are timed)
STAGES: dict[str, tuple[str, ...]] = {
    "auth": ("server.services.staff:terminal_for_token", "server.services.staff:staff_for_token"),
    "decode": ("webargs.core:Parser.parse",),  # the JSON body and its schema
    "price": ("server.services.sales.price:price_sale", "alliance_shared.pricing:quote_sale"),
    "write": (
        "server.services.idempotency:run_idempotent",
        "server.services.checkout:identify",
        "server.services.identified:identify_credential",  # a one-request sale identifies inside the sale
        "server.services.checkout:record_sale",
        "server.services.sales.pipeline:record_sale",
    ),
    "encode": ("marshmallow.schema:Schema.dump", "flask.json.provider:DefaultJSONProvider.response"),
}
ORDER = ("auth", "decode", "price", "write", "encode", "other")


class StageProfile:
    """Accumulates exclusive CPU (thread time) and wall time per stage, per request path."""

    def __init__(self, app):
        self.app = app
        self.cpu: Counter = Counter()  # (path, stage) -> ns
        self.wall: Counter = Counter()
        self.requests: Counter = Counter()  # path -> count
        self.missing: list[str] = []  # stages none of whose functions exist any more
        self._local = threading.local()
        self._undo: list[tuple[object, str, object]] = []

    # ---------------------------------------------------------------------------------- timing

    def _enter(self, stage: str) -> None:
        stack = self._local.__dict__.setdefault("stack", [])
        stack.append([stage, time.thread_time_ns(), time.perf_counter_ns(), 0, 0])

    def _leave(self) -> None:
        stage, cpu0, wall0, child_cpu, child_wall = self._local.stack.pop()
        cpu, wall = time.thread_time_ns() - cpu0, time.perf_counter_ns() - wall0
        path = getattr(self._local, "path", None)
        if path is not None:
            self.cpu[(path, stage)] += cpu - child_cpu
            self.wall[(path, stage)] += wall - child_wall
        if self._local.stack:
            self._local.stack[-1][3] += cpu
            self._local.stack[-1][4] += wall

    def _wrap(self, stage: str, function):
        profile = self

        def timed(*args, **kwargs):
            profile._enter(stage)
            try:
                return function(*args, **kwargs)
            finally:
                profile._leave()

        timed.__wrapped__ = function
        timed.__name__ = getattr(function, "__name__", "timed")
        return timed

    # ------------------------------------------------------------------------------- patching

    def _set(self, owner, name: str, value) -> None:
        self._undo.append((owner, name, owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)))
        setattr(owner, name, value)

    def _patch(self, stage: str, target: str) -> bool:
        module_name, _, attribute = target.partition(":")
        try:
            module = importlib.import_module(module_name)
            owner_name, _, method = attribute.rpartition(".")
            if owner_name:  # a method: patch the class it is defined on
                owner = getattr(module, owner_name)
                self._set(owner, method, self._wrap(stage, owner.__dict__[method]))
                return True
            original = getattr(module, attribute)
        except (ImportError, AttributeError, KeyError):
            return False
        wrapped = self._wrap(stage, original)
        for loaded in list(sys.modules.values()):  # every `from module import name` of it
            name = getattr(loaded, "__name__", "") or ""
            if loaded is module or name.startswith(("server.", "bench.")):
                for key, value in list(vars(loaded).items()):
                    if value is original:
                        self._set(loaded, key, wrapped)
        return True

    def __enter__(self) -> StageProfile:
        for stage, targets in STAGES.items():
            if not [target for target in targets if self._patch(stage, target)]:
                self.missing.append(f"{stage} ({', '.join(targets)})")
        wsgi_app = self.app.wsgi_app
        profile = self

        def request(environ, start_response):
            profile._local.path = environ.get("PATH_INFO", "")
            profile.requests[profile._local.path] += 1
            profile._enter("other")
            try:
                return wsgi_app(environ, start_response)
            finally:
                profile._leave()
                profile._local.path = None

        self._set(self.app, "wsgi_app", request)
        return self

    def __exit__(self, *exc) -> None:
        for owner, name, value in reversed(self._undo):
            setattr(owner, name, value)
        self._undo.clear()

    # -------------------------------------------------------------------------------- results

    def per_request_ms(self, path: str, wall: bool = False) -> dict[str, float]:
        """Mean milliseconds per request of ``path`` by stage (CPU, or wall time)."""
        count = self.requests[path] or 1
        source = self.wall if wall else self.cpu
        return {stage: source[(path, stage)] / count / 1e6 for stage in ORDER}
