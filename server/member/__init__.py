"""Member H5 pages under /m/: register, log in, my card with the dynamic code, history, merchants, privacy."""

from __future__ import annotations

from flask import Flask


def register_member_pages(app: Flask) -> None:
    """Mount the member pages and their static files."""
    from server.member import views, wechat  # noqa: F401  (routes)
    from server.member.blueprint import bp

    app.register_blueprint(bp)
