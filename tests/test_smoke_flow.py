"""A first end-to-end flow through the terminal API."""

from tests.builders import make_member, make_world


def test_identify_quote_sale_refund(app, client):
    with app.app_context():
        world = make_world()
        member, card = make_member(points=500)
        auth = world.shop_a.auth
    found = client.post("/api/v1/identify", json={"code": card.card_no}, headers=auth)
    assert found.status_code == 200, found.json
    token = found.json["identification"]["token"]
    quote = client.post(
        "/api/v1/sales/quote",
        json={"identification_token": token, "amount_fen": 10000, "redeem_points": 100},
        headers=auth,
    )
    assert quote.status_code == 200, quote.json
    sale = client.post(
        "/api/v1/sales",
        json={"identification_token": token, "amount_fen": 10000, "redeem_points": 100},
        headers={**auth, "Idempotency-Key": "s1"},
    )
    assert sale.status_code == 201, sale.json
    body = sale.json["sale"]
    assert body["amount_fen"] == body["discount_fen"] + body["redeem_value_fen"] + body["payable_fen"]
    refund = client.post(f"/api/v1/sales/{body['id']}/refunds", json={}, headers={**auth, "Idempotency-Key": "r1"})
    assert refund.status_code == 201, refund.json
    assert refund.json["refund"]["points_balance"] == 500
