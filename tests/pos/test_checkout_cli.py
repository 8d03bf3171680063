"""`alliance-pos checkout/refund/reprint/shift close/sync` against a real server, printing to a TCP printer."""

from __future__ import annotations

import json

import pytest
import segno
from click.testing import CliRunner
from PIL import Image

from pos_client.cli import main
from pos_client.money import AmountError, parse_amount
from server.services import catalog
from tests.builders import ACTOR, make_member, make_world
from tests.live_server import live_server
from tests.pos.pos_helpers import TcpPrinter, decode_qr_image, printed_text_and_qr, wait_until, write_config


@pytest.fixture
def shop(app, tmp_path):
    """Shop A (normal members pay 95%) with a member holding 1000 points, a TCP printer and a config."""
    with app.app_context():
        world = make_world()
        catalog.set_level_discount(ACTOR, world.shop_a.merchant.id, world.levels["normal"].id, 9500)
        member, card = make_member(points=1000, name="王小明")
        card_no, token = card.card_no, world.shop_a.token
    printer = TcpPrinter()
    with live_server(app) as url:
        config = write_config(tmp_path, url, token, printer=printer.spec)
        yield {"url": url, "config": config, "card_no": card_no, "printer": printer, "member_id": member.id}
    printer.close()


def pos(config, *args):
    result = CliRunner().invoke(main, ["--config", str(config), *args])
    return result


def test_parse_amount_is_exact_in_fen():
    assert parse_amount("128.00") == 12800
    assert parse_amount(" ¥0.1 ") == 10
    assert parse_amount("19.99") == 1999
    assert parse_amount("１２８．５０") == parse_amount("￥128.5") == 12850 and parse_amount("128.") == 12800
    for bad in ("", "abc", "1.234", "-5", "0", "0.00", "1e3"):
        with pytest.raises(AmountError):
            parse_amount(bad)


def test_card_number_sale_prints_merchant_amount_discount_points_receipt_no_and_qr(shop):
    result = pos(shop["config"], "checkout", "--amount", "128.00", "--code", shop["card_no"], "--json")
    assert result.exit_code == 0, result.output
    outcome = json.loads(result.output)
    assert outcome["status"] == "approved" and outcome["pending"] == 0
    assert (outcome["amount_fen"], outcome["discount_fen"], outcome["payable_fen"]) == (12800, 640, 12160)
    sale = outcome["sale"]
    wait_until(lambda: len(shop["printer"].jobs) == 1)
    text, qr = printed_text_and_qr(shop["printer"].jobs[0])
    assert "甲店" in text and "128.00" in text and "-6.40" in text and "121.60" in text
    assert sale["receipt_no"] in text and f"+{sale['points_earned']}" in text and "王*明" in text
    assert str(sale["points_balance"]) in text
    assert decode_qr_image(qr[0]) == f"{shop['url']}/m/sales/{sale['id']}"


def test_code_decoded_from_a_picture_of_the_card_sells_to_its_member(shop, tmp_path):
    picture = tmp_path / "card.png"
    segno.make_qr(shop["card_no"]).save(picture, scale=8)
    result = pos(shop["config"], "checkout", "--amount", "10", "--code-image", str(picture), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["sale"]["amount_fen"] == 1_000

    blank = tmp_path / "blank.png"
    Image.new("L", (64, 64), 255).save(blank)
    refused = pos(shop["config"], "checkout", "--amount", "10", "--code-image", str(blank))
    assert refused.exit_code == 1 and "错误：没有识别到二维码或条码" in refused.output
    both = pos(shop["config"], "checkout", "--amount", "10", "--code-image", str(picture), "--code", shop["card_no"])
    assert both.exit_code == 2 and "请只给出 --card、--code、--phone、--code-image、--camera 中的一个" in both.output


def test_redeem_max_then_refund_part_reprint_and_shift_report(shop):
    first = json.loads(
        pos(shop["config"], "checkout", "--amount", "50", "--code", shop["card_no"], "--redeem-max", "--json").output
    )
    assert first["redeem_points"] > 0 and first["payable_fen"] == 4750 - first["redeem_points"]
    receipt_no = first["receipt_no"]
    refunded = pos(shop["config"], "refund", receipt_no, "--amount", "10.00", "--reason", "退一件")
    assert refunded.exit_code == 0, refunded.output
    assert "10.00" in refunded.output
    too_much = pos(shop["config"], "refund", receipt_no, "--amount", "1000", "--reason", "x")
    assert too_much.exit_code == 1 and "退款金额超过可退金额" in too_much.output
    missing = pos(shop["config"], "refund", "NOPE-1")
    assert missing.exit_code == 1 and "找不到小票号" in missing.output
    reprinted = pos(shop["config"], "reprint")
    assert reprinted.exit_code == 0 and receipt_no in reprinted.output
    closed = pos(shop["config"], "shift", "close", "--json")
    assert closed.exit_code == 0, closed.output
    totals = json.loads(closed.output)
    assert totals["sales"] == 1 and totals["refunds"] == 1 and totals["refunded_fen"] == 1000
    assert totals["payable_fen"] == first["payable_fen"] and totals["pending"] == 0
    wait_until(lambda: len(shop["printer"].jobs) == 4)  # sale, refund, reprint, shift report
    texts = [printed_text_and_qr(job)[0] for job in shop["printer"].jobs]
    assert "退款凭证" in texts[1] and "10.00" in texts[1] and "扣回积分" in texts[1] and "退回积分" in texts[1]
    assert receipt_no in texts[1] and receipt_no in texts[2]
    assert "交班单" in texts[3] and "退款金额" in texts[3] and "-10.00" in texts[3]
    again = json.loads(pos(shop["config"], "shift", "close", "--json").output)
    assert again["shift_no"] == totals["shift_no"] + 1 and again["sales"] == 0


def test_printer_offline_keeps_the_sale_and_reprint_works_later(shop, tmp_path):
    shop["printer"].close()
    result = pos(shop["config"], "checkout", "--amount", "20", "--code", shop["card_no"], "--json")
    assert result.exit_code == 3
    outcome = json.loads(result.output.splitlines()[0])
    assert outcome["status"] == "approved" and outcome["printed"] is False
    assert "交易已完成，但打印机无法打印" in outcome["print_error"]
    printer = TcpPrinter()
    reprinted = pos(shop["config"], "--printer", printer.spec, "reprint")
    assert reprinted.exit_code == 0, reprinted.output
    wait_until(lambda: len(printer.jobs) == 1)
    assert outcome["receipt_no"] in printed_text_and_qr(printer.jobs[0])[0]
    printer.close()


def test_offline_code_and_phone_are_refused_with_a_clear_message(tmp_path, app):
    with app.app_context():
        token = make_world().shop_a.token
    with live_server(app) as url:
        config = write_config(tmp_path, url, token)
        assert pos(config, "status").exit_code == 0  # caches nothing yet: status only reads
    result = pos(config, "checkout", "--amount", "10", "--phone", "13800138000")
    assert result.exit_code == 1 and "离线状态只能刷实体会员卡" in result.output
    bad = pos(config, "checkout", "--amount", "12.345", "--code", "1")
    assert bad.exit_code == 2 and "金额最多两位小数" in bad.output


def test_shift_close_with_the_printer_off_keeps_the_shift_open(shop):
    assert pos(shop["config"], "checkout", "--amount", "5", "--code", shop["card_no"]).exit_code == 0
    shop["printer"].close()
    failed = pos(shop["config"], "shift", "close")
    assert failed.exit_code == 1 and "交班单无法打印" in failed.output and "本班未结束" in failed.output
    printer = TcpPrinter()
    closed = pos(shop["config"], "--printer", printer.spec, "--lang", "en", "shift", "close", "--json")
    assert closed.exit_code == 0, closed.output
    assert json.loads(closed.output)["sales"] == 1
    wait_until(lambda: len(printer.jobs) == 1)
    text = printed_text_and_qr(printer.jobs[0])[0]
    assert "SHIFT REPORT" in text and "Net taken" in text and "5.00" in text
    printer.close()


@pytest.mark.parametrize(
    ("typed", "says"),
    [("12,5", "金额不能含逗号"), ("1.2.5", "金额只能有一个小数点"), ("12.505", "金额最多两位小数"), ("+12", "正负号")],
)
def test_an_ambiguous_amount_is_refused_in_chinese_and_charges_nothing(shop, typed, says):
    # `--amount 12,5` used to charge 125.00 yuan
    result = pos(shop["config"], "checkout", "--amount", typed, "--code", shop["card_no"])
    assert result.exit_code == 2 and says in result.output
    assert "错误：'--amount' 的取值无效" in result.output and "用法：" in result.output
    assert "Error" not in result.output and "Usage" not in result.output
    english = pos(shop["config"], "--lang", "en", "checkout", "--amount", typed, "--code", shop["card_no"])
    assert english.exit_code == 2 and "Error: Invalid value for '--amount'" in english.output
    assert shop["printer"].jobs == []
    assert (
        json.loads(pos(shop["config"], "checkout", "--amount", "12.5", "--code", shop["card_no"], "--json").output)[
            "amount_fen"
        ]
        == 1_250
    )


def test_click_usage_errors_are_chinese(tmp_path):
    config = tmp_path / "config.json"
    missing = pos(config, "checkout", "--code", "1")
    assert missing.exit_code == 2 and "错误：缺少选项 '--amount'" in missing.output
    unknown = pos(config, "checkout", "--amount", "1", "--cod", "1")
    assert unknown.exit_code == 2 and "没有选项 '--cod'" in unknown.output and "是否想输入以下之一" in unknown.output
    assert "Error" not in missing.output + unknown.output and "Usage" not in missing.output + unknown.output
    not_registered = pos(config, "reprint")
    assert not_registered.exit_code == 1 and not_registered.output.startswith("错误：本机尚未登记为收银终端")


def test_other_click_programs_in_the_same_process_keep_their_english(tmp_path):
    import click

    assert "错误" in pos(tmp_path / "config.json", "checkout", "--code", "1").output

    @click.command()
    @click.option("--n", type=int, required=True)
    def other(n):
        """Not the POS."""

    assert "Error: Missing option '--n'" in CliRunner().invoke(other, []).output
