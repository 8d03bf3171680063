"""How money and times look on every page (console, member pages): one definition, registered app-wide."""

from __future__ import annotations

from datetime import datetime

from flask import Flask
from flask_babel import format_datetime, get_locale
from flask_babel import gettext as _


def yuan(amount_fen: int | None) -> str:
    """Integer fen as yuan, never through a float: ``1234500`` → ``¥12,345.00``, ``-50`` → ``-¥0.50``."""
    if amount_fen is None:
        return ""
    sign = "-" if amount_fen < 0 else ""
    whole, fen = divmod(abs(amount_fen), 100)
    return f"{sign}¥{whole:,}.{fen:02d}"


def local_time(value: datetime | None, pattern: str = "yyyy-MM-dd HH:mm") -> str:
    """A UTC time in the alliance's time zone (Flask-Babel's time zone setting)."""
    return "" if value is None else format_datetime(value, pattern)


def discount(rate_bp: int) -> str:
    """What a level pays: ``9500`` → ``9.5折`` in Chinese, ``5% off`` in English (integer arithmetic)."""
    if rate_bp >= 10_000:
        return _("No discount")
    if str(get_locale()) == "en":
        off = 10_000 - rate_bp
        decimals = f"{off % 100:02d}".rstrip("0")
        return f"{off // 100}{'.' + decimals if decimals else ''}% off"
    decimals = f"{rate_bp % 1000:03d}".rstrip("0")
    return f"{rate_bp // 1000}{'.' + decimals if decimals else ''}折"


def init_formatting(app: Flask) -> None:
    """Register the filters every template may use."""
    app.jinja_env.filters.update(yuan=yuan, local_time=local_time, discount=discount)
