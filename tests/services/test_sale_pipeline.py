"""The sale and refund pipelines: ordered steps over a draft, one transaction, a new step is one entry."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from server.domain.errors import Conflict
from server.extensions import db
from server.models import Identification, LedgerTransaction, Refund, Sale
from server.services import checkout, sales
from server.services.sales import pipeline
from server.services.sales.context import RefundRequest, SaleRequest
from server.services.staff import terminal_for_token
from tests.builders import ACTOR, make_member, make_world


@pytest.fixture
def scene(ctx):
    world = make_world()
    _member, card = make_member(points=1_000)
    terminal = terminal_for_token(world.shop_a.token)
    return terminal, card


def identified(scene) -> SaleRequest:
    terminal, card = scene
    token = checkout.identify(terminal, code=card.card_no).token
    return SaleRequest(terminal=terminal, identification_token=token, amount_fen=10_000, redeem_points=100)


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


# a step that only sends a question ahead (its statement rides in an earlier round trip) -> the step reading the answer
ASKED_AHEAD = {
    sales.persist.ask_receipt_seq: sales.persist.number_receipt,
    sales.post.ask_window_spend: sales.post.upgrade_level,
}


def test_the_steps_run_in_stage_order():
    steps = pipeline.SALE_STEPS
    stages = [step.__module__.rsplit(".", 1)[-1] for step in steps if step not in ASKED_AHEAD]
    assert stages == sorted(stages, key=["resolve", "price", "persist", "post"].index)
    for ask, reader in ASKED_AHEAD.items():
        assert steps.index(ask) < steps.index(reader)
    posting = steps.index(sales.post.post_sale)  # the level's spend is read behind the posting (its locks taken)
    assert steps[posting : posting + 4] == (
        sales.post.post_sale,
        sales.post.ask_window_spend,
        sales.post.check_posting,
        sales.post.move_sale_lots,
    )
    # the chip's write-back is planned with the level after the sale
    assert pipeline.SALE_STEPS.index(sales.post.plan_card_write_back) > pipeline.SALE_STEPS.index(
        sales.post.upgrade_level
    )


def test_a_new_step_is_one_entry_and_reads_the_slots_of_the_steps_before_it(scene, monkeypatch):
    seen = {}

    def snapshot(draft):  # e.g. a commission snapshot: after the sale row, before the ledger
        seen.update(sale_id=draft.sale.id, payable=draft.priced.payable_fen, member=draft.buyer.member_id)
        assert draft.balances == {} and draft.level is None

    at = pipeline.SALE_STEPS.index(sales.persist.write_sale) + 1
    monkeypatch.setattr(pipeline, "SALE_STEPS", (*pipeline.SALE_STEPS[:at], snapshot, *pipeline.SALE_STEPS[at:]))
    result = sales.record_sale(identified(scene))
    assert seen == {"sale_id": result.sale.id, "payable": result.sale.payable_fen, "member": result.sale.member_id}
    assert result.points_balance == 1_000 - 100 + result.sale.points_earned


def test_a_step_that_refuses_leaves_nothing_of_the_sale(scene, monkeypatch):
    def refuse(draft):
        raise Conflict("refused by a later step")

    monkeypatch.setattr(pipeline, "SALE_STEPS", (*pipeline.SALE_STEPS, refuse))
    request = identified(scene)
    before = (count(Sale), count(LedgerTransaction))
    with pytest.raises(Conflict):
        sales.record_sale(request)
    assert (count(Sale), count(LedgerTransaction)) == before
    assert db.session.scalar(select(Identification.used_at)) is None  # the identification is still open


def test_the_refund_pipeline_takes_a_typed_request(scene):
    sale = sales.record_sale(identified(scene)).sale
    refunded = sales.refund_sale(RefundRequest(ACTOR, sale.id, None, 5_000, "half"))
    assert refunded.sale is sale and sale.refunded_fen == 5_000
    assert refunded.refund.points_restored == 50 and count(Refund) == 1
    # the keyword entry point for code callers is the same pipeline
    rest = checkout.refund_sale(ACTOR, sale.id, None, reason="the rest")
    assert rest.refund.amount_fen == sale.payable_fen - 5_000 and checkout.refundable_fen(sale) == 0
