"""How money and times look on every page (console, member pages): one definition, registered app-wide."""

from __future__ import annotations

from datetime import datetime

from flask import Flask
from flask_babel import format_datetime


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


def init_formatting(app: Flask) -> None:
    """Register the filters every template may use."""
    app.jinja_env.filters.update(yuan=yuan, local_time=local_time)
