"""Handing out a printed card at the till (issue 15 item 2): ``POST /cards/{card_no}/binding`` binds a new card
to a member the terminal identified and the member proved (SMS code), idempotently, audited as the terminal;
every refusal is a stable code with a Chinese message and changes nothing."""

from __future__ import annotations

from sqlalchemy import select

from server.domain.identifiers import make_card_number
from server.extensions import db
from server.models import AuditLog, Card, Identification, Level, Member
from server.security.credentials import token_hash
from server.services import cards
from tests.builders import ACTOR, make_member
from tests.live_server import assert_error, db_state, next_key, scene, sell
from tests.member.support import last_login_code

PHONE = "13912345670"


def bind(client, auth: dict, card_no: str, token: str, key: str | None = None):
    headers = {**auth, "Idempotency-Key": key or next_key("bind")}
    return client.post(f"/api/v1/cards/{card_no}/binding", json={"identification_token": token}, headers=headers)


def proven_token(app, client, auth: dict, phone: str = PHONE) -> str:
    """Identify the member by phone and prove them with the SMS code, as a cashier does."""
    found = client.post("/api/v1/identify", json={"phone": phone}, headers=auth)
    assert found.status_code == 200, found.json
    token = found.json["identification"]["token"]
    assert client.post(f"/api/v1/identifications/{token}/proof-code", json={}, headers=auth).status_code == 200
    with app.app_context():
        code = last_login_code(phone)
    proved = client.post(f"/api/v1/identifications/{token}/proof", json={"code": code}, headers=auth)
    assert proved.status_code == 200, proved.json
    return token


def printed_cards(app, count: int, level: str | None = None) -> list[str]:
    with app.app_context():
        batch = cards.create_batch(ACTOR, count, kind="printed", level_code=level)
        numbers = [number for number, _ in cards.batch_print_cards(batch.id)]
        db.session.remove()
    return numbers


def test_a_cashier_binds_a_printed_card_to_a_proven_member_once_and_the_member_goes_on_to_buy(app, client):
    s = scene(app, phone=PHONE)  # the till policy lets any identification spend: binding still needs the proof
    (card_no,) = printed_cards(app, 1, level="gold")
    with app.app_context():
        gold_discount = db.session.scalar(select(Level.default_discount_bp).where(Level.code == "gold"))
        db.session.remove()
    found = client.post("/api/v1/identify", json={"phone": PHONE}, headers=s.auth).json
    token = found["identification"]["token"]
    before = db_state(app)
    assert_error(bind(client, s.auth, card_no, token), 403, "binding_proof_required")
    assert db_state(app) == before

    token = proven_token(app, client, s.auth)
    key = next_key("bind")
    bound = bind(client, s.auth, card_no, token, key)
    assert bound.status_code == 201, bound.json
    assert bound.json["card"] == {
        "card_no_masked": f"{card_no[:4]} **** **** {card_no[-4:]}",
        "kind": "physical",
        "status": "active",
    }
    assert bound.json["member"] == {
        "display_name": "测**员",
        "masked_phone": "139****5670",
        "level": {"code": "gold", "name": "金卡会员"},  # a card of a gold batch lifts the member to gold
        "discount_bp": gold_discount,
    }
    assert bound.json["bound_at"]
    with app.app_context():
        card = db.session.scalar(select(Card).where(Card.card_no == card_no))
        assert (card.member_id, card.status) == (s.member.id, "active")
        entry = db.session.scalar(select(AuditLog).where(AuditLog.object_id == card.id, AuditLog.action == "card.bind"))
        assert entry.actor == f"terminal:{s.world.shop_a.terminal.id}"
        assert entry.details["member_id"] == s.member.id
        assert db.session.get(Identification, token_hash(token)).used_at is None  # not used up by the binding
        db.session.remove()

    after = db_state(app)
    replay = bind(client, s.auth, card_no, token, key)
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    assert replay.data == bound.data
    assert db_state(app) == after  # nothing done twice
    (other_no,) = printed_cards(app, 1)
    assert_error(bind(client, s.auth, other_no, token, key), 422, "idempotency_key_reused")

    sale = sell(client, s.auth, identification_token=token, amount_fen=10_000)  # the same member buys next
    assert sale.status_code == 201, sale.json
    assert sale.json["sale"]["discount_fen"] == 10_000 * (10_000 - gold_discount) // 10_000  # at the gold price
    again = client.post("/api/v1/identify", json={"code": card_no}, headers=s.auth)  # the new card is theirs
    assert again.status_code == 200 and again.json["member"]["id"] == s.member.id


def test_every_refusal_has_its_code_and_a_chinese_message_and_changes_nothing(app, client):
    s = scene(app, phone=PHONE)
    fresh, lost, taken = printed_cards(app, 3)
    with app.app_context():
        cards.report_lost(ACTOR, lost)
        chip = cards.create_batch(ACTOR, 1, kind="chip")  # created, not encoded: not issued
        (unencoded,) = [number for number, _ in cards.batch_print_cards(chip.id)]
        other, _ = make_member(with_card=False)
        from server.services import members

        members.bind_card(ACTOR, other.id, taken)
        db.session.remove()
    token = proven_token(app, client, s.auth)
    before = db_state(app)
    refusals = [
        (taken, 409, "card_already_bound", "此卡已绑定会员。"),
        (lost, 409, "card_blocked", None),
        (unencoded, 409, "card_not_issued", "此卡芯片尚未写卡，发卡前请先写卡。"),
        (s.card.card_no, 409, "card_already_bound", None),  # the member's own card
        (make_card_number("8860", 999_999), 404, "card_unknown", None),  # not one of this alliance's cards
        (fresh[:-1] + str((int(fresh[-1]) + 1) % 10), 422, "invalid_request", None),  # a typo: wrong check digit
    ]
    for card_no, status, code, message in refusals:
        body = assert_error(bind(client, s.auth, card_no, token), status, code)
        if message is not None:
            assert body["message"] == message
        assert any("\u4e00" <= char <= "\u9fff" for char in body["message"]), body
    english = bind(client, {**s.auth, "Accept-Language": "en"}, taken, token)
    assert english.json["message"] == "This card is already bound to a member."
    assert db_state(app) == before

    # whose identification: another terminal's is not found, a used one is expired, a staff token is refused
    assert_error(bind(client, s.world.shop_b.auth, fresh, token), 404, "not_found")
    staff = {"Authorization": f"Bearer {s.world.staff_tokens['admin']}"}
    assert_error(bind(client, staff, fresh, token), 403, "forbidden")
    assert_error(
        client.post(f"/api/v1/cards/{fresh}/binding", json={"identification_token": token}, headers=s.auth),
        400,
        "idempotency_key_required",
    )
    assert_error(bind(client, {}, fresh, token), 401, "unauthorized")
    assert sell(client, s.auth, identification_token=token, amount_fen=1_000).status_code == 201
    assert_error(bind(client, s.auth, fresh, token), 409, "identification_expired")
    assert db_state(app)["cards"] == before["cards"]


def test_a_frozen_member_cannot_be_given_a_card(app, client):
    s = scene(app, phone=PHONE)
    (card_no,) = printed_cards(app, 1)
    token = proven_token(app, client, s.auth)
    with app.app_context():
        db.session.get(Member, s.member.id).status = "frozen"
        db.session.commit()
    refused = bind(client, s.auth, card_no, token)  # member_frozen (403) where the alliance says so
    assert (refused.status_code, refused.json["error"]) in {(404, "member_not_found"), (403, "member_frozen")}
    with app.app_context():
        assert db.session.scalar(select(Card.member_id).where(Card.card_no == card_no)) is None


def test_a_card_handed_out_at_the_till_is_refused_in_words_on_the_member_pages(app, client):
    import re

    from server.services.cards import card_check_code
    from tests.member.support import register_phone

    s = scene(app, phone=PHONE)
    (card_no,) = printed_cards(app, 1)
    assert bind(client, s.auth, card_no, proven_token(app, client, s.auth)).status_code == 201
    with app.app_context():
        login, check = register_phone("13900002424"), card_check_code(card_no)
        db.session.remove()
    client.set_cookie("member_session", login.session_token, path="/m")
    csrf = re.search(r'name="bind-csrf_token" type="hidden" value="([^"]+)"', client.get("/m/cards").data.decode())
    data = {"bind-card_no": card_no, "bind-check_code": check, "bind-csrf_token": csrf.group(1)}
    page = client.post("/m/cards", data=data, follow_redirects=True).data.decode()
    assert "此卡已绑定会员。" in page


def test_a_till_hands_out_at_most_30_cards_a_minute(app, client):
    s = scene(app, phone=PHONE)
    token = proven_token(app, client, s.auth)
    unknown = make_card_number("8860", 999_999)
    for _ in range(30):
        assert_error(bind(client, s.auth, unknown, token), 404, "card_unknown")
    refused = bind(client, s.auth, unknown, token)
    assert_error(refused, 429, "rate_limited")
    assert int(refused.headers["Retry-After"]) > 0
    assert bind(client, s.world.shop_b.auth, unknown, token).status_code == 404  # another till: its own count
