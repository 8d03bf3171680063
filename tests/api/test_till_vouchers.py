"""Alliance vouchers at the till (issue 19 part 3): listed at identify, priced in the quote in the documented order,
consumed in the sale, one uniform refusal, never offline, bad input changes nothing, restored by a full refund."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from server.extensions import db
from server.models import BenefitCode, BenefitSku, Member, SaleVoucher, WebhookEvent
from server.security.pii import decrypt_phone
from server.services import benefit_stock, webhooks
from server.services.points import alliance_today
from tests.benefits.helpers import vouchers
from tests.live_server import assert_error, db_state, identify, scene, sell

AMOUNT = 20_000  # a silver member pays 95% at the demo shops: 19_000 after the level discount


def _give(app, member_id: str, code: str = "SAVE-10", **sku_fields) -> tuple[str, str]:
    """A voucher SKU (spend 100 yuan, 10 off, alliance-funded unless said) and one code issued to the member."""
    with app.app_context():
        sku = vouchers(code, quantity=3, **sku_fields)
        [code_id] = benefit_stock.allocate(sku.id, member_id=member_id)
        shown = benefit_stock.reveal_for_member(member_id, code_id)["code"]
        db.session.remove()
    return code_id, shown


def _status(app, code_id: str) -> str:
    with app.app_context():
        status = db.session.get(BenefitCode, code_id).status
        db.session.remove()
        return status


def test_a_voucher_is_listed_quoted_after_the_level_discount_and_consumed_once_in_the_sale(app, client):
    s = scene(app, points=500, level="silver")
    code_id, code = _give(app, s.member.id)
    with app.app_context():
        webhooks.create_subscription("test", "partner", "https://partner.example/hook", ["benefit.redeemed"])
        expires_on = (alliance_today() + timedelta(days=90)).isoformat()
        db.session.remove()
    found = client.post("/api/v1/identify", json={"code": s.card.card_no}, headers=s.auth).json
    [listed] = found["identification"]["vouchers"]
    assert listed == {
        "id": code_id,
        "name": "满100减10-SAVE-10",
        "kind": "voucher_threshold",
        "face_value_fen": 1_000,
        "min_spend_fen": 10_000,
        "discount_bp": 0,
        "max_off_fen": 0,
        "item_name": "",
        "expires_on": expires_on,
        "code_last4": code[-4:],
    }
    token = found["identification"]["token"]
    typed = " " + code.lower().replace("-", " - ") + " "  # as typed: dashes, spaces and case do not matter
    quote = client.post(
        "/api/v1/sales/quote",
        json={"identification_token": token, "amount_fen": AMOUNT, "redeem_points": 100, "voucher_code": typed},
        headers=s.auth,
    ).json
    # level discount 1_000, then the voucher 1_000 on 19_000, then 100 points (1 fen each) on 18_000
    assert (quote["discount_fen"], quote["voucher_fen"], quote["redeem_value_fen"], quote["payable_fen"]) == (
        1_000,
        1_000,
        100,
        17_900,
    )
    assert quote["voucher"] == {
        "id": code_id,
        "name": listed["name"],
        "kind": "voucher_threshold",
        "code_last4": code[-4:],
    }
    # the minimum spend is checked after the level discount: 10_500 is 9_975 for a silver member
    below = client.post(
        "/api/v1/sales/quote",
        json={"identification_token": token, "amount_fen": 10_500, "voucher_id": code_id},
        headers=s.auth,
    )
    assert_error(below, 422, "voucher_min_spend", {"min_spend_fen": 10_000, "amount_fen": 9_975})
    sold = sell(client, s.auth, identification_token=token, amount_fen=AMOUNT, redeem_points=100, voucher_id=code_id)
    assert sold.status_code == 201, sold.json
    sale = sold.json["sale"]
    assert (sale["voucher_fen"], sale["payable_fen"], sale["voucher"]["id"]) == (1_000, 17_900, code_id)
    assert (
        sale["amount_fen"]
        == sale["discount_fen"] + sale["voucher_fen"] + sale["redeem_value_fen"] + sale["payable_fen"]
    )
    assert client.get(f"/api/v1/sales/{sale['id']}", headers=s.auth).json["sale"]["voucher"]["id"] == code_id
    with app.app_context():
        row = db.session.get(BenefitCode, code_id)
        assert (row.status, row.redeemed_merchant_id) == ("redeemed", s.world.shop_a.merchant.id)
        link = db.session.get(SaleVoucher, sale["id"])
        assert (link.code_id, link.value_fen, link.funder, link.funder_merchant_id) == (
            code_id,
            1_000,
            "alliance",
            None,
        )
        events = db.session.scalars(select(WebhookEvent).where(WebhookEvent.event_type == "benefit.redeemed")).all()
        assert [event.payload["sale_id"] for event in events] == [sale["id"]]
        db.session.remove()
    # used now: no longer listed, and a second sale naming it is refused with nothing changed
    again = client.post("/api/v1/identify", json={"code": s.card.card_no}, headers=s.auth).json["identification"]
    assert again["vouchers"] == []
    before = db_state(app)
    assert_error(
        sell(client, s.auth, identification_token=again["token"], amount_fen=AMOUNT, voucher_code=code),
        422,
        "voucher_invalid",
    )
    assert db_state(app) == before


def test_every_voucher_that_cannot_be_used_here_gets_the_same_answer(app, client):
    s = scene(app)
    with app.app_context():
        from tests.builders import make_member

        other, _ = make_member()
        db.session.remove()
    mine, mine_code = _give(app, s.member.id)
    theirs, theirs_code = _give(app, other.id, "THEIRS")
    elsewhere, _ = _give(app, s.member.id, "B-ONLY", scope="merchants", merchant_ids=[s.world.shop_b.merchant.id])
    expired, expired_code = _give(app, s.member.id, "OLD")
    with app.app_context():
        db.session.execute(
            update(BenefitCode).where(BenefitCode.id == expired).values(expires_on=alliance_today() - timedelta(days=1))
        )
        db.session.commit()
        db.session.remove()
    token = identify(client, s.auth, code=s.card.card_no)
    attempts = [
        {"voucher_code": "ABCD-EFGH-JKLM-NPQR"},  # unknown (or mistyped)
        {"voucher_code": theirs_code},  # another member's
        {"voucher_id": theirs},
        {"voucher_id": elsewhere},  # not accepted at this merchant
        {"voucher_code": expired_code},
        {"voucher_id": "bcd_nosuchvoucher"},
    ]
    answers = set()
    for attempt in attempts:
        response = client.post(
            "/api/v1/sales/quote", json={"identification_token": token, "amount_fen": AMOUNT, **attempt}, headers=s.auth
        )
        answers.add((response.status_code, response.get_data(as_text=True)))
    assert len(answers) == 1 and next(iter(answers))[0] == 422
    assert_error(
        client.post(
            "/api/v1/sales/quote",
            json={"identification_token": token, "amount_fen": AMOUNT, **attempts[0]},
            headers=s.auth,
        ),
        422,
        "voucher_invalid",
    )
    assert [_status(app, code_id) for code_id in (mine, theirs, elsewhere)] == ["issued"] * 3
    assert mine_code  # still usable by its holder here
    listed = client.post("/api/v1/identify", json={"code": s.card.card_no}, headers=s.auth).json
    assert [v["id"] for v in listed["identification"]["vouchers"]] == [mine]


def test_vouchers_are_never_redeemed_offline_and_bad_voucher_input_changes_nothing(app, client):
    s = scene(app)
    code_id, code = _give(app, s.member.id)
    token = identify(client, s.auth, code=s.card.card_no)
    before = db_state(app)
    offline = {"offline": True, "code": s.card.card_no, "amount_fen": 12_000, "voucher_code": code}
    assert_error(sell(client, s.auth, **offline), 422, "voucher_offline")
    both = {"identification_token": token, "amount_fen": 12_000, "voucher_code": code, "voucher_id": code_id}
    assert sell(client, s.auth, **both).status_code == 422
    assert client.post("/api/v1/sales/quote", json=both, headers=s.auth).status_code == 422
    too_long = {"identification_token": token, "amount_fen": 12_000, "voucher_code": "A" * 65}
    assert sell(client, s.auth, **too_long).status_code == 422
    assert sell(client, s.auth, identification_token=token, amount_fen=12_000, voucher_id="b" * 41).status_code == 422
    assert db_state(app) == before
    assert _status(app, code_id) == "issued"


def test_a_sku_that_keeps_its_voucher_on_refund_does_not_restore_it(app, client):
    s = scene(app)
    code_id, _code = _give(app, s.member.id, "KEEP", restore_on_refund=False)
    with app.app_context():
        assert db.session.scalar(select(BenefitSku.restore_on_refund).where(BenefitSku.code == "KEEP")) is False
        db.session.remove()
    token = identify(client, s.auth, code=s.card.card_no)
    sale = sell(client, s.auth, identification_token=token, amount_fen=AMOUNT, voucher_id=code_id).json["sale"]
    refund = client.post(
        f"/api/v1/sales/{sale['id']}/refunds", json={}, headers={**s.auth, "Idempotency-Key": "keep-1"}
    ).json["refund"]
    assert (refund["voucher_fen"], refund["voucher_restored"]) == (1_000, False)
    assert _status(app, code_id) == "redeemed"


def test_a_voucher_picked_from_the_list_needs_the_members_proof_a_scanned_one_is_its_own(app, client):
    s = scene(app, spend_requires_proof=True)
    with app.app_context():
        phone = decrypt_phone(db.session.get(Member, s.member.id).phone_ciphertext)
        db.session.remove()
    code_id, code = _give(app, s.member.id)
    token = identify(client, s.auth, phone=phone)  # a phone number proves nothing
    body = {"identification_token": token, "amount_fen": AMOUNT}
    quoted = client.post("/api/v1/sales/quote", json={**body, "voucher_id": code_id}, headers=s.auth)
    assert_error(quoted, 403, "member_proof_required")
    assert_error(sell(client, s.auth, **body, voucher_id=code_id), 403, "member_proof_required")
    sold = sell(client, s.auth, **body, voucher_code=code)  # the member shows the voucher itself
    assert (sold.status_code, sold.json["sale"]["voucher_fen"]) == (201, 1_000)
