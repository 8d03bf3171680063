"""Who may call which operator endpoint: roles, merchant scope, terminals and bad tokens."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from server.extensions import db
from server.models import PersonalToken, StaffUser
from server.models.base import utcnow
from server.services import checkout, members, staff
from tests.api.operator_support import (
    ALL_ROLES,
    API,
    Staffed,
    assert_error,
    bearer,
    make_staffed_world,
    snapshot,
    with_key,
)
from tests.builders import ACTOR, make_member, next_phone

_unique = itertools.count(1)

ANYONE = set(ALL_ROLES)
OPERATORS = {"admin", "finance", "card_issuer", "support"}


class Scenario:
    """A world with a member, spare cards and a sale at each shop; requests are built per call (fresh data)."""

    def __init__(self, app):
        self.app = app
        with app.app_context():
            self.s: Staffed = make_staffed_world()
            self.member, member_card = make_member(points=1_000)
            self.sale_a = _sale(self.s.a.terminal, member_card.card_no, 5_000)
            self.sale_b = _sale(self.s.b.terminal, member_card.card_no, 5_000)
            self.account_id = self.member.points_account_id
            self.card_id = member_card.id
            self.spare_cards = itertools.cycle([spare.card_no for spare in members.create_cards(ACTOR, len(ALL_ROLES))])
            self.cashier_id = db.session.scalar(select(StaffUser.id).where(StaffUser.username == "cashier-a"))

    def spare_card_no(self) -> str:
        """A card nobody has bound yet, as long as at most one bind per role succeeds."""
        return next(self.spare_cards)


def _sale(terminal, card_no, amount_fen):
    found = checkout.identify(terminal, code=card_no)
    return checkout.record_sale(terminal, identification_token=found.token, amount_fen=amount_fen).sale


# (name, allowed roles, success status, request builder: scenario -> (method, path, json body or None))
ENDPOINTS = [
    ("list merchants", ANYONE, 200, lambda c: ("get", "/merchants", None)),
    ("create merchant", {"admin"}, 201, lambda c: ("post", "/merchants", {"name": "新店", "trade": "food"})),
    ("get merchant", ANYONE, 200, lambda c: ("get", f"/merchants/{c.s.a.merchant.id}", None)),
    ("patch merchant", {"admin"}, 200, lambda c: ("patch", f"/merchants/{c.s.a.merchant.id}", {"region": "北区"})),
    ("list level discounts", ANYONE, 200, lambda c: ("get", f"/merchants/{c.s.a.merchant.id}/level-discounts", None)),
    (
        "set level discount",
        {"admin", "owner"},
        200,
        lambda c: (
            "put",
            f"/merchants/{c.s.a.merchant.id}/level-discounts/{c.s.levels['gold'].id}",
            {"discount_bp": 8800},
        ),
    ),
    (
        "list terminals",
        {"admin", "finance", "owner"},
        200,
        lambda c: ("get", f"/merchants/{c.s.a.merchant.id}/terminals", None),
    ),
    (
        "create terminal",
        {"admin", "owner"},
        201,
        lambda c: ("post", f"/merchants/{c.s.a.merchant.id}/terminals", {"name": "新机"}),
    ),
    ("get terminal", {"admin", "finance", "owner"}, 200, lambda c: ("get", f"/terminals/{c.s.a.terminal.id}", None)),
    (
        "patch terminal",
        {"admin", "owner"},
        200,
        lambda c: ("patch", f"/terminals/{c.s.a.terminal.id}", {"status": "active"}),
    ),
    (
        "reset terminal token",
        {"admin", "owner"},
        200,
        lambda c: ("post", f"/terminals/{c.s.a.terminal.id}/token", None),
    ),
    ("list levels", ANYONE, 200, lambda c: ("get", "/levels", None)),
    ("get level", ANYONE, 200, lambda c: ("get", f"/levels/{c.s.levels['gold'].id}", None)),
    (
        "create level",
        {"admin"},
        201,
        lambda c: ("post", "/levels", {"code": f"l{next(_unique)}", "name": "新等级", "rank": 10 + next(_unique)}),
    ),
    ("patch level", {"admin"}, 200, lambda c: ("patch", f"/levels/{c.s.levels['gold'].id}", {"name_en": "Au"})),
    ("evaluate levels", {"admin"}, 200, lambda c: ("post", "/levels/evaluations", None)),
    ("list members", OPERATORS, 200, lambda c: ("get", "/members", None)),
    ("register member", {"admin", "support"}, 201, lambda c: ("post", "/members", {"phone": next_phone()})),
    ("get member", OPERATORS, 200, lambda c: ("get", f"/members/{c.member.id}", None)),
    ("reveal phone", {"admin", "support"}, 200, lambda c: ("get", f"/members/{c.member.id}/phone", None)),
    (
        "bind card",
        {"admin", "card_issuer", "support"},
        201,
        lambda c: ("post", f"/members/{c.member.id}/cards", {"card_no": c.spare_card_no()}),
    ),
    (
        "adjust points",
        {"admin", "finance"},
        201,
        lambda c: ("post", f"/members/{c.member.id}/points-adjustments", {"points": 1, "reason": "测试"}),
    ),
    ("member ledger", {"admin", "finance", "support"}, 200, lambda c: ("get", f"/members/{c.member.id}/ledger", None)),
    ("list cards", OPERATORS, 200, lambda c: ("get", "/cards", None)),
    ("create cards", {"admin", "card_issuer", "support"}, 201, lambda c: ("post", "/cards", {"count": 1})),
    ("get card", OPERATORS, 200, lambda c: ("get", f"/cards/{c.card_id}", None)),
    ("list accounts", {"admin", "finance", "support"}, 200, lambda c: ("get", "/ledger/accounts", None)),
    (
        "account entries",
        {"admin", "finance", "support"},
        200,
        lambda c: ("get", f"/ledger/accounts/{c.account_id}/entries", None),
    ),
    ("list transactions", {"admin", "finance", "support"}, 200, lambda c: ("get", "/ledger/transactions", None)),
    ("list staff", {"admin"}, 200, lambda c: ("get", "/staff", None)),
    (
        "create staff",
        {"admin"},
        201,
        lambda c: ("post", "/staff", {"username": f"u{next(_unique)}", "role": "support"}),
    ),
    ("create staff token", {"admin"}, 201, lambda c: ("post", f"/staff/{c.cashier_id}/tokens", {"name": "t"})),
    # The sales endpoints of the terminal API, as staff use them.
    ("list sales", {"admin", "finance", "support", "owner", "cashier"}, 200, lambda c: ("get", "/sales", None)),
    (
        "get sale",
        {"admin", "finance", "support", "owner", "cashier"},
        200,
        lambda c: ("get", f"/sales/{c.sale_a.id}", None),
    ),
    (
        "refund sale",
        {"admin", "finance", "owner"},
        201,
        lambda c: ("post", f"/sales/{c.sale_a.id}/refunds", {"amount_fen": 1}),
    ),
]


def call(client, scenario: Scenario, build, headers: dict):
    method, path, body = build(scenario)
    if method == "post":
        headers = with_key(headers)
    return getattr(client, method)(API + path, json=body, headers=headers)


def _refused_staff_tokens(scenario: Scenario) -> list[dict]:
    """Admin tokens that must not work: a revoked token, a locked user's and a disabled user's."""
    tokens = []
    with scenario.app.app_context():
        for username, change in (
            ("revoked", None),
            ("locked", {"locked_until": utcnow() + timedelta(hours=1)}),
            ("disabled", {"status": "disabled"}),
        ):
            user = staff.create_staff_user(ACTOR, f"admin-{username}", "admin")
            issued = staff.create_personal_token(ACTOR, user.id, "t")
            if change is None:
                db.session.execute(
                    update(PersonalToken).where(PersonalToken.id == issued.record.id).values(revoked_at=utcnow())
                )
            else:
                db.session.execute(update(StaffUser).where(StaffUser.id == user.id).values(**change))
            db.session.commit()
            tokens.append(bearer(issued.token))
    return tokens


@pytest.mark.parametrize("name, allowed, success, build", ENDPOINTS, ids=[e[0] for e in ENDPOINTS])
def test_authorization_matrix(app, client, name, allowed, success, build):
    scenario = Scenario(app)
    s = scenario.s
    refused_tokens = _refused_staff_tokens(scenario)
    before = snapshot(app)
    if not name.endswith(("sales", "sale")):  # operator endpoints refuse terminals
        assert_error(call(client, scenario, build, s.a.auth), 403, "forbidden")
    for headers in (
        {},
        bearer("pt_unknown"),
        bearer("tt_unknown"),
        bearer("whatever"),
        *refused_tokens,
        {"Authorization": "Basic YWRtaW46YWRtaW4="},
        {"Authorization": "Bearer "},
        {"Authorization": f"Token {s.tokens['admin']}"},
    ):
        assert_error(call(client, scenario, build, headers), 401, "unauthorized")
    outcome = {}
    for role in ALL_ROLES:
        if role not in allowed:
            response = call(client, scenario, build, s.auth(role))
            outcome[role] = response.status_code
            if response.status_code == 403:
                assert_error(response, 403, "forbidden")
    assert snapshot(app) == before  # nothing refused changed anything
    for role in sorted(allowed):
        outcome[role] = call(client, scenario, build, s.auth(role)).status_code
    assert outcome == {role: success if role in allowed else 403 for role in ALL_ROLES}


def test_bad_input_from_an_unauthenticated_caller_gets_401_not_validation_details(app, client):
    with app.app_context():
        s = make_staffed_world()
    assert_error(client.post(f"{API}/merchants", json={"trade": 5}, headers=with_key({})), 401, "unauthorized")
    assert_error(client.post(f"{API}/merchants", json={"trade": 5}, headers=with_key(s.a.auth)), 403, "forbidden")


def test_merchant_staff_get_404_for_another_merchants_objects(app, client):
    scenario = Scenario(app)
    s = scenario.s
    b_merchant, b_terminal, gold = s.b.merchant.id, s.b.terminal.id, s.levels["gold"].id
    before = snapshot(app)
    for role in ("owner", "cashier"):
        auth = s.auth(role)
        reads = [f"/merchants/{b_merchant}", f"/merchants/{b_merchant}/level-discounts", f"/sales/{scenario.sale_b.id}"]
        if role == "owner":
            reads += [f"/merchants/{b_merchant}/terminals", f"/terminals/{b_terminal}"]
        for path in reads:
            assert_error(client.get(API + path, headers=auth), 404, "not_found")
        sales = client.get(f"{API}/sales?merchant_id={b_merchant}", headers=auth)
        assert sales.status_code == 200
        assert [sale["id"] for sale in sales.json] == [scenario.sale_a.id]
        merchants = client.get(f"{API}/merchants?trade=retail", headers=auth)
        assert merchants.status_code == 200 and merchants.json == []
    owner = s.auth("owner")
    writes = [
        ("put", f"/merchants/{b_merchant}/level-discounts/{gold}", {"discount_bp": 8800}),
        ("post", f"/merchants/{b_merchant}/terminals", {"name": "偷偷"}),
        ("patch", f"/terminals/{b_terminal}", {"status": "disabled"}),
        ("post", f"/terminals/{b_terminal}/token", None),
        ("post", f"/sales/{scenario.sale_b.id}/refunds", {}),
        ("post", f"/sales/{scenario.sale_b.id}/refunds", {"amount_fen": 100}),
    ]
    for method, path, body in writes:
        headers = with_key(owner) if method == "post" else owner
        assert_error(getattr(client, method)(API + path, json=body, headers=headers), 404, "not_found")
    # A cashier may not refund at all; a terminal of A cannot reach B's sale either.
    assert_error(
        client.post(f"{API}/sales/{scenario.sale_a.id}/refunds", json={}, headers=with_key(s.auth("cashier"))),
        403,
        "forbidden",
    )
    assert_error(client.get(f"{API}/sales/{scenario.sale_b.id}", headers=s.a.auth), 404, "not_found")
    assert_error(
        client.post(f"{API}/sales/{scenario.sale_b.id}/refunds", json={}, headers=with_key(s.a.auth)), 404, "not_found"
    )
    assert snapshot(app) == before
    assert client.get(f"{API}/terminal", headers=s.b.auth).status_code == 200
    # The owner of B sees B's objects, as a check that the 404s above are about scope.
    assert client.get(f"{API}/terminals/{b_terminal}", headers=bearer(s.tokens["owner_b"])).status_code == 200
    assert client.get(f"{API}/sales/{scenario.sale_b.id}", headers=bearer(s.tokens["cashier_b"])).status_code == 200


def test_merchant_staff_never_see_member_data(app, client):
    scenario = Scenario(app)
    for role in ("owner", "cashier"):
        for path in (
            "/members",
            f"/members/{scenario.member.id}",
            f"/members/{scenario.member.id}/phone",
            f"/members/{scenario.member.id}/ledger",
            "/cards",
            "/ledger/accounts",
            "/ledger/transactions",
        ):
            assert_error(client.get(API + path, headers=scenario.s.auth(role)), 403, "forbidden")
