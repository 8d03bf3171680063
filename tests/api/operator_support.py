"""Shared set-up of the operator API tests: staff of every role, request headers, database snapshots."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from sqlalchemy import select

from server.extensions import db
from server.services import staff
from tests.builders import ACTOR, World, make_world

API = "/api/v1"
OPERATOR_ROLES = ("admin", "finance", "card_issuer", "support")
MERCHANT_ROLES = ("owner", "cashier")
ALL_ROLES = OPERATOR_ROLES + MERCHANT_ROLES

_keys = itertools.count(1)


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def with_key(headers: dict, key: str | None = None) -> dict:
    """``headers`` plus a fresh (or the given) Idempotency-Key."""
    return {**headers, "Idempotency-Key": key or f"key-{next(_keys)}"}


def iso(moment) -> str:
    """A datetime as the API writes it."""
    return moment.isoformat()


CARD_FIELDS = (
    "id",
    "card_no",
    "kind",
    "chip_uid",
    "status",
    "member_id",
    "batch_id",
    "key_version",
    "replaced_by_id",
)


def card_json(card, **changes) -> dict:
    """What the API shows of a card."""
    body = {name: getattr(card, name) for name in CARD_FIELDS}
    return {
        **body,
        "status_changed_at": card.status_changed_at and iso(card.status_changed_at),
        "created_at": iso(card.created_at),
        **changes,
    }


@dataclass
class Staffed:
    """The standard world plus a cashier for each shop; ``auth(role)`` for operator and shop-A roles."""

    world: World
    tokens: dict

    @property
    def a(self):
        return self.world.shop_a

    @property
    def b(self):
        return self.world.shop_b

    @property
    def levels(self) -> dict:
        return self.world.levels

    def auth(self, role: str) -> dict:
        return bearer(self.tokens[role])


def _staff_token(username: str, role: str, merchant_id: str | None = None) -> str:
    user = staff.create_staff_user(ACTOR, username, role, merchant_id=merchant_id)
    return staff.create_personal_token(ACTOR, user.id, "t").token


def make_staffed_world(**shop_fields) -> Staffed:
    """``make_world()`` and tokens for: every operator role, owner/cashier of shop A, owner_b/cashier_b of B."""
    world = make_world(**shop_fields)
    tokens = dict(world.staff_tokens)
    tokens["owner"] = world.shop_a.owner_token
    tokens["cashier"] = _staff_token("cashier-a", "cashier", world.shop_a.merchant.id)
    tokens["owner_b"] = world.shop_b.owner_token
    tokens["cashier_b"] = _staff_token("cashier-b", "cashier", world.shop_b.merchant.id)
    return Staffed(world, tokens)


def snapshot(app) -> dict[str, list]:
    """Every row of every table, to show that a refused request changed nothing."""
    with app.app_context():
        with db.engine.connect() as connection:
            state = {
                table.name: sorted(repr(tuple(row)) for row in connection.execute(select(table)))
                for table in db.metadata.sorted_tables
            }
        db.session.remove()
    return state


def assert_error(response, status: int, code: str) -> dict:
    """The response is the project's error shape with this status and code; returns its details."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    body = response.get_json()
    assert set(body) == {"error", "message", "status", "details"}, body
    assert body["error"] == code, body
    assert body["status"] == status
    assert isinstance(body["message"], str) and body["message"]
    return body["details"]
