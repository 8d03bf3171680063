"""Operator endpoints for reading the points ledger."""

from __future__ import annotations

import json

from sqlalchemy import select

from server.domain.ledger import ALLIANCE_ADJUSTMENTS, MEMBER_POINTS, MERCHANT_ACCEPTED, MERCHANT_ISSUED
from server.extensions import db
from server.models import ALLIANCE_OWNER, LedgerAccount
from server.services import checkout
from tests.api.operator_support import API, assert_error, iso, make_staffed_world
from tests.builders import ACTOR, make_member


def account_json(account) -> dict:
    return {
        "id": account.id,
        "kind": account.kind,
        "owner_id": account.owner_id,
        "balance": account.balance,
        "allow_negative": account.allow_negative,
        "created_at": iso(account.created_at),
    }


def _world_with_a_sale_and_refund(app):
    with app.app_context():
        s = make_staffed_world()
        member, card = make_member(points=300)
        found = checkout.identify(s.a.terminal, code=card.card_no)
        sale = checkout.record_sale(
            s.a.terminal, identification_token=found.token, amount_fen=20_000, redeem_points=100
        ).sale
        refund = checkout.refund_sale(ACTOR, sale.id, None, 9_950).refund
    return s, member, sale, refund


def test_accounts_with_filters(app, client):
    s, member, _, _ = _world_with_a_sale_and_refund(app)
    with app.app_context():
        accounts = db.session.scalars(select(LedgerAccount).order_by(LedgerAccount.id)).all()
    auth = s.auth("finance")
    listed = client.get(f"{API}/ledger/accounts?page_size=100", headers=auth)
    assert listed.status_code == 200
    assert listed.json == [account_json(account) for account in accounts]
    # 2 alliance accounts, 2 per merchant, 1 per member
    assert json.loads(listed.headers["X-Pagination"])["total"] == 7

    def rows(query):
        response = client.get(f"{API}/ledger/accounts?{query}", headers=auth)
        assert response.status_code == 200, response.json
        return [(a["kind"], a["owner_id"], a["balance"]) for a in response.json]

    # sale: 20000 fen, 100 points redeemed, 1% of 19900 earned = 199; half refunded: 99 reversed, 50 restored
    assert rows(f"kind={MEMBER_POINTS}") == [(MEMBER_POINTS, member.id, 300 - 100 + 199 - 99 + 50)]
    assert rows(f"owner_id={s.a.merchant.id}") == [
        (MERCHANT_ISSUED, s.a.merchant.id, -199 + 99),
        (MERCHANT_ACCEPTED, s.a.merchant.id, 100 - 50),
    ]
    assert rows(f"kind={MERCHANT_ISSUED}&owner_id={s.b.merchant.id}") == [(MERCHANT_ISSUED, s.b.merchant.id, 0)]
    assert rows(f"kind={ALLIANCE_ADJUSTMENTS}") == [(ALLIANCE_ADJUSTMENTS, ALLIANCE_OWNER, -300)]
    assert rows("owner_id=nobody") == []
    assert_error(client.get(f"{API}/ledger/accounts?kind=cash", headers=auth), 422, "invalid_request")


def test_entries_of_an_account_newest_first(app, client):
    s, member, sale, refund = _world_with_a_sale_and_refund(app)
    url = f"{API}/ledger/accounts/{member.points_account_id}/entries"
    entries = client.get(url, headers=s.auth("support"))
    assert entries.status_code == 200
    assert [(e["kind"], e["amount"], e["sale_id"], e["refund_id"]) for e in entries.json] == [
        ("refund", 50, sale.id, refund.id),
        ("refund", -99, sale.id, refund.id),
        ("sale", 199, sale.id, None),
        ("sale", -100, sale.id, None),
        ("adjustment", 300, None, None),
    ]
    assert entries.json[0]["actor"] == ACTOR and entries.json[2]["actor"] == f"terminal:{s.a.terminal.id}"
    page = client.get(f"{url}?page=2&page_size=4", headers=s.auth("admin"))
    assert [e["amount"] for e in page.json] == [300]
    assert json.loads(page.headers["X-Pagination"]) == {
        "total": 5,
        "total_pages": 2,
        "first_page": 1,
        "last_page": 2,
        "page": 2,
        "previous_page": 1,
    }
    with app.app_context():
        issued = s.a.merchant.points_issued_account_id
    merchant_entries = client.get(f"{API}/ledger/accounts/{issued}/entries", headers=s.auth("finance")).json
    assert [(e["kind"], e["amount"]) for e in merchant_entries] == [("refund", 99), ("sale", -199)]
    assert_error(client.get(f"{API}/ledger/accounts/999999/entries", headers=s.auth("admin")), 404, "not_found")
    assert_error(client.get(f"{API}/ledger/accounts/abc/entries", headers=s.auth("admin")), 404, "not_found")


def test_transactions_with_their_entries(app, client):
    s, member, sale, refund = _world_with_a_sale_and_refund(app)
    with app.app_context():
        member_account = member.points_account_id
        issued, accepted = s.a.merchant.points_issued_account_id, s.a.merchant.points_accepted_account_id
    auth = s.auth("admin")
    listed = client.get(f"{API}/ledger/transactions", headers=auth)
    assert listed.status_code == 200
    assert [t["kind"] for t in listed.json] == ["refund", "sale", "adjustment"]
    refund_txn, sale_txn, _ = listed.json
    assert {k: v for k, v in sale_txn.items() if k not in ("id", "created_at", "entries")} == {
        "kind": "sale",
        "sale_id": sale.id,
        "refund_id": None,
        "actor": f"terminal:{s.a.terminal.id}",
        "memo": "",
    }
    assert [(e["account_id"], e["account_kind"], e["owner_id"], e["amount"]) for e in sale_txn["entries"]] == [
        (member_account, MEMBER_POINTS, member.id, -100),
        (accepted, MERCHANT_ACCEPTED, s.a.merchant.id, 100),
        (member_account, MEMBER_POINTS, member.id, 199),
        (issued, MERCHANT_ISSUED, s.a.merchant.id, -199),
    ]
    for txn in listed.json:
        assert sum(e["amount"] for e in txn["entries"]) == 0
    assert refund_txn["refund_id"] == refund.id and refund_txn["actor"] == ACTOR

    def kinds(query):
        response = client.get(f"{API}/ledger/transactions?{query}", headers=auth)
        assert response.status_code == 200, response.json
        return [t["kind"] for t in response.json]

    assert kinds(f"sale_id={sale.id}") == ["refund", "sale"]
    assert kinds("kind=adjustment") == ["adjustment"]
    assert kinds(f"kind=sale&sale_id={sale.id}") == ["sale"]
    assert kinds("sale_id=sal_nope") == []
    page = client.get(f"{API}/ledger/transactions?page=2&page_size=2", headers=auth)
    assert [t["kind"] for t in page.json] == ["adjustment"] and len(page.json[0]["entries"]) == 2
