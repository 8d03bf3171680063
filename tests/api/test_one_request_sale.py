"""POST /api/v1/sales carrying the credential itself: identified, priced and recorded in one transaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from alliance_shared.devices.member_card import card_read_body
from server.extensions import db
from server.models import Card, CardAlert, IdempotencyRecord, Identification, Sale
from server.services import cards
from tests.api.test_terminal_api import SALE_SHAPE
from tests.builders import make_member
from tests.live_server import assert_error, assert_shape, db_state, identify, scene, sell

MEMBER_SHAPE = {"id": str, "display_name": str, "masked_phone": str, "level": {"code": str, "name": str}}
UID = bytes.fromhex("04A1B2C3D4E5F6")


def _count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def test_a_sale_with_the_card_number_is_one_request_and_prices_as_identify_then_sale(app, client):
    one = scene(app, points=500)
    with app.app_context():
        _, other_card = make_member(points=500, name="另一会员")
        other_card_no = other_card.card_no
        db.session.commit()
    token = identify(client, one.auth, code=other_card_no)
    by_token = sell(client, one.auth, identification_token=token, amount_fen=12_345)
    one_request = sell(client, one.auth, code=one.card.card_no, amount_fen=12_345)
    assert one_request.status_code == 201, one_request.json
    assert_shape(one_request.json, {"sale": SALE_SHAPE, "member": MEMBER_SHAPE, "card_update": None, "gift": None})
    assert one_request.json["member"]["id"] == one.member.id
    assert by_token.json["member"]["display_name"] == "另一会员"
    figures = ("amount_fen", "discount_fen", "payable_fen", "points_earned", "points_balance", "level")
    assert {k: one_request.json["sale"][k] for k in figures} == {k: by_token.json["sale"][k] for k in figures}
    with app.app_context():
        sale = db.session.get(Sale, one_request.json["sale"]["id"])
        assert (sale.member_id, sale.card_id, sale.method) == (one.member.id, one.card.id, "code")
        # no identification is opened for a one-request sale (the one of the identify-then-sale is used up)
        assert db.session.scalar(select(func.count()).select_from(Identification)) == 1


def test_a_one_request_sale_replays_its_answer_and_is_refused_whole(app, client):
    s = scene(app, points=0)
    first = sell(client, s.auth, key="tap-1", code=s.card.card_no, amount_fen=1_000)
    again = sell(client, s.auth, key="tap-1", code=s.card.card_no, amount_fen=1_000)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json == first.json
    before = db_state(app)
    unknown = sell(client, s.auth, code="6200000000000003", amount_fen=1_000)
    assert unknown.status_code in (404, 422), unknown.json
    assert db_state(app) == before


def test_exactly_one_of_token_card_or_code_online(app, client):
    s = scene(app, points=0)
    token = identify(client, s.auth, code=s.card.card_no)
    before = db_state(app)
    assert_error(sell(client, s.auth, amount_fen=100), 422, "invalid_request")
    assert_error(
        sell(client, s.auth, identification_token=token, code=s.card.card_no, amount_fen=100), 422, "invalid_request"
    )
    assert db_state(app) == before


def test_a_printed_card_number_spends_points_only_as_the_till_policy_allows(app, client):
    strict = scene(app, points=1_000, spend_requires_proof=True)
    refused = sell(client, strict.auth, code=strict.card.card_no, amount_fen=10_000, redeem_points=100)
    assert_error(refused, 403, "member_proof_required")
    earning = sell(client, strict.auth, code=strict.card.card_no, amount_fen=10_000)
    assert earning.status_code == 201, earning.json


def _chip_card(app, card_id: str) -> dict:
    """The card as a freshly encoded chip reads: its signed record and counter blocks."""
    with app.app_context():
        card = db.session.get(Card, card_id)
        card.chip_uid = UID.hex().upper()
        blocks, _ = cards._card_image(card, UID)
        db.session.commit()
        return card_read_body(UID, blocks)


def _written(read: dict, card_update: dict) -> dict:
    return {"uid": read["uid"], "blocks": {**read["blocks"], **card_update["blocks"]}}


def test_a_tap_sent_with_the_sale_checks_the_anti_clone_counter_and_answers_the_write_back(app, client):
    s = scene(app, points=0)
    read0 = _chip_card(app, s.card.id)
    first = sell(client, s.auth, key="tap-0", card=read0, amount_fen=2_000)
    assert first.status_code == 201, first.json
    update = first.json["card_update"]
    assert set(update) == {"blocks", "keys"} and update["blocks"]
    with app.app_context():  # the sector's write key is stored sealed, as a new token is
        stored = db.session.scalar(select(IdempotencyRecord).where(IdempotencyRecord.key == "tap-0"))
        assert isinstance(stored.response_body["card_update"], str)
        assert all(key["b"] not in str(stored.response_body) for key in update["keys"].values())
    replayed = sell(client, s.auth, key="tap-0", card=read0, amount_fen=2_000)
    assert replayed.json == first.json
    with app.app_context():
        card = db.session.get(Card, s.card.id)
        assert (card.counter, card.counter_unconfirmed) == (1, True)
        assert db.session.get(Sale, first.json["sale"]["id"]).method == "card"
    read1 = _written(read0, update)
    second = sell(client, s.auth, card=read1, amount_fen=2_000)
    assert second.status_code == 201, second.json
    # the first read again, two counters behind: a clone; the card is frozen and no sale recorded
    sales_before = _count(app, Sale)
    stale = sell(client, s.auth, key="clone", card=read0, amount_fen=2_000)
    assert_error(stale, 409, "card_stale")
    assert _count(app, Sale) == sales_before
    with app.app_context():
        assert db.session.get(Card, s.card.id).status == "frozen"
        assert db.session.scalar(select(func.count()).select_from(CardAlert)) == 1
        # the refusal's changes committed; the Idempotency-Key stays unused
        assert db.session.scalar(select(IdempotencyRecord).where(IdempotencyRecord.key == "clone")) is None


def test_a_resent_tap_read_before_the_card_moved_on_is_superseded_not_a_clone(app, client):
    """A one-request sale whose answer was lost is sent again with its chip read; meanwhile the card was tapped
    elsewhere. The read is behind the counter, but taken before it moved on: refused without freezing."""
    s = scene(app, points=0)
    read0 = _chip_card(app, s.card.id)
    lost_at = datetime.now(UTC) - timedelta(minutes=5)  # the till read the chip, the sale never arrived
    # the card at another till since: two sales, the second with the counter the first wrote back
    first = sell(client, s.auth, card=read0, amount_fen=1_000)
    second = sell(client, s.auth, card=_written(read0, first.json["card_update"]), amount_fen=1_000)
    assert second.status_code == 201, second.json
    before = db_state(app)
    alerts_before = _count(app, CardAlert)
    resent = sell(client, s.auth, key="lost-1", card=read0, amount_fen=3_000, occurred_at=lost_at.isoformat())
    assert_error(resent, 409, "card_read_superseded")
    assert db_state(app) == before and _count(app, CardAlert) == alerts_before
    with app.app_context():
        assert db.session.get(Card, s.card.id).status == "active"
        assert db.session.scalar(select(IdempotencyRecord).where(IdempotencyRecord.key == "lost-1")) is None
    # the same read tapped now (a clone, whatever key it comes with), or sent without the till's time: frozen
    clone = sell(client, s.auth, key="lost-1", card=read0, amount_fen=3_000, occurred_at=datetime.now(UTC).isoformat())
    assert_error(clone, 409, "card_stale")
    with app.app_context():
        assert db.session.get(Card, s.card.id).status == "frozen"
    assert _count(app, CardAlert) == alerts_before + 1


def test_a_stale_read_without_the_tills_time_is_a_clone(app, client):
    s = scene(app, points=0)
    read0 = _chip_card(app, s.card.id)
    first = sell(client, s.auth, card=read0, amount_fen=1_000)
    sell(client, s.auth, card=_written(read0, first.json["card_update"]), amount_fen=1_000)
    assert_error(sell(client, s.auth, card=read0, amount_fen=1_000), 409, "card_stale")
    with app.app_context():
        assert db.session.get(Card, s.card.id).status == "frozen"
