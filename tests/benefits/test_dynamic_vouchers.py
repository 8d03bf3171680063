"""Dynamic one-time voucher codes: a valuable voucher is shown in the wallet only as a code that changes every 30
seconds; the till's resolver accepts it once, refuses it again (a screenshot passed on), refuses it expired, and
refuses the printed code of a dynamic voucher, while a printed code of an ordinary voucher still resolves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from server.domain import dynamic_vouchers, voucher_codes
from server.domain.member_codes import time_step
from server.extensions import db
from server.services import benefit_grants, benefit_stock, benefit_wallet, voucher_lookup
from tests.benefits.helpers import vouchers
from tests.builders import make_member, make_world

NOW = datetime(2026, 12, 6, 6, 0, 10, tzinfo=UTC)


def test_the_pure_scheme_accepts_the_step_and_its_neighbours_only():
    secret = b"k" * 32
    step = time_step(NOW.timestamp())
    code = dynamic_vouchers.voucher_code(1234, secret, step)
    parsed = dynamic_vouchers.parse(dynamic_vouchers.display(code))
    assert (len(code), parsed.index) == (dynamic_vouchers.LENGTH, 1234)
    assert not voucher_codes.is_valid(code)  # never mistaken for a printed voucher code
    assert dynamic_vouchers.verify(secret, parsed.otp, step + 1) == ("valid", step)
    assert dynamic_vouchers.verify(secret, parsed.otp, step + 10)[0] == "expired"
    assert dynamic_vouchers.verify(b"x" * 32, parsed.otp, step) == ("invalid", None)
    assert dynamic_vouchers.is_dynamic_voucher(True, 5_000, None, 5_000)
    assert not dynamic_vouchers.is_dynamic_voucher(True, 4_999, None, 5_000)
    assert dynamic_vouchers.is_dynamic_voucher(True, 0, 8_000, 5_000)  # a percent voucher by its cap
    assert not dynamic_vouchers.is_dynamic_voucher(True, 9_000, None, None)  # the setting off


def test_a_dynamic_code_works_once_and_the_printed_code_and_an_old_code_do_not(ctx):
    make_world()
    big, small = vouchers("BIG-50", quantity=2), vouchers("SMALL-5", quantity=1)
    big.face_value_fen, small.face_value_fen = 5_000, 500
    db.session.commit()
    benefit_grants.set_gift_settings(
        "staff:t", registration_sku_id=None, level_up_sku_id=None, birthday_sku_id=None, dynamic_voucher_min_fen=5_000
    )
    member, _ = make_member(with_card=False)
    big_id, other_id = benefit_stock.allocate(big.id, member_id=member.id, count=2)
    (small_id,) = benefit_stock.allocate(small.id, member_id=member.id)

    wallet = {item.id: item.dynamic for item in benefit_wallet.wallet(member.id)["held"]}
    assert wallet == {big_id: True, other_id: True, small_id: False}
    shown = voucher_lookup.current_code(member.id, big_id, now=NOW)
    assert shown["code"].startswith("V ") and "<svg" in shown["qr_svg"] and 0 < shown["refresh_seconds"] <= 30

    quoted = voucher_lookup.resolve_till_voucher_code(shown["code"], NOW + timedelta(seconds=5), consume=False)
    assert quoted.id == big_id  # a quote checks it and leaves it unused
    assert voucher_lookup.resolve_till_voucher_code(shown["code"], NOW + timedelta(seconds=20)).id == big_id
    # the same code again (a screenshot passed on, a second scan): refused
    assert voucher_lookup.resolve_till_voucher_code(shown["code"], NOW + timedelta(seconds=25)) is None
    assert voucher_lookup.resolve_till_voucher_code(shown["code"], NOW, consume=False) is None
    # a code of the other voucher shown five minutes ago: expired
    old = voucher_lookup.current_code(member.id, other_id, now=NOW)
    assert voucher_lookup.resolve_till_voucher_code(old["code"], NOW + timedelta(minutes=5)) is None
    # the printed code of a dynamic voucher is refused; of an ordinary one it is found
    printed_big = benefit_stock.reveal_for_member(member.id, other_id)["code"]
    assert voucher_lookup.resolve_till_voucher_code(printed_big, NOW) is None
    printed_small = benefit_stock.reveal_for_member(member.id, small_id)["code"]
    assert voucher_lookup.resolve_till_voucher_code(printed_small, NOW).id == small_id
    # the wallet never opens a dynamic voucher's printed code
    opened = benefit_wallet.reveal(member.id, other_id)
    assert opened["dynamic"] and opened["code"].startswith("V ") and printed_big not in str(opened)


def test_a_dynamic_code_pays_at_the_till_once_and_the_printed_code_is_refused(app, client):
    from tests.live_server import assert_error, identify, scene, sell

    s = scene(app, level="silver")
    with app.app_context():
        sku = vouchers("TILL-DYN", quantity=2)  # spend 100 yuan, 10 off: worth the alliance's threshold below
        benefit_grants.set_gift_settings(
            "staff:t",
            registration_sku_id=None,
            level_up_sku_id=None,
            birthday_sku_id=None,
            dynamic_voucher_min_fen=1_000,
        )
        used_id, other_id = benefit_stock.allocate(sku.id, member_id=s.member.id, count=2)
        shown = voucher_lookup.current_code(s.member.id, used_id)["code"]
        printed = benefit_stock.reveal_for_member(s.member.id, other_id)["code"]
        db.session.remove()
    token = identify(client, s.auth, code=s.card.card_no)
    body = {"identification_token": token, "amount_fen": 20_000, "voucher_code": shown}
    quote = client.post("/api/v1/sales/quote", json=body, headers=s.auth)
    assert quote.status_code == 200 and quote.json["voucher"]["id"] == used_id  # checked, not used up
    sold = sell(client, s.auth, **body)
    assert sold.status_code == 201, sold.json
    assert (sold.json["sale"]["voucher_fen"], sold.json["sale"]["voucher"]["id"]) == (1_000, used_id)
    again = identify(client, s.auth, code=s.card.card_no)
    assert_error(sell(client, s.auth, **{**body, "identification_token": again}), 422, "voucher_invalid")
    assert_error(
        sell(client, s.auth, identification_token=again, amount_fen=20_000, voucher_code=printed),
        422,
        "voucher_invalid",
    )
