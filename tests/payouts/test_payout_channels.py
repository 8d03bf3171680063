"""The payout channels on their own: the bank file's shape, WeChat Pay against its local stand-in."""

from __future__ import annotations

import csv
import io

import pytest

from server.payouts import FAILED, PENDING, SUCCEEDED, PayoutOrder, PayoutUnavailable, channel_named
from server.payouts.bank_file import BankFileChannel, read_result_file
from server.payouts.wechat_pay import WeChatPayChannel, authorization, verify_message
from tests.wechat_pay_stand_in import new_key, wechat_pay_stand_in


def order(ref: str, fen: int, openid: str = "o-happy1", name: str = "张三") -> PayoutOrder:
    return PayoutOrder(ref, fen, name, openid, "中国工商银行", "佣金提现")


def test_bank_file_has_the_bank_columns_yuan_from_fen_and_a_total_row():
    channel = BankFileChannel()
    results = channel.submit(
        [
            PayoutOrder("W000001", 12_800, "张三", "6222020200112233445", "中国工商银行"),
            order("W000002", 5, name="=cmd"),
        ]
    )
    assert [r.status for r in results] == [PENDING, PENDING]
    rows = list(csv.reader(io.StringIO(channel.last_file.decode("gbk"))))
    assert rows[0] == ["序号", "收款人户名", "收款人账号", "收款银行", "金额(元)", "用途", "我方流水号"]
    assert rows[1] == ["1", "张三", "6222020200112233445", "中国工商银行", "128.00", "佣金提现", "W000001"]
    assert rows[2][1] == "'=cmd" and rows[2][4] == "0.05"
    assert rows[3] == ["合计", "2", "", "", "128.05", "", ""]
    assert channel.last_file.endswith(b"\r\n")


def test_bank_result_file_reads_success_and_failure():
    results = read_result_file("我方流水号,状态,失败原因\nW1,成功,\nW2,失败,户名不符\n")
    assert [(r.out_detail_no, r.status, r.fail_reason) for r in results] == [
        ("W1", SUCCEEDED, ""),
        ("W2", FAILED, "户名不符"),
    ]
    with pytest.raises(ValueError):
        read_result_file("W3,处理中,\n")


def test_authorization_is_signed_as_wechat_pay_v3_specifies():
    key = new_key()
    header = authorization(
        "1900000109", "SERIAL1", key, "GET", "/v3/x?a=1", "", timestamp="1554208460", nonce="593BEC0C"
    )
    assert header.startswith('WECHATPAY2-SHA256-RSA2048 mchid="1900000109",nonce_str="593BEC0C",signature="')
    signature = header.split('signature="')[1].split('"')[0]
    assert verify_message(key.public_key(), "GET\n/v3/x?a=1\n1554208460\n593BEC0C\n\n", signature)
    assert not verify_message(key.public_key(), "GET\n/v3/x?a=2\n1554208460\n593BEC0C\n\n", signature)


def test_wechat_pays_once_reports_fail_reasons_and_pending():
    with wechat_pay_stand_in() as (_, state, config):
        channel = channel_named("wechat", config)
        orders = [order("W1", 10_000), order("W2", 300_000), order("W3", 500, "o-frozen1"), order("W4", 700, "o-slow1")]
        results = channel.submit(orders)
        assert [(r.status, r.fail_reason) for r in results] == [
            (SUCCEEDED, ""),
            (SUCCEEDED, ""),
            (FAILED, "ACCOUNT_FROZEN"),
            (PENDING, ""),
        ]
        assert state.names == ["张三", "张三", "张三", "张三"]  # user_name encrypted and readable by WeChat only
        assert state.paid_fen == 310_000
        # a second run reads the state and never pays again; the slow one finishes meanwhile
        state.finish("W4")
        again = channel.submit(orders)
        assert [r.status for r in again] == [SUCCEEDED, SUCCEEDED, FAILED, SUCCEEDED]
        assert state.paid_fen == 310_700
        assert sum(1 for seen in state.seen if seen[0] == "POST") == 4


def test_wechat_failure_codes():
    with wechat_pay_stand_in() as (_, state, config):
        channel = channel_named("wechat", config)
        for code in ("FREQUENCY_LIMITED", "SYSTEM_ERROR"):
            state.fail_next = [code]
            with pytest.raises(PayoutUnavailable) as refused:
                channel.submit([order("W1", 1_000)])
            assert refused.value.code == code and refused.value.done == []
        state.balance_fen = 999
        with pytest.raises(PayoutUnavailable) as refused:
            channel.submit([order("W9", 500), order("W1", 1_000)])
        assert refused.value.code == "NOT_ENOUGH" and [r.status for r in refused.value.done] == [SUCCEEDED]
        state.balance_fen = 10**6
        assert channel.submit([order("W1", 1_000)])[0].status == SUCCEEDED
        # a bad payout fails on its own (PARAM_ERROR): under 0.10 元
        failed = channel.submit([order("W2", 5)])[0]
        assert failed.status == FAILED and failed.fail_reason.startswith("PARAM_ERROR")


def test_wechat_refuses_a_forged_answer_and_a_wrong_key():
    with wechat_pay_stand_in() as (_, state, config):
        wrong = WeChatPayChannel.from_config({**config, "WECHAT_PAY_PLATFORM_PUBLIC_KEY": ""})
        wrong.private_key = new_key()  # not the key WeChat holds for us: SIGN_ERROR
        with pytest.raises(PayoutUnavailable) as refused:
            wrong.submit([order("W1", 1_000)])
        assert refused.value.code == "SIGN_ERROR"
        forged = channel_named("wechat", config)
        forged.platform_key = new_key().public_key()  # answers not signed by the key we trust
        with pytest.raises(PayoutUnavailable) as refused:
            forged.submit([order("W1", 1_000)])
        assert refused.value.code == "SIGN_ERROR"
        assert state.paid_fen == 0


def test_unreachable_wechat_is_unavailable():
    with wechat_pay_stand_in() as (url, _, config):
        pass
    with pytest.raises(PayoutUnavailable) as refused:
        channel_named("wechat", {**config, "WECHAT_PAY_TIMEOUT_SECONDS": 2}).submit([order("W1", 1_000)])
    assert refused.value.code == "UNREACHABLE"
