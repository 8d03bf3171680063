"""Vouchers at the till through the checkout core against a real server: picked or scanned after identify,
priced in the documented order, consumed once, never redeemed offline (an unanswered voucher sale is sent again
with its key while the cashier waits, or withdrawn when the voucher is removed)."""

from __future__ import annotations

import pytest

from pos_client.checkout import Checkout
from pos_client.config import PosConfig
from pos_client.devices.printer import DummyPrinter
from pos_client.messages import PosError
from pos_client.outbox import Outbox
from pos_client.refunds import refund_by_receipt
from pos_client.shift_report import report_lines, shift_totals
from pos_client.terminal import terminal_client
from server.services import benefit_stock, catalog
from tests.benefits.helpers import vouchers
from tests.builders import ACTOR, make_member, make_world
from tests.live_server import live_server
from tests.pos.pos_helpers import FrontServer, printed_text_and_qr, write_config


@pytest.fixture
def scene(app, tmp_path):
    """A member (90% at shop A, 5000 points) holding two 满100减10 vouchers; a till of shop A behind a front."""
    with app.app_context():
        world = make_world()
        catalog.set_level_discount(ACTOR, world.shop_a.merchant.id, world.levels["normal"].id, 9000)
        phone = "13912345678"
        member, card = make_member(points=5000, phone=phone)
        sku = vouchers("TILL-10", quantity=3)
        code_ids = benefit_stock.allocate(sku.id, member_id=member.id, count=2)
        codes = [benefit_stock.reveal_for_member(member.id, code_id)["code"] for code_id in code_ids]
        token, card_no = world.shop_a.token, card.card_no
    with live_server(app) as url:
        front = FrontServer(url)
        front.start()
        config = write_config(tmp_path, front.url, token)
        core = Checkout(terminal_client(PosConfig.load(config)), Outbox(PosConfig.outbox_path(config)), DummyPrinter())
        core.refresh()
        yield core, card_no, codes, front, phone
        front.stop()


def test_a_picked_voucher_is_priced_after_the_discount_sold_once_printed_and_restored_by_a_refund(scene):
    core, card_no, codes, _, _ = scene
    member = core.identify_code(card_no)
    assert len(member.vouchers) == 2 and {v["code_last4"] for v in member.vouchers} == {c[-4:] for c in codes}
    picked = member.vouchers[0]
    core.choose_voucher(picked["id"])
    quote = core.quote(20_000, "max")
    # the level discount, then the voucher, then points: the parts add up to the amount
    assert (quote.discount_fen, quote.voucher_fen) == (2_000, 1_000)
    assert quote.voucher["code_last4"] == picked["code_last4"]
    assert quote.discount_fen + quote.voucher_fen + quote.redeem_value_fen + quote.payable_fen == 20_000
    outcome = core.commit(20_000, "max")
    assert outcome.status == "approved" and outcome.sale["voucher_fen"] == 1_000
    assert core.outbox.sale(outcome.seq).body["voucher_id"] == picked["id"]
    core.print_receipt()
    text, _ = printed_text_and_qr(core.printer.jobs[-1])
    assert f"尾号{picked['code_last4']}" in text and "-10.00" in text
    shift = shift_totals(core.outbox)  # the 交班单 adds up with the voucher in it
    assert shift.voucher_fen == 1_000
    assert shift.discount_fen + shift.voucher_fen + shift.redeem_value_fen + shift.payable_fen == shift.amount_fen
    assert any(line.startswith("券抵扣") and line.endswith("-10.00") for line in report_lines(shift, "甲店", "1号"))

    # used: the next identification lists only the other voucher; picking it for a small bill is refused
    again = core.identify_code(card_no)
    assert [v["code_last4"] for v in again.vouchers] == [v["code_last4"] for v in member.vouchers[1:]]
    core.choose_voucher(again.vouchers[0]["id"])
    with pytest.raises(PosError, match="未达到该券的最低消费：会员折后满 100.00 元可用"):
        core.quote(5_000)

    refund = refund_by_receipt(core, outcome.receipt.receipt_no, reason="整单退货")
    assert refund.receipt.refund.voucher_restored is True
    assert len(core.identify_code(card_no).vouchers) == 2


def test_a_scanned_code_is_checked_at_the_till_and_by_the_server_and_the_same_voucher_is_used_once(scene):
    core, card_no, codes, _, _ = scene
    core.identify_code(card_no)
    with pytest.raises(PosError, match="券码有误"):  # a typo: refused before the server is asked
        core.scan_voucher(codes[0][:-1] + ("2" if codes[0][-1] != "2" else "3"))
    core.scan_voucher(codes[0].lower())
    assert core.quote(12_000).voucher_fen == 1_000
    assert core.commit(12_000).sale["voucher"]["code_last4"] == codes[0][-4:]
    core.identify_code(card_no)
    core.scan_voucher(codes[0])  # the same code again: one uniform refusal, in Chinese
    with pytest.raises(PosError) as refused:
        core.quote(12_000)
    assert refused.value.code == "voucher_invalid" and "该券不可用" in str(refused.value)


def test_a_voucher_sale_is_never_queued_offline_it_is_sent_again_with_its_key_or_withdrawn(scene):
    core, card_no, codes, front, _ = scene
    member = core.identify_code(card_no)
    core.choose_voucher(member.vouchers[0]["id"])
    core.quote(20_000)
    front.stop()
    with pytest.raises(PosError, match="券不能离线核销"):
        core.commit(20_000)
    waiting = core.outbox.pending()
    assert len(waiting) == 1 and waiting[0].fallback is None and waiting[0].body["voucher_id"]
    front.start()
    seen = len(front.gate.sales_seen)
    core.sync()  # a replay never sends a voucher sale: only the cashier, while the customer waits
    assert core.outbox.sale(waiting[0].seq).state == "pending" and len(front.gate.sales_seen) == seen
    outcome = core.commit(20_000)  # F5 again: the same stored sale, the same key
    assert outcome.seq == waiting[0].seq and outcome.status == "approved"
    assert core.outbox.sale(outcome.seq).idempotency_key == waiting[0].idempotency_key

    # the server goes away again: the cashier removes the voucher and sells without it (no voucher offline)
    member = core.identify_code(card_no)
    core.choose_voucher(member.vouchers[0]["id"])
    core.quote(20_000)
    front.stop()
    with pytest.raises(PosError, match="券不能离线核销"):
        core.commit(20_000)
    held = core.outbox.pending()[-1]
    core.remove_voucher()
    withdrawn = core.outbox.sale(held.seq)
    assert withdrawn.state == "failed" and withdrawn.refused_at_till and withdrawn.error.startswith("voucher_withdrawn")
    core.quote(20_000)
    assert core.commit(20_000).status == "unknown"  # saved, confirmed when the server is back, no voucher
    front.start()
    assert core.sync().remaining == 0
    assert len(core.identify_code(card_no).vouchers) == 1  # the second voucher was never used


def test_a_voucher_picked_after_a_phone_number_needs_the_members_proof_a_scanned_code_is_its_own(app, scene):
    from server.extensions import db
    from server.services.alliance import ensure_alliance

    core, _, codes, _, phone = scene
    with app.app_context():  # the production default: spending after a phone number needs the member's proof
        ensure_alliance().spend_requires_proof = True
        db.session.commit()
    member = core.identify_phone(phone)
    assert member.spend_needs_proof and len(member.vouchers) == 2
    core.choose_voucher(member.vouchers[0]["id"])
    with pytest.raises(PosError) as refused:
        core.quote(20_000)
    assert refused.value.key == "proof_needed" and "选用会员的券须本人验证" in str(refused.value)
    core.scan_voucher(codes[0])  # the member holds the code: no further proof
    assert core.quote(20_000).voucher_fen == 1_000
