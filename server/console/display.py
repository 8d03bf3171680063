"""How the console shows money, rates, times, roles and statuses to a person (template filters)."""

from __future__ import annotations

from flask import Flask
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from server.services.catalog import TRADES

ROLE_LABELS = {
    "admin": _l("Administrator"),
    "finance": _l("Finance"),
    "card_issuer": _l("Card issuer"),
    "support": _l("Support"),
    "owner": _l("Merchant owner"),
    "cashier": _l("Cashier"),
}
STATUS_LABELS = {
    "active": _l("Active"),
    "suspended": _l("Suspended"),
    "closed": _l("Closed"),
    "disabled": _l("Disabled"),
    "created": _l("Created"),
    "encoding": _l("Encoding"),
    "issued": _l("Issued"),
    "lost": _l("Lost"),
    "frozen": _l("Frozen"),
    "replaced": _l("Replaced"),
    "cancelled": _l("Cancelled"),
}
STATUS_COLORS = {"active": "success", "issued": "info", "suspended": "warning", "frozen": "warning", "lost": "danger"}
LEDGER_LABELS = {
    "member_points": _l("Member points"),
    "merchant_points_issued": _l("Merchant: points granted"),
    "merchant_points_accepted": _l("Merchant: points accepted"),
    "alliance_adjustments": _l("Alliance adjustments"),
    "alliance_expiry": _l("Points expiry"),
    "sale": _l("Sale"),
    "refund": _l("Refund"),
    "adjustment": _l("Adjustment"),
    "expiry": _l("Expiry"),
}
CARD_KIND_LABELS = {
    "electronic": _l("E-card"),
    "chip": _l("Chip card"),
    "printed": _l("Printed card"),
}
METHOD_LABELS = {"card": _l("Card"), "code": _l("Code"), "phone": _l("Phone")}


def _decimal(value: int, places: int) -> str:
    """``value`` / 10**places without a float and without trailing zeros: ``(9550, 3)`` → ``9.55``."""
    sign = "-" if value < 0 else ""
    whole, rest = divmod(abs(value), 10**places)
    decimals = f"{rest:0{places}d}".rstrip("0")
    return f"{sign}{whole}{'.' + decimals if decimals else ''}"


def percent(rate_bp: int | None) -> str:
    """``250`` → ``2.5%``."""
    if rate_bp is None:
        return "–"
    return _decimal(rate_bp, 2) + "%"


def trade_label(code: str) -> str:
    """A trade in the user's language."""
    zh, en = TRADES.get(code, (code, code))
    return zh if str(get_locale()).startswith("zh") else en


def level_label(level) -> str:
    """A level's name in the user's language."""
    if level is None:
        return ""
    return level.name if str(get_locale()).startswith("zh") or not level.name_en else level.name_en


def card_kind_label(card) -> str:
    """What a card is, from its stored kind: an e-card, a chip card or a printed card without a chip."""
    if card.kind == "electronic":
        return str(CARD_KIND_LABELS["electronic"])
    return str(CARD_KIND_LABELS["chip" if card.chip_uid else "printed"])


def init_display(app: Flask) -> None:
    """Register the filters and label tables for templates."""
    app.jinja_env.filters.update(
        percent=percent,
        trade=trade_label,
        level_name=level_label,
        role=lambda code: ROLE_LABELS.get(code, code),
        status=lambda code: STATUS_LABELS.get(code, code),
        status_color=lambda code: STATUS_COLORS.get(code, "secondary"),
        method=lambda code: METHOD_LABELS.get(code, code),
        ledger_kind=lambda code: LEDGER_LABELS.get(code, code),
        card_kind=card_kind_label,
    )
