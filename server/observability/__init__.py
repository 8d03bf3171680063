"""Operations: health and readiness probes, Prometheus metrics and structured logs (docs/operations.md)."""

from __future__ import annotations

from flask import Flask


def init_observability(app: Flask) -> None:
    """Request ids and JSON logs first (so every later hook's lines carry the id), then the probes."""
    from server.extensions import db
    from server.observability.logs import init_logs
    from server.observability.metrics import install_session_counting
    from server.observability.views import bp

    init_logs(app)
    install_session_counting(db.session)
    app.register_blueprint(bp)
