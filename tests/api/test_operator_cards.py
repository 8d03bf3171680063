"""Operator endpoints for membership cards."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from server.domain.identifiers import is_valid_card_number
from server.extensions import db
from server.models import AuditLog, Card
from server.services import members
from tests.api.operator_support import API, assert_error, card_json, make_staffed_world, snapshot, with_key
from tests.builders import ACTOR, make_member


def test_create_unbound_cards_with_random_ascending_numbers(app, client):
    with app.app_context():
        s = make_staffed_world()
    headers = with_key(s.auth("card_issuer"), "cards-3")
    created = client.post(f"{API}/cards", json={"count": 3}, headers=headers)
    assert created.status_code == 201, created.json
    cards = created.json["cards"]
    assert len(cards) == 3
    serials = [int(card["card_no"][4:15]) for card in cards]
    assert serials == sorted(set(serials)) and serials[1] - serials[0] > 1  # not guessable from each other
    for card in cards:
        assert card["card_no"].startswith("8860") and is_valid_card_number(card["card_no"])
        assert card == {
            "id": card["id"],
            "card_no": card["card_no"],
            "kind": "physical",
            "chip_uid": None,
            "status": "issued",
            "member_id": None,
            "batch_id": None,
            "key_version": 1,
            "replaced_by_id": None,
            "status_changed_at": None,
            "created_at": card["created_at"],
        }
    replay = client.post(f"{API}/cards", json={"count": 3}, headers=headers)
    assert replay.json == created.json and replay.headers["Idempotent-Replayed"] == "true"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Card)) == 3
        log = db.session.scalars(select(AuditLog).where(AuditLog.action == "card.create")).one()
        expected = {"count": 3, "first": cards[0]["card_no"], "last": cards[2]["card_no"], "kind": "physical"}
        assert log.details == expected
    more = client.post(f"{API}/cards", json={"count": 1}, headers=with_key(s.auth("support")))
    assert int(more.json["cards"][0]["card_no"][4:15]) not in serials


def test_list_and_get_cards_with_filters(app, client):
    with app.app_context():
        s = make_staffed_world()
        member, bound = make_member()
        other, other_card = make_member()
        spare = members.create_cards(ACTOR, 2)
        bound, other_card = db.session.get(Card, bound.id), db.session.get(Card, other_card.id)
    auth = s.auth("finance")
    everything = sorted([bound, other_card, *spare], key=lambda card: card.card_no)  # listed by number
    listed = client.get(f"{API}/cards", headers=auth)
    assert listed.status_code == 200
    assert listed.json == [card_json(card) for card in everything]
    assert json.loads(listed.headers["X-Pagination"])["total"] == 4

    def numbers(query):
        response = client.get(f"{API}/cards?{query}", headers=auth)
        assert response.status_code == 200, response.json
        return [card["card_no"] for card in response.json]

    assert numbers("status=issued") == sorted(card.card_no for card in spare)
    assert numbers("status=active") == sorted([bound.card_no, other_card.card_no])
    assert numbers("status=lost") == []
    assert numbers(f"member_id={other.id}") == [other_card.card_no]
    assert numbers(f"card_no={spare[1].card_no}") == [spare[1].card_no]
    assert numbers(f"card_no={spare[1].card_no}&status=active") == []
    assert numbers("kind=physical") == [card.card_no for card in everything]
    ecard = client.get(f"{API}/cards?kind=electronic", headers=auth)
    assert ecard.status_code == 200 and ecard.json == []
    assert numbers("page=2&page_size=3") == [everything[3].card_no]

    one = client.get(f"{API}/cards/{bound.id}", headers=s.auth("card_issuer"))
    assert one.json == {"card": card_json(bound)}
    assert one.json["card"]["member_id"] == member.id
    assert_error(client.get(f"{API}/cards/crd_nope", headers=auth), 404, "not_found")
    assert_error(client.get(f"{API}/cards?status=melted", headers=auth), 422, "invalid_request")


def test_bad_card_requests_change_nothing(app, client):
    with app.app_context():
        s = make_staffed_world()
    before = snapshot(app)
    for body in (
        {},
        {"count": 0},
        {"count": -1},
        {"count": 1001},
        {"count": 10**9},
        {"count": "5"},
        {"count": 2.0},
        {"count": None},
        {"count": True},
        {"count": 1, "prefix": "9999"},
    ):
        response = client.post(f"{API}/cards", json=body, headers=with_key(s.auth("admin")))
        assert set(assert_error(response, 422, "invalid_request")["fields"]) <= {"count", "prefix"}, body
    assert_error(
        client.post(f"{API}/cards", json={"count": 1}, headers=s.auth("admin")), 400, "idempotency_key_required"
    )
    assert snapshot(app) == before
