"""Operator and merchant web console under /console/: server-rendered pages, password sessions, CSRF.

Each area of the console is one blueprint module in ``server/console/views/`` that also registers its
navigation entries (``server/console/navigation.py``); ``views/__init__.py`` lists the modules.
"""

from __future__ import annotations

from flask import Flask


def init_console(app: Flask) -> None:
    """Register the console (its CSRF applies to console forms only, never to the JSON API).

    Its settings (sign-in limits, session lifetimes, cookies) are in ``server/config.py``.
    """
    if "bootstrap" not in app.extensions:  # Bootstrap-Flask serves Bootstrap's files from its package
        from flask_bootstrap import Bootstrap5

        Bootstrap5(app)

    from server.console.blueprint import console

    app.register_blueprint(console)
