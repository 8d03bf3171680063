"""The POS checkout with a chip card through pcscd, a live server it can lose, and a TCP receipt printer."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from alliance_shared.devices.card_reader import NoReaderFound
from alliance_shared.devices.pcsc_reader import PcscCardReader
from card_layout.layout import COUNTER_BLOCK
from card_layout.record import counter_value
from pos_client.checkout import Checkout
from pos_client.config import PosConfig
from pos_client.devices.printer import open_printer
from pos_client.messages import PosError
from pos_client.outbox import Outbox
from pos_client.terminal import terminal_client
from server.extensions import db
from server.models import Level, Merchant, Sale
from server.services import catalog
from tests.builders import ACTOR
from tests.hardware.card_tools_helpers import blank_cards, encode_cards
from tests.pos.pos_helpers import FrontServer, TcpPrinter, printed_text_and_qr, wait_until, write_config

WRITE_APDU = bytes.fromhex("FFD6")


@pytest.fixture
def till(app, alliance, vpcd, reader, tmp_path):
    """Shop A (level-0 members pay 90%), a member's encoded card on the virtual reader, a POS behind a front."""
    with app.app_context():
        merchant = db.session.scalar(select(Merchant).where(Merchant.name == "甲店"))
        level = db.session.scalar(select(Level).where(Level.rank == 0))
        catalog.set_level_discount(ACTOR, merchant.id, level.id, 9000)
        db.session.remove()
    batch = alliance.staff.create_batch(1)
    card = blank_cards(1, first_uid=0x5A6B7C8D)[0]
    (card_no,) = encode_cards(alliance, vpcd, reader, batch["id"], [card])
    alliance.staff.bind_card(alliance.new_member(), card_no)
    front = FrontServer(alliance.url)
    front.start()
    printer = TcpPrinter()
    token = alliance.terminal.headers["Authorization"].removeprefix("Bearer ")
    config = write_config(tmp_path, front.url, token, printer=printer.spec)
    core = Checkout(
        terminal_client(PosConfig.load(config)),
        Outbox(PosConfig.outbox_path(config)),
        open_printer(printer.spec),
        reader,
    )
    core.refresh()
    yield core, card, front, printer, vpcd
    front.stop()
    printer.close()


def _sales(app) -> list[Sale]:
    with app.app_context():
        sales = db.session.scalars(select(Sale).order_by(Sale.created_at)).all()
        for sale in sales:
            db.session.expunge(sale)
        db.session.remove()
    return sales


def test_card_sale_online_writes_the_counter_back_and_prints(app, till):
    core, card, _, printer, vpcd = till
    before = counter_value(card.block(COUNTER_BLOCK))
    vpcd.insert(card)
    member = core.identify_card(timeout=5)
    assert member.card_written is True and not member.offline and member.discount_bp == 9000
    assert counter_value(card.block(COUNTER_BLOCK)) > before
    assert core.last_apdus <= 14
    core.quote(10_000)
    outcome = core.commit(10_000)
    core.print_receipt()
    assert outcome.status == "approved"
    wait_until(lambda: len(printer.jobs) == 1)
    text, _ = printed_text_and_qr(printer.jobs[0])
    assert "甲店" in text and "100.00" in text and "-10.00" in text and "90.00" in text
    assert outcome.sale["receipt_no"] in text and f"+{outcome.sale['points_earned']}" in text


def test_tap_and_pay_is_one_request_shows_the_member_after_it_and_writes_the_counter_back(app, till):
    core, card, front, printer, vpcd = till
    before = counter_value(card.block(COUNTER_BLOCK))
    vpcd.insert(card)
    outcome = core.tap_and_pay(10_000, timeout=5)
    assert outcome.status == "approved" and outcome.sale["payable_fen"] == 9_000
    member = core.member
    assert member.card_written is True and member.points_balance == outcome.sale["points_balance"]
    assert not member.display_name.startswith("卡号")  # the server's answer names the member
    assert counter_value(card.block(COUNTER_BLOCK)) > before
    (sent,) = front.gate.sales_seen  # the chip read went with the sale: no identify, no token
    assert "card" in sent and "identification_token" not in sent and sent["offline"] is False
    (sale,) = _sales(app)
    assert (sale.method, sale.payable_fen, sale.offline) == ("card", 9_000, False)
    core.print_receipt()
    wait_until(lambda: len(printer.jobs) == 1)
    # the next tap with the card as written is a clean sale too (the counter moved on and was written)
    vpcd.insert(card)
    assert core.tap_and_pay(5_000, timeout=5).status == "approved"
    assert len(_sales(app)) == 2


def test_offline_card_sales_use_the_signed_level_refuse_points_and_replay_in_order(app, till):
    core, card, front, printer, vpcd = till
    front.stop()
    vpcd.insert(card)
    receipts, numbers = [], []
    for amount in (5_000, 12_345):
        member = core.identify_card(timeout=5)
        assert member.offline and member.discount_bp == 9000 and member.points_balance is None
        with pytest.raises(PosError) as refused:
            core.quote(amount, redeem=10)
        assert "离线状态不能使用积分抵扣" in str(refused.value)
        quote = core.quote(amount)
        outcome = core.commit(amount)
        assert outcome.status == "offline" and outcome.pending == len(receipts) + 1
        core.print_receipt()
        receipts.append(quote)
        numbers.append(outcome.receipt.receipt_no)
    with pytest.raises(PosError) as over_cap:
        core.identify_card(timeout=5)
        core.quote(60_000)
    assert "离线单笔金额不能超过 500.00 元" in str(over_cap.value)
    wait_until(lambda: len(printer.jobs) == 2)
    text, _ = printed_text_and_qr(printer.jobs[1])
    assert "离线交易 待上传" in text and "123.45" in text and "-12.34" in text and "111.11" in text
    # an offline receipt has its number (the terminal's alliance-wide prefix), kept after upload
    assert numbers[1] != numbers[0] and numbers[1] in text and "离线" not in numbers[1]

    front.start()
    result = core.sync()
    assert result.remaining == 0 and len(result.sent) == 2
    sales = _sales(app)
    assert [(s.amount_fen, s.discount_fen, s.payable_fen, s.offline) for s in sales] == [
        (q.amount_fen, q.discount_fen, q.payable_fen, True) for q in receipts
    ]
    assert [s.receipt_no for s in sales] == numbers


def test_card_pulled_during_the_write_back_keeps_the_sale_and_says_so(app, till):
    core, card, _, _, vpcd = till
    vpcd.insert(card)
    vpcd.pull_card_when(lambda apdu: apdu[:2] == WRITE_APDU)
    member = core.identify_card(timeout=5)
    assert member.card_written is False and member.notice == "card_write_failed"
    core.quote(1_000)
    outcome = core.commit(1_000)
    assert outcome.status == "approved"
    assert len(_sales(app)) == 1


def test_card_pulled_while_reading_asks_to_tap_again(app, till):
    core, card, _, _, vpcd = till
    vpcd.insert(card)
    vpcd.pull_card_when(lambda apdu: apdu[:2] == bytes.fromhex("FFB0"))
    with pytest.raises(PosError) as pulled:
        core.identify_card(timeout=5)
    assert "请重新刷卡" in str(pulled.value)
    assert core.outbox.pending_count() == 0 and _sales(app) == []


def test_an_unplugged_reader_gives_a_clear_message(app, till, pcscd):
    core = till[0]
    with pytest.raises(NoReaderFound) as unplugged:
        PcscCardReader("No Such Reader")
    assert "Check the reader's cable" in str(unplugged.value)
    core.reader = None
    with pytest.raises(PosError) as missing:
        core.identify_card(timeout=1)
    assert str(missing.value).startswith("读卡器故障")


def test_the_cashier_window_sells_with_a_card_tap(app, till):
    import gc
    import tkinter as tk

    from pos_client.gui.app import CashierWindow
    from tests.pos.pos_helpers import xvfb_display

    core, card, _, printer, vpcd = till
    xvfb_display()
    root = tk.Tk()
    window = CashierWindow(root, core)

    def pump(until):
        def done():
            root.update()
            return until()

        wait_until(done)

    pump(lambda: "在线" in window.status_text.get())
    vpcd.insert(card)
    window.amount_display.event_generate("<KeyPress>", keysym="F2", when="tail")
    pump(lambda: "普通会员" in window.member_text.get())
    assert "9折" in window.member_text.get() and "读卡器: 正常" in window.status_text.get()
    for key in ("2", "0", "0"):
        window.press(key)
    pump(lambda: window.payable_text.get() == "应付 180.00")  # F5 charges the 应付 on screen
    window.amount_display.event_generate("<KeyPress>", keysym="F5", when="tail")
    pump(lambda: "交易成功" in window.message.get())
    wait_until(lambda: len(printer.jobs) == 1)
    text, _ = printed_text_and_qr(printer.jobs[0])
    assert "200.00" in text and "-20.00" in text and "180.00" in text
    root.destroy()
    window = root = None
    gc.collect()
    assert len(_sales(app)) == 1


def test_cli_checkout_with_a_card_online_then_offline_then_sync(app, till, tmp_path):
    import json

    from click.testing import CliRunner

    from pos_client.cli import main

    core, card, front, printer, vpcd = till
    config = core.outbox.path.with_name("config.json")
    run = CliRunner().invoke
    options = ["--config", str(config), "--reader", core.reader.name]
    core.reader.close()
    vpcd.insert(card)
    online = run(main, [*options, "checkout", "--amount", "30.00", "--card", "--json"])
    assert online.exit_code == 0, online.output
    sold = json.loads(online.output)
    assert sold["status"] == "approved" and sold["card_update_written"] is True and sold["payable_fen"] == 2700
    front.stop()
    offline = run(main, [*options, "checkout", "--amount", "30.00", "--card", "--redeem", "5", "--json"])
    assert offline.exit_code == 1 and "离线状态不能使用积分抵扣" in offline.output
    offline = run(main, [*options, "checkout", "--amount", "30.00", "--card", "--json"])
    assert offline.exit_code == 0, offline.output
    queued = json.loads(offline.output)
    assert queued["status"] == "offline" and queued["pending"] == 1 and queued["payable_fen"] == 2700
    status = run(main, [*options, "status"])
    assert "待上传 / waiting to upload: 1" in status.output and status.exit_code == 1
    front.start()
    synced = run(main, [*options, "sync"])
    assert synced.exit_code == 0 and "待上传 / waiting: 0" in synced.output
    assert [(sale.payable_fen, sale.offline) for sale in _sales(app)] == [(2700, False), (2700, True)]
    missing = run(main, ["--config", str(config), "--reader", "No Such Reader", "checkout", "--amount", "1", "--card"])
    assert missing.exit_code == 1 and "读卡器故障" in missing.output
