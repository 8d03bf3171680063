"""Finding the voucher behind a code a till scanned or typed: a printed code, or a dynamic one-time code.

A voucher worth at least the alliance's ``dynamic_voucher_min_fen`` (its face value, or a percent voucher's
cap: ``server/domain/dynamic_vouchers.py``) is shown in the member's wallet only as a one-time dynamic code, the
member code's scheme: a key per voucher (a random 7-digit index and seed, ``dynamic_voucher_keys``, made the
first time the wallet shows it), the TOTP secret derived from a server key and never stored, a new code every
30 seconds. A till accepts a dynamic code within one step of the server's clock and once (the pair voucher and
step is recorded, ``dynamic_voucher_uses``, in the caller's transaction): a screenshot passed on, or the same
code scanned again, finds nothing; so does the printed code of a dynamic voucher. ``resolve_till_voucher_code``
is what the sale's voucher step calls; it says only which voucher a code names (whether it can be redeemed
here and now is the redemption's business), and None for every code that names none.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import os
import secrets
from datetime import datetime

import segno
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from server.domain import dynamic_vouchers
from server.domain.errors import NotFound
from server.domain.member_codes import INDEX_DIGITS, TIME_STEP_SECONDS, time_step
from server.domain.statuses import VOUCHER_KINDS, BenefitCodeStatus
from server.extensions import db
from server.models import BenefitCode, BenefitSku, DynamicVoucherKey, DynamicVoucherUse
from server.services import benefit_stock, member_codes
from server.services.alliance import current_settings
from server.services.points import alliance_today
from server.services.unit_of_work import transactional

MAX_CODE_LENGTH = 200


def _master_key() -> bytes:
    # derived from a server key, never stored: a database dump alone mints no voucher codes
    keys = current_app.extensions["alliance_keys"]
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"dynamic voucher code secret").derive(
        keys.pii_hash
    )


def _secret(key: DynamicVoucherKey) -> bytes:
    return hmac.new(_master_key(), key.code_id.encode() + key.secret_seed, hashlib.sha256).digest()


def is_dynamic(sku: BenefitSku) -> bool:
    """Whether the alliance shows this SKU's vouchers only as one-time dynamic codes."""
    return dynamic_vouchers.is_dynamic_voucher(
        sku.kind in VOUCHER_KINDS, sku.face_value_fen, sku.cap_fen, current_settings().dynamic_voucher_min_fen
    )


def _moment(now: datetime | None) -> float:
    return now.timestamp() if now is not None else member_codes.now()


def _key_for(code_id: str) -> DynamicVoucherKey:
    key = db.session.get(DynamicVoucherKey, code_id)
    if key is not None:
        return key
    for _ in range(20):
        index = secrets.randbelow(10**INDEX_DIGITS)
        if db.session.scalar(select(DynamicVoucherKey.code_id).where(DynamicVoucherKey.code_index == index)) is None:
            key = DynamicVoucherKey(code_id=code_id, code_index=index, secret_seed=os.urandom(32))
            db.session.add(key)
            db.session.flush()
            return key
    raise RuntimeError("no free dynamic voucher index found; the index space is nearly full")


def _qr_svg(text: str) -> str:
    out = io.BytesIO()
    segno.make(text, error="m", micro=False).save(out, kind="svg", scale=6, border=2, xmldecl=False, svgns=True)
    return out.getvalue().decode()


@transactional
def current_code(member_id: str, code_id: str, now: datetime | None = None) -> dict:
    """The one-time code the holder's wallet shows now for a dynamic voucher: text, QR (SVG), seconds left."""
    row = db.session.get(BenefitCode, code_id)
    if row is None or row.member_id != member_id or row.status != BenefitCodeStatus.ISSUED:
        raise NotFound("No such code.")
    if row.expires_on is not None and row.expires_on < alliance_today():
        raise NotFound("No such code.")
    if not is_dynamic(db.session.get(BenefitSku, row.sku_id)):
        raise NotFound("No such code.")
    key = _key_for(row.id)
    moment = _moment(now)
    text = dynamic_vouchers.voucher_code(key.code_index, _secret(key), time_step(moment))
    return {
        "id": row.id,
        "code": dynamic_vouchers.display(text),
        "qr_svg": _qr_svg(text),
        "refresh_seconds": TIME_STEP_SECONDS - int(moment % TIME_STEP_SECONDS),
    }


def _dynamic(parsed: dynamic_vouchers.ParsedVoucherCode, moment: float, consume: bool) -> BenefitCode | None:
    key = db.session.scalar(select(DynamicVoucherKey).where(DynamicVoucherKey.code_index == parsed.index))
    if key is None:
        return None
    verdict, step = dynamic_vouchers.verify(_secret(key), parsed.otp, time_step(moment))
    if verdict != "valid":  # expired or made up: the same answer
        return None
    if not consume:  # a quote: the code must not have been used, and stays unused
        used = db.session.get(DynamicVoucherUse, (key.code_id, step))
        return None if used is not None else db.session.get(BenefitCode, key.code_id)
    try:
        with db.session.begin_nested():  # the unique pair decides between two tills presenting it at once
            db.session.add(DynamicVoucherUse(code_id=key.code_id, time_step=step))
    except IntegrityError:
        return None
    return db.session.get(BenefitCode, key.code_id)


def resolve_till_voucher_code(text: str, now: datetime | None = None, *, consume: bool = True) -> BenefitCode | None:
    """The voucher a scanned or typed code names, or None (unknown, a dynamic code expired or used before, the
    printed code of a dynamic voucher). A dynamic code is used up here (the caller's transaction): resolve it
    once per sale, inside the sale; a quote passes ``consume=False`` (checked, left unused). Flushes only."""
    if not text or len(text) > MAX_CODE_LENGTH:
        return None
    parsed = dynamic_vouchers.parse(text)
    if parsed is not None:
        return _dynamic(parsed, _moment(now), consume)
    row = benefit_stock.find_code(text)
    if row is None or is_dynamic(db.session.get(BenefitSku, row.sku_id)):
        return None
    return row
