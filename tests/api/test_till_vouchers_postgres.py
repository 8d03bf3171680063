"""Alliance vouchers at the till on PostgreSQL (issue 19 parts 3 and 4, done-when): ten tills redeem one voucher at
once and exactly one sale uses it; a retried sale never consumes a second one; partial refunds split the voucher's
value exactly and the last restores it; the merchant's statement, the funder's statement and the vouchers
redeemed agree to the fen (and reconciliation says so)."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import pytest
import requests
from sqlalchemy import func, select

from server.domain import money_ledger as money
from server.domain.refunds import _share
from server.extensions import db
from server.models import BenefitCode, Sale, SaleVoucher, Settlement, SettlementDay
from server.models.base import utcnow
from server.services import benefit_catalog, benefit_imports, benefit_stock, catalog, money_ledger, settlement
from server.services.alliance import ensure_alliance
from server.services.reconciliation import reconcile
from tests.api.test_concurrency_postgres import run_at_once
from tests.benefits.helpers import MANAGER
from tests.builders import ACTOR
from tests.live_server import assert_error, db_state, identify, live_server, scene, sell

pytestmark = pytest.mark.postgres


def _give(app, member_id: str, code: str, kind: str = "voucher_threshold", funder: str = "alliance", **fields) -> str:
    """A voucher SKU worth 10 yuan (spend 100 for a threshold voucher) and one code issued to the member."""
    with app.app_context():
        ensure_alliance()
        terms = {"threshold_fen": 10_000} if kind == "voucher_threshold" else {}
        sku = benefit_catalog.create_sku(
            MANAGER,
            code=code,
            name=f"券-{code}",
            kind=kind,
            face_value_fen=1_000,
            funder=funder,
            valid_days=30,
            **terms,
            **fields,
        )
        purchase = benefit_catalog.create_purchase(
            MANAGER, sku_id=sku.id, quantity=2, source="generated", purchase_date=date(2026, 12, 1)
        )
        benefit_imports.generate_vouchers(MANAGER, purchase.id)
        [code_id] = benefit_stock.allocate(sku.id, member_id=member_id)
        db.session.remove()
    return code_id


def test_ten_tills_redeeming_one_voucher_at_once_let_exactly_one_sale_use_it(pg_app):
    s = scene(pg_app)
    code_id = _give(pg_app, s.member.id, "RACE")
    with pg_app.app_context():
        merchant_id = s.world.shop_a.merchant.id
        tokens = [s.world.shop_a.token] + [
            catalog.create_terminal(ACTOR, merchant_id, f"收银台{i}").token for i in range(2, 11)
        ]
        db.session.remove()
    client = pg_app.test_client()
    tills = [{"Authorization": f"Bearer {token}"} for token in tokens]
    identified = [identify(client, auth, code=s.card.card_no) for auth in tills]
    with live_server(pg_app) as base:

        def buy(index: int):
            body = {"identification_token": identified[index], "amount_fen": 12_000, "voucher_id": code_id}
            headers = {**tills[index], "Idempotency-Key": f"race-{index}"}
            return requests.post(f"{base}/api/v1/sales", json=body, headers=headers, timeout=60)

        responses = run_at_once(10, buy)
    assert Counter(getattr(r, "status_code", r) for r in responses) == {201: 1, 422: 9}
    for response in responses:
        if response.status_code == 422:
            assert_error(response, 422, "voucher_invalid")
    winner = next(r for r in responses if r.status_code == 201).json()["sale"]
    assert (winner["voucher_fen"], winner["payable_fen"]) == (1_000, 11_000)
    with pg_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Sale)) == 1
        assert db.session.scalars(select(SaleVoucher.sale_id)).all() == [winner["id"]]
        assert db.session.get(BenefitCode, code_id).status == "redeemed"
        db.session.remove()


def test_a_retried_sale_with_a_voucher_answers_the_first_and_never_consumes_a_second(pg_app):
    s = scene(pg_app)
    first_id = _give(pg_app, s.member.id, "RETRY")
    with pg_app.app_context():
        [second_id] = benefit_stock.allocate(
            db.session.scalar(select(BenefitCode.sku_id).where(BenefitCode.id == first_id)), member_id=s.member.id
        )
        db.session.remove()
    client = pg_app.test_client()
    token = identify(client, s.auth, code=s.card.card_no)
    body = {"identification_token": token, "amount_fen": 12_000, "voucher_id": first_id}
    first = sell(client, s.auth, key="voucher-retry", **body)
    assert first.status_code == 201, first.json
    state = db_state(pg_app)
    retried = sell(client, s.auth, key="voucher-retry", **body)
    assert (retried.status_code, retried.json) == (201, first.json)
    assert db_state(pg_app) == state
    with pg_app.app_context():
        statuses = {
            row.id: row.status
            for row in db.session.scalars(select(BenefitCode).where(BenefitCode.member_id == s.member.id))
        }
        assert statuses == {first_id: "redeemed", second_id: "issued"}
        assert db.session.scalar(select(func.count()).select_from(SaleVoucher)) == 1
        db.session.remove()


def _refund(client, auth, sale_id: str, key: str, amount_fen: int | None = None) -> dict:
    body = {} if amount_fen is None else {"amount_fen": amount_fen}
    response = client.post(f"/api/v1/sales/{sale_id}/refunds", json=body, headers={**auth, "Idempotency-Key": key})
    assert response.status_code == 201, response.json
    return response.json["refund"]


def test_refunds_split_the_voucher_and_statements_funders_and_vouchers_redeemed_agree_to_the_fen(pg_app):
    s = scene(pg_app)
    shop_a, shop_b = s.world.shop_a.merchant.id, s.world.shop_b.merchant.id
    alliance_code = _give(pg_app, s.member.id, "ALLIANCE")  # spend 100 get 10 off, the alliance pays
    sponsored_code = _give(pg_app, s.member.id, "SPONSOR", funder="sponsor_merchant", sponsor_merchant_id=shop_b)
    own_code = _give(pg_app, s.member.id, "OWN", kind="voucher_cash", funder="accepting_merchant")
    client = pg_app.test_client()

    def buy(code_id: str, amount_fen: int) -> dict:
        token = identify(client, s.auth, code=s.card.card_no)
        response = sell(client, s.auth, identification_token=token, amount_fen=amount_fen, voucher_id=code_id)
        assert response.status_code == 201, response.json
        return response.json["sale"]

    by_alliance, sponsored, own = buy(alliance_code, 12_000), buy(sponsored_code, 30_001), buy(own_code, 5_000)
    assert [sale["voucher_fen"] for sale in (by_alliance, sponsored, own)] == [1_000, 1_000, 1_000]
    # the sponsored sale is refunded in three parts: the voucher's share is cumulative and exact
    paid = sponsored["payable_fen"]  # 29_001
    parts = [_refund(client, s.auth, sponsored["id"], f"part-{i}", amount) for i, amount in enumerate((10_000, 7_777))]
    assert [part["voucher_fen"] for part in parts] == [_share(1_000, 10_000, paid), _share(1_000, 17_777, paid) - 344]
    assert [part["voucher_fen"] for part in parts] == [344, 268]
    assert not any(part["voucher_restored"] for part in parts)
    with pg_app.app_context():
        assert db.session.get(BenefitCode, sponsored_code).status == "redeemed"
        db.session.remove()
    rest = _refund(client, s.auth, sponsored["id"], "part-rest")
    assert (rest["amount_fen"], rest["voucher_fen"], rest["voucher_restored"]) == (paid - 17_777, 388, True)
    with pg_app.app_context():
        code = db.session.get(BenefitCode, sponsored_code)
        assert (code.status, code.redeemed_merchant_id) == ("issued", None)  # back in the member's wallet
        day = settlement.current_business_day()
        settlement.close_day(ACTOR, day, now=utcnow() + timedelta(days=2))
        rows = {row.merchant_id: row for row in db.session.scalars(select(Settlement))}
        a, b = rows[shop_a], rows[shop_b]
        # the accepting merchant: three vouchers listed; owed what the alliance and the sponsor fund, net of refunds
        assert (a.vouchers_count, a.voucher_fen, a.voucher_refunded_fen, a.voucher_owed_fen) == (3, 3_000, 1_000, 1_000)
        # the sponsor is charged its voucher net of the refunded share (nothing, all refunded); the alliance its own
        assert (b.voucher_sponsored_fen, db.session.get(SettlementDay, day).voucher_alliance_fen) == (0, 1_000)
        redeemed = db.session.execute(select(func.sum(SaleVoucher.value_fen - SaleVoucher.refunded_fen))).scalar_one()
        assert redeemed == a.voucher_fen - a.voucher_refunded_fen == 2_000
        for row in (a, b):
            lines = settlement.statement_lines(row)
            assert sum(line["net_fen"] for line in lines) == row.net_fen
            assert sum(line["voucher_owed_fen"] for line in lines) == row.voucher_owed_fen - row.voucher_sponsored_fen
        a_lines = [line for line in settlement.statement_lines(a) if line["kind"].startswith("voucher")]
        assert sorted((line["kind"], line["voucher_fen"], line["voucher_owed_fen"]) for line in a_lines) == sorted(
            [
                ("voucher", 1_000, 1_000),  # alliance-funded: owed
                ("voucher", 1_000, 1_000),  # sponsored by shop B: owed
                ("voucher", 1_000, 0),  # funded by shop A itself: listed, no transfer
                ("voucher_refund", -344, -344),
                ("voucher_refund", -268, -268),
                ("voucher_refund", -388, -388),
            ]
        )
        b_lines = [line for line in settlement.statement_lines(b) if line["kind"].startswith("voucher")]
        assert sum(line["voucher_owed_fen"] for line in b_lines) == 0 and len(b_lines) == 4
        # the money ledger says the same: the funders owe the accepting merchant
        assert money_ledger.balance(money.MERCHANT, shop_a, money.MERCHANT_VOUCHER_RECEIVABLE) == 1_000
        assert money_ledger.balance(money.MERCHANT, shop_b, money.MERCHANT_VOUCHER_PAYABLE) == 0
        assert money_ledger.balance(money.ALLIANCE, money.ALLIANCE_OWNER_ID, money.VOUCHER_FUNDING) == -1_000
        assert reconcile(day) == []
        db.session.remove()
