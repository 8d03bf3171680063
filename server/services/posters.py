"""Recruiting posters: each merchant's QR code opens the member registration page with its token."""

from __future__ import annotations

import io
import secrets

import segno
from sqlalchemy import select

from server.extensions import db
from server.models import MerchantPoster
from server.services.catalog import get_merchant
from server.services.unit_of_work import transactional


@transactional
def poster_token(merchant_id: str) -> str:
    """The merchant's poster token, created on first use."""
    get_merchant(merchant_id)
    token = db.session.scalar(select(MerchantPoster.token).where(MerchantPoster.merchant_id == merchant_id))
    if token is None:
        token = secrets.token_urlsafe(9)
        db.session.add(MerchantPoster(token=token, merchant_id=merchant_id))
    return token


def poster_merchant(token: str | None) -> str | None:
    """The merchant id behind a poster token (None for the alliance's own poster or an unknown token)."""
    if not token:
        return None
    return db.session.scalar(select(MerchantPoster.merchant_id).where(MerchantPoster.token == token))


# Printable poster sheets: paper name → (width, height) in millimetres, and the QR code's side on it.
PAPER_SIZES = {"a4": (210, 297, 120), "a5": (148, 210, 85)}
MAX_LINE = 60  # characters of the poster's own line of text
LOOPBACK_HOSTS = ("127.", "localhost", "[::1]", "0.0.0.0")


def public_base_url(config_value: str | None, request_base: str) -> tuple[str, bool]:
    """The address posters print: ``PUBLIC_BASE_URL`` when set, else the address this request came to.

    The flag is False when the setting is missing (a poster printed then may hold an address such as
    ``http://127.0.0.1:5000`` that members' phones cannot reach)."""
    if config_value and config_value.strip():
        return config_value.strip(), True
    return request_base, False


def points_at_this_machine(url: str) -> bool:
    """True when ``url`` names a loopback address, which no member's phone reaches."""
    host = url.split("://", 1)[-1]
    return host.startswith(LOOPBACK_HOSTS)


def join_url(base_url: str, token: str) -> str:
    """The registration URL a poster's QR code holds."""
    return f"{base_url.rstrip('/')}/m/join?m={token}"


def poster_qr(url: str, kind: str) -> bytes:
    """The QR code of ``url`` as SVG or PNG (segno, error correction M, big enough to print)."""
    qr = segno.make(url, error="m", micro=False)
    out = io.BytesIO()
    if kind == "png":
        qr.save(out, kind="png", scale=12, border=4)
    else:
        qr.save(out, kind="svg", scale=10, border=4, xmldecl=False)
    return out.getvalue()
