"""Builders for test data, going through the services so every invariant holds."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from server.extensions import db
from server.services import catalog, members, staff
from server.services.alliance import ensure_alliance
from server.services.demo import DEMO_LEVELS

ACTOR = "test:builder"
_phones = itertools.count(13_000_000_000)


def next_phone() -> str:
    """A fresh valid mobile number."""
    return str(next(_phones) + 100_000_000 * 5)  # 18xxxxxxxxx


@dataclass
class Shop:
    """A merchant with one terminal and its token, and an owner with a personal token."""

    merchant: object
    terminal: object
    token: str
    owner_token: str

    @property
    def auth(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def owner_auth(self) -> dict:
        return {"Authorization": f"Bearer {self.owner_token}"}


@dataclass
class World:
    """A small alliance: the demo levels, two shops, an admin and staff of every operator role."""

    levels: dict
    shop_a: Shop
    shop_b: Shop
    staff_tokens: dict = field(default_factory=dict)

    def staff_auth(self, role: str) -> dict:
        return {"Authorization": f"Bearer {self.staff_tokens[role]}"}


def make_shop(name: str, trade: str = "food", **fields) -> Shop:
    """A merchant with a terminal and an owner."""
    merchant = catalog.create_merchant(ACTOR, name=name, trade=trade, **fields)
    issued = catalog.create_terminal(ACTOR, merchant.id, "收银台")
    owner = staff.create_staff_user(ACTOR, f"owner-{merchant.id}", "owner", merchant_id=merchant.id)
    return Shop(merchant, issued.terminal, issued.token, staff.create_personal_token(ACTOR, owner.id, "t").token)


def make_world(spend_requires_proof: bool = False, **shop_fields) -> World:
    """The standard test alliance (call inside an app context).

    Its till policy lets any identification spend points (the checkout arithmetic tests redeem by typed
    card number); the member-proof tests pass ``spend_requires_proof=True``, the production default.
    """
    ensure_alliance().spend_requires_proof = spend_requires_proof
    db.session.commit()
    levels = {spec["code"]: catalog.create_level(ACTOR, **spec) for spec in DEMO_LEVELS}
    world = World(levels, make_shop("甲店", **shop_fields), make_shop("乙店", trade="retail", **shop_fields))
    for role in ("admin", "finance", "card_issuer", "support"):
        user = staff.create_staff_user(ACTOR, f"{role}-user", role)
        world.staff_tokens[role] = staff.create_personal_token(ACTOR, user.id, "t").token
    return world


def make_member(points: int = 0, phone: str | None = None, name: str = "测试会员", with_card: bool = True):
    """A registered member, optionally with points (an audited adjustment) and a bound card."""
    member = members.register_member(ACTOR, phone or next_phone(), name)
    if points:
        members.adjust_points(ACTOR, member.id, points, "test set-up")
    card = None
    if with_card:
        card = members.create_cards(ACTOR, 1)[0]
        members.bind_card(ACTOR, member.id, card.card_no)
    return member, card
