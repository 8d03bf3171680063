"""A local stand-in for WeChat Pay's transfer batches API v3 (商家转账到零钱), answering as the real service does.

- checks the request's ``Authorization`` (WECHATPAY2-SHA256-RSA2048) against the merchant's public key:
  401 ``SIGN_ERROR`` otherwise;
- ``POST /v3/transfer/batches``: 400 ``PARAM_ERROR`` for a malformed batch (amounts, totals, a missing
  ``user_name`` from 2,000 元), a repeated ``out_batch_no`` answers the existing batch, a known
  ``out_detail_no`` in another batch is 400 ``INVALID_REQUEST``; 403 ``NOT_ENOUGH`` when the merchant's
  balance is short;
- ``GET .../out-batch-no/{b}/details/out-detail-no/{d}``: the detail, or 404 ``NOT_FOUND``;
- ``fail_next``: forced answers for the next requests (``FREQUENCY_LIMITED`` 429, ``SYSTEM_ERROR`` 500, ...);
- openids decide the outcome: ``o-frozen…`` FAIL ``ACCOUNT_FROZEN``, ``o-name…`` FAIL ``NAME_NOT_CORRECT``,
  ``o-slow…`` stays ``PROCESSING``; others SUCCESS;
- every answer is signed with the platform key (``Wechatpay-Signature`` and friends).
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from server.payouts.wechat_pay import sign_message, verify_message
from tests.stand_in import stand_in

STATUS = {
    "PARAM_ERROR": 400,
    "INVALID_REQUEST": 400,
    "SIGN_ERROR": 401,
    "NO_AUTH": 403,
    "NOT_ENOUGH": 403,
    "NOT_FOUND": 404,
    "FREQUENCY_LIMITED": 429,
    "SYSTEM_ERROR": 500,
}
AUTH = re.compile(
    r'^WECHATPAY2-SHA256-RSA2048 mchid="(\w+)",nonce_str="(\w+)",signature="([^"]+)",'
    r'timestamp="(\d+)",serial_no="(\w+)"$'
)


def new_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem(key, private: bool) -> str:
    if private:
        return key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@dataclass
class WeChatPayState:
    merchant_key: object
    platform_key: object
    mchid: str = "1900000109"
    balance_fen: int = 10**9
    batches: dict = field(default_factory=dict)
    details: dict = field(default_factory=dict)  # out_detail_no -> detail
    fail_next: list = field(default_factory=list)  # codes to answer to the next requests
    names: list = field(default_factory=list)  # decrypted user_names seen
    paid_fen: int = 0

    def error(self, code: str, message: str = ""):
        return STATUS[code], {"code": code, "message": message or code}

    def handle(self, method, path, query, body, headers):
        text = body.decode() if body else ""
        full_path = path + ("?" + "&".join(f"{k}={v[0]}" for k, v in query.items()) if query else "")
        match = AUTH.match(headers.get("Authorization", ""))
        if not match or match.group(1) != self.mchid:
            return self.error("SIGN_ERROR", "Authorization 格式错误")
        _, nonce, signature, timestamp, _ = match.groups()
        message = f"{method}\n{full_path}\n{timestamp}\n{nonce}\n{text}\n"
        if not verify_message(self.merchant_key.public_key(), message, signature):
            return self.error("SIGN_ERROR", "签名错误")
        if self.fail_next:
            return self.error(self.fail_next.pop(0))
        if method == "POST" and path == "/v3/transfer/batches":
            return self.create(json.loads(text), headers)
        found = re.match(r"^/v3/transfer/batches/out-batch-no/(\w+)/details/out-detail-no/(\w+)$", path)
        if method == "GET" and found:
            detail = self.details.get(found.group(2))
            if detail is None or detail["out_batch_no"] != found.group(1):
                return self.error("NOT_FOUND", "记录不存在")
            return 200, {k: v for k, v in detail.items() if k != "user_name"}
        return self.error("NOT_FOUND", "no such API")

    def create(self, batch: dict, headers):
        existing = self.batches.get(batch.get("out_batch_no"))
        if existing is not None:
            return 200, existing
        details = batch.get("transfer_detail_list") or []
        if not details or batch.get("total_num") != len(details):
            return self.error("PARAM_ERROR", "total_num 与明细数不符")
        if batch.get("total_amount") != sum(d.get("transfer_amount", 0) for d in details):
            return self.error("PARAM_ERROR", "total_amount 与明细金额不符")
        for detail in details:
            amount = detail.get("transfer_amount")
            if not isinstance(amount, int) or amount < 10:
                return self.error("PARAM_ERROR", "转账金额不能低于0.1元")
            if not re.fullmatch(r"[A-Za-z0-9]{1,32}", str(detail.get("out_detail_no", ""))):
                return self.error("PARAM_ERROR", "out_detail_no 格式错误")
            if amount >= 200_000 and not detail.get("user_name"):
                return self.error("PARAM_ERROR", "转账金额大于等于2000元时必须填写收款用户姓名")
            if detail.get("out_detail_no") in self.details:
                return self.error("INVALID_REQUEST", "商家明细单号已存在")
            if detail.get("user_name"):
                if not headers.get("Wechatpay-Serial"):
                    return self.error("PARAM_ERROR", "缺少 Wechatpay-Serial")
                oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)
                self.names.append(self.platform_key.decrypt(base64.b64decode(detail["user_name"]), oaep).decode())
        if batch["total_amount"] > self.balance_fen:
            return self.error("NOT_ENOUGH", "资金不足")
        batch_id = "1030000071100999991182020050700019480001"[:30] + secrets.token_hex(5)
        answer = {
            "out_batch_no": batch["out_batch_no"],
            "batch_id": batch_id,
            "create_time": "2026-12-06T10:00:00.000+08:00",
            "batch_status": "ACCEPTED",
        }
        self.batches[batch["out_batch_no"]] = answer
        for detail in details:
            openid, state, reason = detail["openid"], "SUCCESS", ""
            if openid.startswith("o-frozen"):
                state, reason = "FAIL", "ACCOUNT_FROZEN"
            elif openid.startswith("o-name"):
                state, reason = "FAIL", "NAME_NOT_CORRECT"
            elif openid.startswith("o-slow"):
                state = "PROCESSING"
            if state == "SUCCESS":
                self.balance_fen -= detail["transfer_amount"]
                self.paid_fen += detail["transfer_amount"]
            self.details[detail["out_detail_no"]] = {
                "mchid": self.mchid,
                "out_batch_no": batch["out_batch_no"],
                "batch_id": batch_id,
                "appid": batch.get("appid"),
                "out_detail_no": detail["out_detail_no"],
                "detail_id": "1040000071100999991182020050700019500" + secrets.token_hex(2),
                "detail_status": state,
                "transfer_amount": detail["transfer_amount"],
                "transfer_remark": detail.get("transfer_remark", ""),
                "fail_reason": reason or None,
                "openid": openid,
                "initiate_time": "2026-12-06T10:00:00.000+08:00",
                "update_time": "2026-12-06T10:00:01.000+08:00",
            }
        return 200, answer

    def finish(self, out_detail_no: str, state: str = "SUCCESS", reason: str = "") -> None:
        """A transfer still processing ends (what WeChat does later)."""
        detail = self.details[out_detail_no]
        detail["detail_status"], detail["fail_reason"] = state, reason or None
        if state == "SUCCESS":
            self.paid_fen += detail["transfer_amount"]


@contextmanager
def wechat_pay_stand_in():
    """Yields (base_url, state, config) — config is what the app needs for PAYOUT_CHANNEL=wechat."""
    state = WeChatPayState(new_key(), new_key())

    def handler(method, path, query, body, headers):
        status, payload = state.handle(method, path, query, body, headers)
        data = json.dumps(payload, ensure_ascii=False).encode()
        timestamp, nonce = str(int(time.time())), secrets.token_hex(16)
        signature = sign_message(state.platform_key, f"{timestamp}\n{nonce}\n{data.decode()}\n")
        return (
            status,
            data,
            {
                "Wechatpay-Timestamp": timestamp,
                "Wechatpay-Nonce": nonce,
                "Wechatpay-Signature": signature,
                "Wechatpay-Serial": "PLATFORM01",
            },
        )

    with stand_in(handler) as (url, seen):
        config = {
            "PAYOUT_CHANNEL": "wechat",
            "WECHAT_PAY_BASE_URL": url,
            "WECHAT_PAY_MCHID": state.mchid,
            "WECHAT_PAY_APPID": "wx8888888888888888",
            "WECHAT_PAY_SERIAL_NO": "MERCHANT01",
            "WECHAT_PAY_PRIVATE_KEY": pem(state.merchant_key, private=True),
            "WECHAT_PAY_PLATFORM_PUBLIC_KEY": pem(state.platform_key, private=False),
            "WECHAT_PAY_PLATFORM_SERIAL": "PLATFORM01",
        }
        state.seen = seen
        yield url, state, config
