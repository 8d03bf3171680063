"""Operator and merchant web console under /console/: server-rendered pages, password sessions, CSRF.

Each area of the console is one blueprint module in ``server/console/views/`` that also registers its
navigation entries (``server/console/navigation.py``); ``views/__init__.py`` lists the modules.
"""

from __future__ import annotations

import os

from flask import Flask


def init_console(app: Flask) -> None:
    """Configure and register the console (its CSRF applies to console forms only, never to the JSON API)."""
    app.config.setdefault("CONSOLE_MAX_FAILED_LOGINS", 5)
    app.config.setdefault("CONSOLE_LOCKOUT_MINUTES", 15)
    app.config.setdefault("CONSOLE_MAX_FAILED_LOGINS_PER_ADDRESS", 20)
    app.config.setdefault("CONSOLE_SESSION_HOURS", 8)
    app.config.setdefault("CONSOLE_IDLE_MINUTES", 60)
    app.config.setdefault("PUBLIC_BASE_URL", os.environ.get("PUBLIC_BASE_URL", ""))  # printed on posters
    app.config.setdefault("BOOTSTRAP_SERVE_LOCAL", True)  # the console may run offline on a LAN: no CDN
    if app.config.get("SESSION_COOKIE_SAMESITE") is None:  # Flask's default is None: no SameSite protection
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    if os.environ.get("SESSION_COOKIE_SECURE", "").lower() in {"1", "true", "yes"}:  # behind HTTPS
        app.config["SESSION_COOKIE_SECURE"] = True
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # the token lives as long as the session
    if "bootstrap" not in app.extensions:  # Bootstrap-Flask serves Bootstrap's files from its package
        from flask_bootstrap import Bootstrap5

        Bootstrap5(app)

    from server.console.blueprint import console

    app.register_blueprint(console)
