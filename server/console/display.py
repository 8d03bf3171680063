"""How the console shows money, rates, times, roles, statuses and objects to a person (template filters).

People read names, not identifiers: :func:`actor_link`, :func:`object_link` and :func:`account_link` are the
one home for turning ``staff:usr_…``, ``terminal:trm_…``, ``mem_…`` or ``mer_…`` into a linked name (members
masked), with the identifier kept in the link's tooltip.
"""

from __future__ import annotations

from flask import Flask, g, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from server.services import names
from server.services.catalog import TRADES

ROLE_LABELS = {
    "admin": _l("Administrator"),
    "finance": _l("Finance"),
    "card_issuer": _l("Card issuer"),
    "support": _l("Support"),
    "agent_manager": _l("Agent manager"),
    "benefits_manager": _l("Benefits manager"),
    "owner": _l("Merchant owner"),
    "cashier": _l("Cashier"),
}
STATUS_LABELS = {
    "active": _l("Active"),
    "draft": _l("Draft"),
    "suspended": _l("Suspended"),
    "closed": _l("Closed"),
    "disabled": _l("Disabled"),
    "created": _l("Created"),
    "encoded": _l("Encoded"),
    "encoding": _l("Encoding"),
    "issued": _l("Issued"),
    "lost": _l("Lost"),
    "frozen": _l("Frozen"),
    "replaced": _l("Replaced"),
    "cancelled": _l("Cancelled"),
    "retired": _l("Retired"),
    "applied": _l("Applied"),
    "terminated": _l("Terminated"),
    "paused": _l("Paused"),  # a webhook subscription
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
    "forfeit": _l("Forfeited"),
    "restore": _l("Restored"),
    "opening": _l("Opening balance"),
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
    """What a card is, from its stored kind: an e-card, a chip card or a printed card without a chip (a chip
    card not yet encoded is still created or encoding; a printed card is issued when it is made)."""
    if card.kind == "electronic":
        return str(CARD_KIND_LABELS["electronic"])
    chip = card.chip_uid or card.status in ("created", "encoding")
    return str(CARD_KIND_LABELS["chip" if chip else "printed"])


# Where each kind of object has its page, and what a viewer needs to open it (None: no page of its own).
OBJECT_PAGES = {
    "member": ("console.members.detail", "member_id", "members:read", True),
    "merchant": ("console.merchants.detail", "merchant_id", "merchants:read", False),
    "card": ("console.cards.detail", "card_id", "cards:read", True),
    "card_batch": ("console.cards.batch", "batch_id", "cards:read", True),
    "level": ("console.levels.edit", "level_id", "levels:write", False),
    "sale": ("console.sales.detail", "sale_id", "sales:read", False),
    "agent": ("console.agents.detail", "agent_id", "agents:read", True),
    "agent_level": ("console.agents.edit_level", "agent_level_id", "agents:read", True),
}
# The alliance's own accounts and people or programs that are not staff, members or tills.
SYSTEM_ACTORS = {"system": _l("System"), "cli": _l("Command line"), "test": _l("System")}


def _named(kind: str, object_id: str) -> names.Named | None:
    """``names.lookup`` once per object and request (a page names the same shop on many rows)."""
    cache = g.setdefault("console_names", {})
    if (kind, object_id) not in cache:
        cache[(kind, object_id)] = names.lookup(kind, object_id)
    return cache[(kind, object_id)]


def _page_url(kind: str, object_id: str | None, named: names.Named | None) -> str | None:
    """The console page of an object, if there is one and the signed-in user may open it."""
    from server.console.access import can

    page = OBJECT_PAGES.get(kind)
    actor = g.get("console_actor")
    if page is None or actor is None or not object_id or not can(page[2]):
        return None
    endpoint, argument, _permission, operators_only = page
    if operators_only and actor.merchant_id is not None:
        return None
    if kind == "merchant" and actor.merchant_id not in (None, object_id):
        return None
    return url_for(endpoint, **{argument: object_id})


def _may(permission: str) -> bool:
    from server.console.access import can

    return can(permission)


def _link(text: str, identifier: str, url: str | None) -> Markup:
    if url:
        return Markup('<a href="{}" title="{}" translate="no">{}</a>').format(url, identifier, text)
    return Markup('<span title="{}" translate="no">{}</span>').format(identifier, text)


def object_link(kind: str | None, object_id: str | None) -> Markup:
    """An object by name, linked to its page, its identifier in the tooltip (the identifier if it has no name)."""
    if not object_id:
        return Markup("–")
    named = _named(kind or "", str(object_id))
    if named is None:
        if kind == "sale":
            return _link(_("Sale %(no)s", no=str(object_id)[-6:]), object_id, _page_url(kind, object_id, None))
        if kind == "settlement_day":
            return Markup("{}").format(object_id)
        return Markup('<code title="{0}">{0}</code>').format(object_id)
    return _link(named.name, object_id, _page_url(named.kind, object_id, named))


def actor_link(actor: str | None) -> Markup:
    """Who did something (``staff:usr_…``, ``terminal:trm_…``, ``member:mem_…``, ``system``) by name, linked."""
    if not actor:
        return Markup("–")
    kind, _sep, object_id = actor.partition(":")
    if kind == "staff":
        named = _named("staff_user", object_id)
        trail = url_for("console.audit.index", actor=actor) if _may("audit:read") else None  # what they did
        if named is None:
            return _link(actor, actor, trail)
        return _link(f"{ROLE_LABELS.get(named.role or '', '')} {named.name}".strip(), actor, trail)
    if kind == "terminal":
        named = _named("terminal", object_id)
        if named:
            return _link(named.name, actor, _page_url("merchant", named.merchant_id, named))
    if kind == "member":
        return object_link("member", object_id)
    return _link(str(SYSTEM_ACTORS.get(kind, _("System"))), actor, None)


ACCOUNT_OWNERS = {
    "member_points": "member",
    "merchant_points_issued": "merchant",
    "merchant_points_accepted": "merchant",
}


def account_link(account_kind: str, owner_id: str | None) -> Markup:
    """A ledger account's owner by name: a member (masked), a merchant, or the alliance itself."""
    kind = ACCOUNT_OWNERS.get(account_kind)
    if kind is None:
        return Markup("{}").format(_("Alliance"))
    return object_link(kind, owner_id)


SETTLEMENT_FIELD_LABELS = {  # the figures of a settlement, as reconciliation names them
    "sales_count": _l("Sales"),
    "member_sales_fen": _l("Member sales (fen)"),
    "points_earned": _l("Points earned"),
    "points_redeemed": _l("Points redeemed"),
    "refunds_count": _l("Refunds"),
    "refunds_fen": _l("Refunded (fen)"),
    "points_reversed": _l("Points reversed"),
    "points_restored": _l("Points restored"),
    "points_granted": _l("Points granted"),
    "points_accepted": _l("Points accepted"),
    "granted_value_fen": _l("Value of points granted (fen)"),
    "accepted_value_fen": _l("Value of points accepted (fen)"),
    "service_fee_fen": _l("Service fee (fen)"),
    "commission_fen": _l("Commission (fen)"),
    "net_fen": _l("Net (fen)"),
}


def difference_text(difference) -> Markup:
    """A reconciliation difference in the user's language, merchants and members by name (linked)."""
    values = dict(getattr(difference, "values", {}))
    template = getattr(difference, "template", None)
    if template is None:
        return Markup("{}").format(difference)
    for name, kind in (("merchant", "merchant"), ("member", "member")):
        if name in values:
            values[name] = object_link(kind, values[name])
    if "field" in values:
        values["field"] = SETTLEMENT_FIELD_LABELS.get(values["field"], values["field"])
    if "kind" in values:
        values["kind"] = LEDGER_LABELS.get(values["kind"], values["kind"])
    return Markup(_(template)) % values


def domain_message(error) -> str:
    """A service's refusal (``DomainError``) in the user's language, as the API translates it
    (``server/api/error_text.py``: "The card is already lost." → 此卡已是“已挂失”状态。)."""
    from server.error_text import translate

    return translate(error.message)


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
        actor=actor_link,
        account_owner=lambda entry: account_link(entry["account_kind"], entry["owner_id"]),
        difference=difference_text,
    )
    app.jinja_env.globals.update(object_link=object_link)
