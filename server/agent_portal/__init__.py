"""Agent portal H5 pages under /a/: sign in with phone + SMS code; my level and progress, evaluations,
merchants and their sales, members I recruited (masked), subordinates, alerts and badges."""

from __future__ import annotations

from flask import Flask


def register_agent_portal(app: Flask) -> None:
    """Mount the agent portal and its static files."""
    from server.agent_portal import views  # noqa: F401  (routes)
    from server.agent_portal.blueprint import bp

    app.register_blueprint(bp)
