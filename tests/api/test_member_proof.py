"""Member proof before points are spent (issue 11): the till policy, the SMS proof code, masked phone
lookups with their rate limits, and the member's notice when points are spent."""

from __future__ import annotations

from sqlalchemy import select

from server.domain.member_codes import member_code, time_step
from server.extensions import db
from server.models import Identification, SmsMessage
from server.security.credentials import token_hash
from server.services import member_codes, member_portal
from tests.live_server import assert_error, db_state, identify, scene, sell
from tests.member.support import last_login_code

PHONE = "13912345678"


def proof_scene(app, **fields):
    return scene(app, points=1_000, phone=PHONE, spend_requires_proof=True, **fields)


def texts(app, template: str) -> list[str]:
    with app.app_context():
        return list(
            db.session.scalars(select(SmsMessage.text).where(SmsMessage.template == template).order_by(SmsMessage.id))
        )


def sent_code(app) -> str:
    """The proof code as the member's phone received it (the outbox keeps it masked)."""
    assert "验证码是******" in texts(app, "till_proof_code")[-1]
    with app.app_context():
        return last_login_code(PHONE)


def test_redeeming_by_phone_needs_the_sms_code_and_works_with_it(app, client):
    s = proof_scene(app)
    found = client.post("/api/v1/identify", json={"phone": PHONE}, headers=s.auth).json
    assert found["member"]["display_name"] == "测**员" and found["member"]["masked_phone"] == "139****5678"
    assert found["identification"]["proof"] is None and found["identification"]["spend_needs_proof"] is True
    token = found["identification"]["token"]

    quote = client.post(
        "/api/v1/sales/quote",
        json={"identification_token": token, "amount_fen": 5_000, "redeem_points": 100},
        headers=s.auth,
    )
    assert_error(quote, 403, "member_proof_required")
    before = db_state(app)
    assert_error(
        sell(client, s.auth, identification_token=token, amount_fen=5_000, redeem_points=100),
        403,
        "member_proof_required",
    )
    assert db_state(app) == before  # nothing spent, the identification is still open
    with app.app_context():
        assert db.session.get(Identification, token_hash(token)).used_at is None

    asked = client.post(f"/api/v1/identifications/{token}/proof-code", json={}, headers=s.auth)
    assert asked.status_code == 200, asked.json
    assert asked.json == {"sent": True, "masked_phone": "139****5678", "resend_after": 60}
    code = sent_code(app)
    assert "甲店" in texts(app, "till_proof_code")[-1]
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    refused = client.post(f"/api/v1/identifications/{token}/proof", json={"code": wrong}, headers=s.auth)
    assert_error(refused, 422, "login_code_invalid", {"attempts_left": 4})
    proved = client.post(f"/api/v1/identifications/{token}/proof", json={"code": code}, headers=s.auth)
    assert proved.status_code == 200 and proved.json == {"identification": {"proof": "sms", "spend_needs_proof": False}}

    sale = sell(client, s.auth, identification_token=token, amount_fen=5_000, redeem_points=100)
    assert sale.status_code == 201, sale.json
    assert sale.json["sale"]["redeem_points"] == 100 and sale.json["sale"]["points_balance"] == 900 + 49
    notice = texts(app, "points_spent")
    assert len(notice) == 1 and "甲店" in notice[0] and "100积分" in notice[0] and "抵扣1.00元" in notice[0]
    with app.app_context():  # and the member finds it again in their history on the member pages
        assert [n.text for n in member_portal.history(s.member.id)["notices"]] == notice


def test_earning_and_the_discount_need_no_proof_and_a_typed_card_number_is_no_proof(app, client):
    s = proof_scene(app)
    token = identify(client, s.auth, code=s.card.card_no)
    assert_error(
        sell(client, s.auth, identification_token=token, amount_fen=2_000, redeem_points=1),
        403,
        "member_proof_required",
    )
    sale = sell(client, s.auth, identification_token=token, amount_fen=2_000)
    assert sale.status_code == 201 and sale.json["sale"]["points_earned"] == 20
    assert texts(app, "points_spent") == []  # nothing spent, nothing to tell


def test_a_dynamic_member_code_is_proof(app, client):
    s = proof_scene(app)
    with app.app_context():
        device, secret, _ = member_codes.provision_device(s.member.id, "phone")
        db.session.commit()
        code = member_code("88", device.code_index, secret, time_step(member_codes.now()))
    found = client.post("/api/v1/identify", json={"code": code}, headers=s.auth).json
    assert found["identification"]["proof"] == "code" and found["member"]["display_name"] == "测试会员"
    sale = sell(
        client, s.auth, identification_token=found["identification"]["token"], amount_fen=5_000, redeem_points=50
    )
    assert sale.status_code == 201, sale.json


def test_a_proof_code_is_burnt_after_too_many_wrong_tries_and_belongs_to_its_identification(app, client):
    s = proof_scene(app)
    token = identify(client, s.auth, phone=PHONE)
    other = identify(client, s.auth, phone=PHONE)
    assert client.post(f"/api/v1/identifications/{token}/proof-code", json={}, headers=s.auth).status_code == 200
    code = sent_code(app)
    refused = client.post(f"/api/v1/identifications/{other}/proof", json={"code": code}, headers=s.auth)
    assert_error(refused, 422, "login_code_invalid")  # the code proves only the identification it was sent for
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for left in (4, 3, 2, 1, 0):
        answer = client.post(f"/api/v1/identifications/{token}/proof", json={"code": wrong}, headers=s.auth)
        assert_error(answer, 422, "login_code_invalid", {"attempts_left": left})
    burnt = client.post(f"/api/v1/identifications/{token}/proof", json={"code": code}, headers=s.auth)
    assert_error(burnt, 422, "login_code_invalid")
    # another terminal cannot ask for or confirm codes of this terminal's identification
    elsewhere = client.post(f"/api/v1/identifications/{token}/proof-code", json={}, headers=s.world.shop_b.auth)
    assert_error(elsewhere, 404, "not_found")
    # and a second code within the minute is refused: one SMS per member per minute
    again = client.post(f"/api/v1/identifications/{token}/proof-code", json={}, headers=s.auth)
    assert_error(again, 429, "rate_limited")


def test_the_till_policy_is_an_alliance_setting(app, client):
    s = proof_scene(app)
    admin = s.world.staff_auth("admin")
    assert client.get("/api/v1/alliance", headers=admin).json["spend_requires_proof"] is True
    assert_error(
        client.patch("/api/v1/alliance", json={"spend_requires_proof": "no"}, headers=admin), 422, "invalid_request"
    )
    changed = client.patch("/api/v1/alliance", json={"spend_requires_proof": False}, headers=admin)
    assert changed.status_code == 200 and changed.json["spend_requires_proof"] is False
    found = client.post("/api/v1/identify", json={"phone": PHONE}, headers=s.auth).json
    assert found["identification"]["spend_needs_proof"] is False
    sale = sell(
        client, s.auth, identification_token=found["identification"]["token"], amount_fen=5_000, redeem_points=10
    )
    assert sale.status_code == 201, sale.json


def test_the_default_alliance_asks_for_proof(ctx):
    from server.services.alliance import ensure_alliance

    assert ensure_alliance().spend_requires_proof is True


def test_phone_lookups_are_rate_limited_per_terminal_and_per_number(app, client):
    s = proof_scene(app)
    for _ in range(5):
        identify(client, s.auth, phone=PHONE)
    assert_error(client.post("/api/v1/identify", json={"phone": PHONE}, headers=s.auth), 429, "rate_limited")
    # the same number from another terminal: still the same member's limit
    assert_error(
        client.post("/api/v1/identify", json={"phone": PHONE}, headers=s.world.shop_b.auth), 429, "rate_limited"
    )
    # per terminal: ten lookups a minute, whatever the numbers (unknown numbers count too)
    for n in range(4):
        client.post("/api/v1/identify", json={"phone": f"1370000000{n}"}, headers=s.auth)
    limited = client.post("/api/v1/identify", json={"phone": "13700000009"}, headers=s.auth)
    assert_error(limited, 429, "rate_limited")
    # chip cards and codes are not phone lookups
    assert client.post("/api/v1/identify", json={"code": s.card.card_no}, headers=s.auth).status_code == 200
