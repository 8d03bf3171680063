"""Anti-fraud at the till: the redemption budget per terminal / merchant / member applies to the voucher in the
sale; refusals look like an unknown voucher and are counted as failed lookups after the sale rolled back."""

from __future__ import annotations

from server.extensions import db
from server.services import benefit_fraud, benefit_stock
from tests.benefits.helpers import MANAGER, vouchers
from tests.live_server import assert_error, identify, scene, sell

AMOUNT = 20_000


def _give(app, member_id: str, count: int) -> list[tuple[str, str]]:
    with app.app_context():
        sku = vouchers("TILL-10", quantity=count)
        given = []
        for _ in range(count):
            [code_id] = benefit_stock.allocate(sku.id, member_id=member_id)
            given.append((code_id, benefit_stock.reveal_for_member(member_id, code_id)["code"]))
        db.session.remove()
    return given


def _limits(app, **values):
    with app.app_context():
        benefit_fraud.update_limits(MANAGER.key, {key.replace("__", ":"): value for key, value in values.items()})
        db.session.remove()


def _failures(app) -> dict:
    with app.app_context():
        rows = benefit_fraud.list_counters(action="failure")
        db.session.remove()
    return {(row["subject_kind"], row["period_name"]): row["count"] for row in rows}


def test_the_till_budget_refuses_a_good_voucher_like_an_unknown_one_and_counts_each_refusal(app, client):
    s = scene(app)
    (first, first_code), (second, second_code), (_, third_code) = _give(app, s.member.id, 3)
    _limits(app, redeem__terminal__hour=1, failure__terminal__hour=0, failure__member__hour=0, failure__ip__hour=0)
    token = identify(client, s.auth, code=s.card.card_no)
    assert (
        sell(client, s.auth, identification_token=token, amount_fen=AMOUNT, voucher_code=first_code).status_code == 201
    )

    token = identify(client, s.auth, code=s.card.card_no)
    over = sell(client, s.auth, identification_token=token, amount_fen=AMOUNT, voucher_code=second_code)
    unknown = sell(client, s.auth, identification_token=token, amount_fen=AMOUNT, voucher_code="ABCD-EFGH-JKLM-NPQR")
    assert_error(over, 422, "voucher_invalid")
    assert (over.status_code, over.get_data()) == (unknown.status_code, unknown.get_data())
    with app.app_context():
        statuses = {row["id"]: row["status"] for row in benefit_stock.member_codes(s.member.id)}
        db.session.remove()
    assert statuses[first] == "redeemed" and statuses[second] == "issued"  # the refused sale changed nothing
    failures = _failures(app)
    assert failures[("terminal", "hour")] == 2 and failures[("member", "day")] == 2 and failures[("ip", "hour")] == 2

    # failures past their budget: even a good voucher is refused (quote too), the same way
    _limits(app, redeem__terminal__hour=0, failure__terminal__hour=2)
    quote = client.post(
        "/api/v1/sales/quote",
        json={"identification_token": token, "amount_fen": AMOUNT, "voucher_code": third_code},
        headers=s.auth,
    )
    assert (quote.status_code, quote.get_data()) == (unknown.status_code, unknown.get_data())
    _limits(app, failure__terminal__hour=0)
    quote = client.post(
        "/api/v1/sales/quote",
        json={"identification_token": token, "amount_fen": AMOUNT, "voucher_code": third_code},
        headers=s.auth,
    )
    assert quote.status_code == 200 and quote.json["voucher"]["code_last4"] == third_code[-4:]
