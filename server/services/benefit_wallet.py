"""The member's benefit wallet (/m/benefits): what I hold, where I can use it, when it expires, and the code.

Codes are listed masked; the full code (and a third party's secret) is opened one at a time on the member's tap
by ``benefit_stock.reveal_for_member`` (audited). An alliance voucher is shown as a QR code of its code (segno,
SVG) with the code's text, which the till scans or types; a voucher worth the alliance's threshold only as a
one-time dynamic code refreshed every 30 seconds (``voucher_lookup``), so a screenshot passed on is worthless.
"Where": the active merchants that accept the SKU in
the member's city (the first four digits of their home region, ``benefit_grants.member_region_code``), else
anywhere.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date

import segno
from sqlalchemy import select

from server.domain import voucher_codes
from server.domain.statuses import VOUCHER_KINDS, BenefitCodeStatus, MerchantStatus
from server.extensions import db
from server.models import BenefitCode, BenefitSku, Member, Merchant
from server.services import benefit_grants, benefit_stock, voucher_lookup
from server.services.benefit_catalog import sku_accepted_at
from server.services.points import alliance_today

SHOWN_MERCHANTS = 5
S = BenefitCodeStatus


@dataclass
class WalletItem:
    """One code the member holds (or held)."""

    id: str
    sku: BenefitSku
    masked: str
    status: str
    expires_on: date | None
    days_left: int | None
    is_voucher: bool
    merchants: list[Merchant] = field(default_factory=list)
    merchant_count: int = 0
    dynamic: bool = False  # shown only as a one-time code (server/services/voucher_lookup.py)


def _city(code: str | None) -> str | None:
    return code[:4] if code and len(code) == 6 else None


def _accepting(sku: BenefitSku, merchants: list[Merchant], city: str | None) -> list[Merchant]:
    here = [m for m in merchants if sku_accepted_at(sku, m) and (city is None or _city(m.region_code) == city)]
    if not here and city is not None:  # none in my city: anywhere it is accepted
        here = [m for m in merchants if sku_accepted_at(sku, m)]
    return here


def wallet(member_id: str) -> dict:
    """The member's codes: ``held`` (usable, soonest expiry first) and ``past`` (used or expired, latest 20)."""
    member = db.session.get(Member, member_id)
    today = alliance_today()
    city = _city(benefit_grants.member_region_code(member))
    merchants = list(
        db.session.scalars(select(Merchant).where(Merchant.status == MerchantStatus.ACTIVE).order_by(Merchant.name))
    )
    rows = db.session.execute(
        select(BenefitCode, BenefitSku)
        .join(BenefitSku, BenefitSku.id == BenefitCode.sku_id)
        .where(BenefitCode.member_id == member_id)
        .order_by(BenefitCode.expires_on.asc().nulls_last(), BenefitCode.issued_at.desc())
    ).all()
    held, past, accepting = [], [], {}
    for code, sku in rows:
        usable = code.status == S.ISSUED and (code.expires_on is None or code.expires_on >= today)
        item = WalletItem(
            id=code.id,
            sku=sku,
            masked=benefit_stock.masked(code.last4),
            status=code.status if usable or code.status != S.ISSUED else S.EXPIRED,
            expires_on=code.expires_on,
            days_left=(code.expires_on - today).days if code.expires_on else None,
            is_voucher=sku.kind in VOUCHER_KINDS,
            dynamic=voucher_lookup.is_dynamic(sku),
        )
        if usable and item.is_voucher:  # a third party's code is used with the third party, not at a till
            if sku.id not in accepting:
                accepting[sku.id] = _accepting(sku, merchants, city)
            item.merchants = accepting[sku.id][:SHOWN_MERCHANTS]
            item.merchant_count = len(accepting[sku.id])
        if usable:
            held.append(item)
        elif code.status in (S.REDEEMED, S.EXPIRED, S.ISSUED) and len(past) < 20:
            past.append(item)
    return {"held": held, "past": past, "city": city}


def voucher_qr_svg(code: str) -> str:
    """The QR code of a voucher's code as inline SVG (segno, error correction M)."""
    out = io.BytesIO()
    segno.make(voucher_codes.normalize(code), error="m", micro=False).save(
        out, kind="svg", scale=6, border=2, xmldecl=False, svgns=True
    )
    return out.getvalue().decode()


def reveal(member_id: str, code_id: str) -> dict:
    """The code in full for its holder (audited by ``reveal_for_member``), with a QR code for a voucher; a dynamic
    voucher's printed code is never shown (the till refuses it): its one-time code is (``voucher_lookup``)."""
    sku = db.session.scalar(
        select(BenefitSku).join(BenefitCode, BenefitCode.sku_id == BenefitSku.id).where(BenefitCode.id == code_id)
    )
    if sku is not None and voucher_lookup.is_dynamic(sku):
        return dynamic_code(member_id, code_id)
    opened = benefit_stock.reveal_for_member(member_id, code_id)
    sku_kind = db.session.scalar(
        select(BenefitSku.kind).join(BenefitCode, BenefitCode.sku_id == BenefitSku.id).where(BenefitCode.id == code_id)
    )
    is_voucher = sku_kind in VOUCHER_KINDS
    return {
        "id": opened["id"],
        "code": opened["code"],
        "secret": "" if is_voucher else (opened["secret"] or ""),
        "is_voucher": is_voucher,
        "qr_svg": voucher_qr_svg(opened["code"]) if is_voucher else "",
    }


def dynamic_code(member_id: str, code_id: str) -> dict:
    """A dynamic voucher's current one-time code for its holder, with its QR code and when to fetch the next."""
    shown = voucher_lookup.current_code(member_id, code_id)
    return {**shown, "secret": "", "is_voucher": True, "dynamic": True}
