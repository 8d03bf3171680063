"""What people call the objects that identifiers name: a member's masked name, a merchant's name, a till's.

Pages show these names instead of ``mem_…``/``staff:usr_…`` identifiers (read-only look-ups).
"""

from __future__ import annotations

from dataclasses import dataclass

from server.extensions import db
from server.models import Agent, AgentLevel, Card, CardBatch, Level, Member, Merchant, Sale, StaffUser, Terminal


@dataclass(frozen=True)
class Named:
    """An object as a person reads it: ``kind`` (member, merchant, terminal, staff_user, ...) and ``name``."""

    kind: str
    id: str
    name: str
    merchant_id: str | None = None  # a terminal's or a merchant staff user's shop
    role: str | None = None  # a staff user's role


def mask_name(name: str) -> str:
    """``张三`` → ``张*``, ``欧阳娜娜`` → ``欧***``: enough to recognise, not enough to identify."""
    name = name.strip()
    return f"{name[:1]}{'*' * max(len(name) - 1, 1)}" if name else "*"


def member_label(member: Member) -> str:
    """A member as the console shows them: masked name and masked phone, e.g. ``张* 138****8001``."""
    return f"{mask_name(member.display_name)} {member.phone_masked}".strip()


def _member(object_id: str) -> Named | None:
    member = db.session.get(Member, object_id)
    return Named("member", object_id, member_label(member)) if member else None


def _merchant(object_id: str) -> Named | None:
    merchant = db.session.get(Merchant, object_id)
    return Named("merchant", object_id, merchant.name, merchant.id) if merchant else None


def _terminal(object_id: str) -> Named | None:
    terminal = db.session.get(Terminal, object_id)
    if terminal is None:
        return None
    merchant = db.session.get(Merchant, terminal.merchant_id)
    name = f"{merchant.name} · {terminal.name}" if merchant else terminal.name
    return Named("terminal", object_id, name, terminal.merchant_id)


def _staff(object_id: str) -> Named | None:
    user = db.session.get(StaffUser, object_id)
    return (
        Named("staff_user", object_id, user.display_name or user.username, user.merchant_id, user.role)
        if user
        else None
    )


def _card(object_id: str) -> Named | None:
    card = db.session.get(Card, object_id)
    return Named("card", object_id, card.card_no) if card else None


def _batch(object_id: str) -> Named | None:
    batch = db.session.get(CardBatch, object_id)
    return Named("card_batch", object_id, batch.name or batch.first_card_no) if batch else None


def _level(object_id: str) -> Named | None:
    level = db.session.get(Level, object_id)
    return Named("level", object_id, level.name) if level else None


def _sale(object_id: str) -> Named | None:
    sale = db.session.get(Sale, object_id)
    return Named("sale", object_id, sale.receipt_no, sale.merchant_id) if sale else None


def _agent(object_id: str) -> Named | None:
    agent = db.session.get(Agent, object_id)
    return Named("agent", object_id, agent.name) if agent else None


def _agent_level(object_id: str) -> Named | None:
    level = db.session.get(AgentLevel, object_id)
    return Named("agent_level", object_id, level.name) if level else None


LOOKUPS = {
    "agent": _agent,
    "agent_level": _agent_level,
    "sale": _sale,
    "member": _member,
    "merchant": _merchant,
    "terminal": _terminal,
    "staff_user": _staff,
    "staff": _staff,
    "card": _card,
    "card_batch": _batch,
    "level": _level,
}


def lookup(kind: str, object_id: str | None) -> Named | None:
    """The object of ``kind`` with ``object_id`` by name, or None when the kind has no name or it is gone."""
    found = LOOKUPS.get(kind)
    return found(object_id) if found and object_id else None
