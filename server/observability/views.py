"""``/healthz`` (the process answers), ``/readyz`` (what it needs is reachable) and ``/metrics`` (Prometheus)."""

from __future__ import annotations

import hmac
import ipaddress

from flask import Blueprint, Response, current_app, request

from server.api.base import error_response
from server.error_text import translate
from server.observability import metrics
from server.services.health import readiness

bp = Blueprint("observability", __name__)


@bp.get("/healthz")
def healthz():
    """The process is up and answers; touches no database (a load balancer's liveness probe)."""
    return {"status": "ok"}


@bp.get("/readyz")
def readyz():
    """The database, the replica's lag and Redis, each checked; 503 naming what failed."""
    checks = readiness()
    parts = {check.name: {"ok": check.ok, "detail": check.detail} for check in checks}
    failed = [check.name for check in checks if not check.ok]
    if failed:
        message = translate("Not ready: %(parts)s failed.") % {"parts": ", ".join(failed)}
        return error_response("not_ready", message, 503, {"failed": failed, "checks": parts})
    return {"status": "ready", "checks": parts}


@bp.get("/metrics")
def scrape():
    """Prometheus text format, for a monitoring network or a holder of ``METRICS_TOKEN``."""
    if not _may_scrape():
        message = "Metrics are served only to the monitoring network or with the metrics token."
        return error_response("forbidden", message, 403)
    body, content_type = metrics.render()
    return Response(body, content_type=content_type)


def _may_scrape() -> bool:
    """The token, or every address the request came through inside ``METRICS_ALLOWED_NETWORKS``.

    Behind nginx the peer is nginx itself, so the address nginx saw (the last ``X-Forwarded-For`` entry,
    which nginx appends and a client cannot forge) must be allowed too.
    """
    token = current_app.config["METRICS_TOKEN"]
    given = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return True
    networks = [
        ipaddress.ip_network(item.strip(), strict=False)
        for item in current_app.config["METRICS_ALLOWED_NETWORKS"].split(",")
        if item.strip()
    ]
    addresses = [request.remote_addr or ""]
    forwarded = request.headers.get("X-Forwarded-For", "")
    if forwarded:
        addresses.append(forwarded.split(",")[-1].strip())
    return all(_inside(address, networks) for address in addresses)


def _inside(address: str, networks) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)
