"""Card batch endpoints at the HTTP level: creation, progress, the status filter, chip planning."""

from tests.api.operator_support import API, assert_error, make_staffed_world, with_key


def test_batch_progress_and_cards_filtered_by_status(app, client):
    with app.app_context():
        auth = make_staffed_world().auth("card_issuer")
    created = client.post(f"{API}/card-batches", json={"count": 3, "level": "gold"}, headers=with_key(auth))
    assert created.status_code == 201, created.json
    batch = created.json["batch"]
    assert batch["progress"] == {"created": 3} and batch["state"] == "created"
    plan = client.put(f"{API}/card-batches/{batch['id']}/chips/04a1b2c3", headers=auth)
    assert plan.status_code == 200 and plan.json["card_no"] == batch["first_card_no"]
    assert sorted(plan.json["blocks"]) == ["10", "4", "5", "6", "8", "9"] and len(plan.json["keys"]) == 16

    encoding = client.get(f"{API}/card-batches/{batch['id']}/cards?status=encoding", headers=auth)
    assert [(card["card_no"], card["chip_uid"]) for card in encoding.json] == [(batch["first_card_no"], "04A1B2C3")]
    assert len(client.get(f"{API}/card-batches/{batch['id']}/cards?status=created", headers=auth).json) == 2
    assert_error(
        client.get(f"{API}/card-batches/{batch['id']}/cards?status=nope", headers=auth), 422, "invalid_request"
    )

    confirmed = client.put(f"{API}/card-batches/{batch['id']}/chips/04A1B2C3/confirmation", headers=auth)
    assert confirmed.json["card"]["status"] == "issued"
    again = client.put(f"{API}/card-batches/{batch['id']}/chips/04A1B2C3", headers=auth)
    assert_error(again, 409, "conflict")
    shown = client.get(f"{API}/card-batches/{batch['id']}", headers=auth).json["batch"]
    assert shown["progress"] == {"created": 2, "issued": 1}


def test_cashiers_and_terminals_cannot_touch_batches(app, client):
    with app.app_context():
        world = make_staffed_world()
    assert_error(
        client.post(f"{API}/card-batches", json={"count": 1}, headers=with_key(world.auth("finance"))), 403, "forbidden"
    )
    assert_error(client.get(f"{API}/card-batches", headers=world.world.shop_a.auth), 403, "forbidden")
    assert_error(client.get(f"{API}/chips/04A1B2C3/keys", headers=world.auth("support")), 403, "forbidden")


def test_a_printed_batch_is_issued_at_once_refuses_encoding_and_its_cards_replace_a_lost_one(app, client):
    from server.services import members
    from tests.builders import ACTOR

    with app.app_context():
        world = make_staffed_world()
        auth = world.auth("card_issuer")
        member = members.register_member(ACTOR, "13900007777")
        old = members.create_cards(ACTOR, 1)[0]
        members.bind_card(ACTOR, member.id, old.card_no)
        old_no = old.card_no
    created = client.post(f"{API}/card-batches", json={"count": 2, "kind": "printed"}, headers=with_key(auth))
    assert created.status_code == 201, created.json
    batch = created.json["batch"]
    assert (batch["kind"], batch["card_type"], batch["progress"]) == ("printed", "printed", {"issued": 2})
    refused = client.put(f"{API}/card-batches/{batch['id']}/chips/04A1B2C3", headers=auth)
    assert_error(refused, 409, "conflict")
    assert refused.json["message"] == "此批次为无芯片的印刷卡，无需写卡。"
    assert client.post(f"{API}/cards/by-number/{old_no}/lost", json={}, headers=with_key(auth)).status_code == 200
    new_no = batch["first_card_no"]
    replaced = client.post(
        f"{API}/cards/by-number/{old_no}/replace", json={"new_card_no": new_no}, headers=with_key(auth)
    )
    assert replaced.status_code == 200, replaced.json
    assert (replaced.json["card"]["card_no"], replaced.json["card"]["status"]) == (new_no, "active")
    bad_kind = client.post(f"{API}/card-batches", json={"count": 2, "kind": "paper"}, headers=with_key(auth))
    assert_error(bad_kind, 422, "invalid_request")
