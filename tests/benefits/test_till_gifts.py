"""Gift with a purchase at the till (满赠): granted once per sale through the API, not below the minimum, skipped
without stock (the sale still recorded), voided by a full refund while unused; stored sealed in the replay."""

from __future__ import annotations

import json

from sqlalchemy import select

from server.domain import voucher_codes
from server.extensions import db
from server.models import BenefitCode, BenefitGrant, IdempotencyRecord, MerchantGiftRule
from server.security.benefit_secrets import sealer
from server.services import till_gifts
from tests.benefits.helpers import vouchers
from tests.builders import make_world
from tests.live_server import identify, scene, sell


def _setup(app, quantity: int, **rule):
    s = scene(app)
    with app.app_context():
        sku = vouchers("GIFT-10", quantity=quantity)
        till_gifts.create_rule("staff:t", s.world.shop_a.merchant.id, sku_id=sku.id, min_payable_fen=10_000, **rule)
        db.session.remove()
    return s


def _sale(client, s, amount_fen: int, key: str | None = None):
    token = identify(client, s.auth, code=s.card.card_no)
    return sell(client, s.auth, key=key, identification_token=token, amount_fen=amount_fen)


def test_a_qualifying_sale_gets_one_gift_even_when_retried_and_a_full_refund_voids_it(app, client):
    s = _setup(app, quantity=5)
    below = _sale(client, s, 9_999)
    assert below.status_code == 201 and below.json["gift"] is None
    token = identify(client, s.auth, code=s.card.card_no)
    body = {"identification_token": token, "amount_fen": 12_000}
    first = sell(client, s.auth, key="gift-sale-1", **body)
    again = sell(client, s.auth, key="gift-sale-1", **body)  # the till retried: the stored answer
    assert first.status_code == again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    gift = first.json["gift"]
    assert again.json["gift"] == gift and gift["name"] == "满100减10-GIFT-10" and gift["expires_on"]
    assert voucher_codes.is_valid(gift["code"])
    sale_id = first.json["sale"]["id"]
    with app.app_context():
        (grant,) = db.session.scalars(select(BenefitGrant).where(BenefitGrant.channel == "till_gift")).all()
        assert grant.source_id == sale_id and grant.member_id == s.member.id
        code = db.session.get(BenefitCode, grant.code_id)
        assert voucher_codes.display(sealer().open(code.id, code.sku_id, code.sealed)[0]) == gift["code"]
        stored = db.session.scalars(select(IdempotencyRecord.response_body)).all()
        assert all(gift["code"] not in json.dumps(body, ensure_ascii=False) for body in stored)  # sealed at rest
        db.session.remove()

    partial = client.post(
        f"/api/v1/sales/{sale_id}/refunds", json={"amount_fen": 2_000}, headers={**s.auth, "Idempotency-Key": "r-1"}
    )
    assert partial.status_code == 201, partial.json
    with app.app_context():
        assert db.session.get(BenefitCode, grant.code_id).status == "issued"  # part refunded: the gift stays
        db.session.remove()
    rest = client.post(f"/api/v1/sales/{sale_id}/refunds", json={}, headers={**s.auth, "Idempotency-Key": "r-2"})
    assert rest.status_code == 201, rest.json
    with app.app_context():
        voided = db.session.get(BenefitCode, grant.code_id)
        assert voided.status == "void" and voided.void_reason == "sale refunded"
        db.session.remove()


def test_no_stock_or_the_member_limit_skips_the_gift_and_the_sale_is_recorded(app, client):
    s = _setup(app, quantity=1)
    assert _sale(client, s, 10_000).json["gift"] is not None
    empty = _sale(client, s, 20_000)  # the one code is given: the sale goes through without a gift
    assert empty.status_code == 201 and empty.json["gift"] is None
    with app.app_context():
        rule = db.session.scalars(select(MerchantGiftRule)).one()
        assert (rule.granted_count, rule.out_of_stock_count) == (1, 1)
        sku_id = rule.sku_id
        till_gifts.update_rule("staff:t", rule.merchant_id, rule.id, per_member_limit=1, limit_period="day")
        vouchers("GIFT-MORE", quantity=2)  # another SKU: the rule still gives GIFT-10, of which none is left
        db.session.remove()
    assert _sale(client, s, 20_000).json["gift"] is None
    with app.app_context():
        assert db.session.scalars(select(MerchantGiftRule.out_of_stock_count)).one() == 1  # the limit, not stock
        assert db.session.scalars(select(BenefitCode.status).where(BenefitCode.sku_id == sku_id)).all() == ["issued"]
        db.session.remove()


def test_the_owner_sets_the_gift_of_their_own_shop_in_the_console_and_not_of_another(app, client):
    from tests.console.support import make_console_users, page_text, post_form, sign_in

    with app.app_context():
        world = make_world()
        make_console_users(world)
        sku = vouchers("GIFT-CONSOLE", quantity=1)
        shop_a, shop_b, sku_id = world.shop_a.merchant.id, world.shop_b.merchant.id, sku.id
        db.session.remove()
    assert sign_in(client, "c-owner-a").status_code == 302
    page = f"/console/merchants/{shop_a}"
    form = {"sku_id": sku_id, "min_payable": "88.00", "per_member_limit": "1", "limit_period": "week"}
    assert post_form(client, page, f"{page}/gift-rules", form).status_code == 302
    html = page_text(client.get(page))
    assert "满赠" in html and "¥88.00" in html and "每周 1 次" in html
    with app.app_context():
        rule = db.session.scalars(select(MerchantGiftRule)).one()
        assert (rule.merchant_id, rule.min_payable_fen, rule.per_member_limit, rule.active) == (shop_a, 8_800, 1, True)
        db.session.remove()
    assert post_form(client, page, f"{page}/gift-rules/{rule.id}/switch", {}).status_code == 302
    refused = post_form(client, page, f"/console/merchants/{shop_b}/gift-rules", form)
    assert refused.status_code in (403, 404)
    with app.app_context():
        assert db.session.scalars(select(MerchantGiftRule.active)).all() == [False]
        db.session.remove()


def test_a_rule_set_or_stopped_by_another_worker_applies_to_the_next_sale(app, client, database):
    s = scene(app)
    with app.app_context():
        sku_id = vouchers("GIFT-20", quantity=5).id
        db.session.remove()
    assert _sale(client, s, 12_000).json["gift"] is None  # no rule: this worker's copy of the shop's rules is empty
    merchant_id = s.world.shop_a.merchant.id
    with database.make_app().app_context():  # another worker sets the gift
        rule_id = till_gifts.create_rule("staff:t", merchant_id, sku_id=sku_id, min_payable_fen=10_000).id
        db.session.remove()
    assert _sale(client, s, 12_000).json["gift"] is not None
    with database.make_app().app_context():  # and stops it
        till_gifts.update_rule("staff:t", merchant_id, rule_id, active=False)
        db.session.remove()
    assert _sale(client, s, 12_000).json["gift"] is None
