"""`alliance-pos identify` lists the member's vouchers; `checkout --voucher-id / --voucher` redeems one (the receipt
printed with its line); `refund` says the voucher came back. Against a real server, printing to a TCP printer."""

from __future__ import annotations

import json

from click.testing import CliRunner

from pos_client.cli import main
from server.services import benefit_stock, catalog
from tests.benefits.helpers import vouchers
from tests.builders import ACTOR, make_member, make_world
from tests.live_server import live_server
from tests.pos.pos_helpers import TcpPrinter, printed_text_and_qr, wait_until, write_config


def pos(config, *args):
    return CliRunner().invoke(main, ["--config", str(config), *args])


def test_the_command_line_lists_redeems_and_restores_vouchers(app, tmp_path):
    with app.app_context():
        world = make_world()
        catalog.set_level_discount(ACTOR, world.shop_a.merchant.id, world.levels["normal"].id, 9500)
        member, card = make_member(name="王小明")
        sku = vouchers("CLI-10", quantity=2)
        code_ids = benefit_stock.allocate(sku.id, member_id=member.id, count=2)
        code = benefit_stock.reveal_for_member(member.id, code_ids[1])["code"]
        card_no, token = card.card_no, world.shop_a.token
    printer = TcpPrinter()
    with live_server(app) as url:
        config = write_config(tmp_path, url, token, printer=printer.spec)
        listed = pos(config, "identify", "--code", card_no)
        assert listed.exit_code == 0, listed.output
        assert listed.output.count("满100减10-CLI-10") == 2 and "尾号" in listed.output
        found = json.loads(pos(config, "identify", "--code", card_no, "--json").output)["vouchers"]
        by_id = next(voucher for voucher in found if not code.endswith(voucher["code_last4"]))

        both = pos(config, "checkout", "--amount", "200", "--code", card_no, "--voucher", code, "--voucher-id", "x")
        assert both.exit_code == 2 and "只能选一个" in both.output

        sold = pos(config, "checkout", "--amount", "200", "--code", card_no, "--voucher-id", by_id["id"], "--json")
        assert sold.exit_code == 0, sold.output
        outcome = json.loads(sold.output)
        assert outcome["voucher_fen"] == 1_000 and outcome["voucher"]["code_last4"] == by_id["code_last4"]
        assert outcome["payable_fen"] == 19_000 - 1_000
        wait_until(lambda: len(printer.jobs) == 1)
        assert f"券抵扣 尾号{by_id['code_last4']}" in printed_text_and_qr(printer.jobs[0])[0]

        scanned = pos(config, "checkout", "--amount", "120", "--code", card_no, "--voucher", code.lower())
        assert scanned.exit_code == 0, scanned.output
        assert f"券抵扣 满100减10-CLI-10 尾号{code[-4:]} -10.00" in scanned.output
        again = pos(config, "checkout", "--amount", "120", "--code", card_no, "--voucher", code)
        assert again.exit_code != 0 and "该券不可用" in again.output

        refunded = pos(config, "refund", outcome["sale"]["receipt_no"], "--reason", "退货")
        assert refunded.exit_code == 0, refunded.output
        assert "优惠券已退回会员" in refunded.output
    printer.close()
