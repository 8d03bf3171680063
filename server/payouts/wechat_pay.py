"""WeChat Pay 商家转账到零钱 (API v3 transfer batches): one batch per payout, signed, answers verified.

Requests (``https://api.mch.weixin.qq.com``, setting ``WECHAT_PAY_BASE_URL``):

- ``POST /v3/transfer/batches`` with ``appid, out_batch_no, batch_name, batch_remark, total_amount,
  total_num, transfer_detail_list[{out_detail_no, transfer_amount (fen), transfer_remark, openid,
  user_name?}]``; answer ``{out_batch_no, batch_id, create_time, batch_status}``;
- ``GET /v3/transfer/batches/out-batch-no/{out_batch_no}/details/out-detail-no/{out_detail_no}``; answer
  ``{detail_status: INIT|WAIT_PAY|PROCESSING|SUCCESS|FAIL, fail_reason, detail_id, ...}``, or 404
  ``NOT_FOUND`` when no such transfer exists.

Errors answer ``{"code", "message"}`` with an HTTP status: ``PARAM_ERROR`` / ``INVALID_REQUEST`` (400) fail
that payout (its money returns to the agent); ``NOT_ENOUGH`` (403, the merchant account lacks funds),
``FREQUENCY_LIMITED`` (429), ``SYSTEM_ERROR`` (500), ``SIGN_ERROR`` / ``NO_AUTH``, no answer, or an answer
whose signature does not verify raise :class:`PayoutUnavailable`: nothing is recorded, the run stops and
the payouts stay approved for the next run.

**Never twice.** Each payout is its own batch ``out_batch_no = "B" + out_detail_no``. Before sending, the
channel asks for the detail: if WeChat knows it (an earlier run sent it and lost the answer) its state
is read, not sent again; WeChat itself answers a repeated ``out_batch_no`` with the existing batch.

**Signing** (WECHATPAY2-SHA256-RSA2048): the message ``METHOD\\nPATH?QUERY\\nTIMESTAMP\\nNONCE\\nBODY\\n`` is
signed with the merchant's API private key (RSA PKCS#1 v1.5, SHA-256, base64) and sent as
``Authorization: WECHATPAY2-SHA256-RSA2048 mchid="…",nonce_str="…",signature="…",timestamp="…",serial_no="…"``.
An answer is verified against the platform public key (setting ``WECHAT_PAY_PLATFORM_PUBLIC_KEY``) over
``TIMESTAMP\\nNONCE\\nBODY\\n`` from the ``Wechatpay-Timestamp``, ``Wechatpay-Nonce`` and ``Wechatpay-Signature``
headers. The payee's real name ``user_name`` (required from 2,000 元, refused under 0.30 元) is encrypted
with the platform key (RSA-OAEP, SHA-1) and the request names the key in ``Wechatpay-Serial``.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from pathlib import Path
from urllib.parse import quote

import requests
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from server.payouts import FAILED, PENDING, SUCCEEDED, PayoutOrder, PayoutResult, PayoutUnavailable

SCHEMA = "WECHATPAY2-SHA256-RSA2048"
FAILS_THE_PAYOUT = {"PARAM_ERROR", "INVALID_REQUEST"}
NAME_REQUIRED_FROM_FEN = 200_000  # 2,000 元
NAME_REFUSED_UNDER_FEN = 30  # 0.30 元
DETAIL_STATES = {"SUCCESS": SUCCEEDED, "FAIL": FAILED}  # INIT, WAIT_PAY, PROCESSING: pending


def _load_key(value: str, private: bool):
    """A PEM key from the setting's text, or from the file it names."""
    data = value.encode() if "-----BEGIN" in value else Path(value).read_bytes()
    if private:
        return serialization.load_pem_private_key(data, password=None)
    if b"CERTIFICATE" in data:
        from cryptography import x509

        return x509.load_pem_x509_certificate(data).public_key()
    return serialization.load_pem_public_key(data)


def sign_message(private_key, message: str) -> str:
    return base64.b64encode(private_key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()


def verify_message(public_key, message: str, signature: str) -> bool:
    try:
        public_key.verify(base64.b64decode(signature), message.encode(), padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


def encrypt_sensitive(public_key, text: str) -> str:
    """A sensitive field as WeChat Pay v3 wants it: RSA-OAEP (SHA-1) under the platform key, base64."""
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)  # noqa: S303
    return base64.b64encode(public_key.encrypt(text.encode(), oaep)).decode()


def authorization(mchid: str, serial_no: str, private_key, method: str, path: str, body: str, **fixed) -> str:
    """The Authorization header of one request (``fixed`` timestamp/nonce only for tests)."""
    timestamp = fixed.get("timestamp") or str(int(time.time()))
    nonce = fixed.get("nonce") or secrets.token_hex(16)
    signature = sign_message(private_key, f"{method}\n{path}\n{timestamp}\n{nonce}\n{body}\n")
    return (
        f'{SCHEMA} mchid="{mchid}",nonce_str="{nonce}",signature="{signature}",'
        f'timestamp="{timestamp}",serial_no="{serial_no}"'
    )


class WeChatPayChannel:
    name = "wechat"

    def __init__(
        self,
        *,
        base_url: str,
        mchid: str,
        appid: str,
        serial_no: str,
        private_key,
        platform_key=None,
        platform_serial: str = "",
        timeout: float = 10.0,
        scene_id: str = "",
    ):
        if not (mchid and appid and serial_no and private_key):
            raise RuntimeError("PAYOUT_CHANNEL=wechat needs WECHAT_PAY_MCHID, _APPID, _SERIAL_NO and _PRIVATE_KEY")
        self.base_url, self.mchid, self.appid, self.serial_no = base_url.rstrip("/"), mchid, appid, serial_no
        self.private_key, self.platform_key, self.platform_serial = private_key, platform_key, platform_serial
        self.timeout, self.scene_id = timeout, scene_id

    @classmethod
    def from_config(cls, config) -> WeChatPayChannel:
        private = config.get("WECHAT_PAY_PRIVATE_KEY", "")
        platform = config.get("WECHAT_PAY_PLATFORM_PUBLIC_KEY", "")
        return cls(
            base_url=config.get("WECHAT_PAY_BASE_URL", "https://api.mch.weixin.qq.com"),
            mchid=config.get("WECHAT_PAY_MCHID", ""),
            appid=config.get("WECHAT_PAY_APPID", ""),
            serial_no=config.get("WECHAT_PAY_SERIAL_NO", ""),
            private_key=_load_key(private, private=True) if private else None,
            platform_key=_load_key(platform, private=False) if platform else None,
            platform_serial=config.get("WECHAT_PAY_PLATFORM_SERIAL", ""),
            timeout=float(config.get("WECHAT_PAY_TIMEOUT_SECONDS", 10)),
            scene_id=config.get("WECHAT_PAY_TRANSFER_SCENE_ID", ""),
        )

    # --- transport ---------------------------------------------------------------------------------

    def _request(self, method: str, path: str, payload: dict | None = None) -> tuple[int, dict]:
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")) if payload is not None else ""
        headers = {
            "Authorization": authorization(self.mchid, self.serial_no, self.private_key, method, path, body),
            "Accept": "application/json",
            "User-Agent": "AllianceCard-payouts",
        }
        if payload is not None:
            headers["Content-Type"] = "application/json"
        if self.platform_serial:
            headers["Wechatpay-Serial"] = self.platform_serial
        try:
            response = requests.request(
                method,
                self.base_url + path,
                data=body.encode() if body else None,
                headers=headers,
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            raise PayoutUnavailable("UNREACHABLE", exc.__class__.__name__) from exc
        self._verify(response)
        try:
            answer = response.json() if response.content else {}
        except ValueError as exc:
            raise PayoutUnavailable("BAD_ANSWER", response.text[:100]) from exc
        return response.status_code, answer

    def _verify(self, response) -> None:
        if self.platform_key is None:
            return
        timestamp = response.headers.get("Wechatpay-Timestamp", "")
        nonce = response.headers.get("Wechatpay-Nonce", "")
        signature = response.headers.get("Wechatpay-Signature", "")
        message = f"{timestamp}\n{nonce}\n{response.text}\n"
        if not (timestamp and signature and verify_message(self.platform_key, message, signature)):
            raise PayoutUnavailable("SIGN_ERROR", "the answer's signature does not verify")

    # --- the channel -------------------------------------------------------------------------------

    @staticmethod
    def batch_no(order: PayoutOrder) -> str:
        return "B" + order.out_detail_no

    def _detail_path(self, order: PayoutOrder) -> str:
        return (
            f"/v3/transfer/batches/out-batch-no/{quote(self.batch_no(order))}"
            f"/details/out-detail-no/{quote(order.out_detail_no)}"
        )

    def _read_detail(self, order: PayoutOrder) -> PayoutResult | None:
        status, answer = self._request("GET", self._detail_path(order))
        if status == 404:
            return None
        if status != 200:
            raise PayoutUnavailable(str(answer.get("code") or status), str(answer.get("message", "")))
        state = answer.get("detail_status", "")
        return PayoutResult(
            order.out_detail_no,
            DETAIL_STATES.get(state, PENDING),
            str(answer.get("fail_reason") or "") if state == "FAIL" else "",
            str(answer.get("detail_id") or ""),
        )

    def _batch(self, order: PayoutOrder) -> dict:
        detail = {
            "out_detail_no": order.out_detail_no,
            "transfer_amount": order.amount_fen,
            "transfer_remark": order.purpose,
            "openid": order.account_number,
        }
        if order.account_name and order.amount_fen >= NAME_REFUSED_UNDER_FEN and self.platform_key is not None:
            detail["user_name"] = encrypt_sensitive(self.platform_key, order.account_name)
        batch = {
            "appid": self.appid,
            "out_batch_no": self.batch_no(order),
            "batch_name": order.purpose,
            "batch_remark": order.purpose,
            "total_amount": order.amount_fen,
            "total_num": 1,
            "transfer_detail_list": [detail],
        }
        if self.scene_id:
            batch["transfer_scene_id"] = self.scene_id
        return batch

    def submit_one(self, order: PayoutOrder) -> PayoutResult:
        known = self._read_detail(order)
        if known is not None:
            return known
        status, answer = self._request("POST", "/v3/transfer/batches", self._batch(order))
        code = str(answer.get("code") or "")
        if status == 200:
            return self._read_detail(order) or PayoutResult(
                order.out_detail_no, PENDING, "", str(answer.get("batch_id", ""))
            )
        if code in FAILS_THE_PAYOUT:
            return PayoutResult(order.out_detail_no, FAILED, f"{code}: {answer.get('message', '')}"[:200])
        raise PayoutUnavailable(code or f"HTTP_{status}", str(answer.get("message", "")))

    def submit(self, orders: list[PayoutOrder]) -> list[PayoutResult]:
        """Each order in turn; a channel-wide refusal (PayoutUnavailable) stops the run after the ones done.

        The results so far are attached to the exception as ``done`` so the caller can record them."""
        results: list[PayoutResult] = []
        for order in orders:
            try:
                results.append(self.submit_one(order))
            except PayoutUnavailable as exc:
                exc.done = results  # type: ignore[attr-defined]
                raise
        return results
