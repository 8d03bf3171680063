"""Third-party 卡密 used with their supplier: marked by the member who holds one, or by the supplier's signed
callback, which answers ``unknown`` for every code it may not mark."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import select

from server.domain.benefit_channels import partner_signature
from server.domain.errors import NotFound, PartnerSignatureInvalid
from server.extensions import db
from server.models import BenefitCode, WebhookEvent
from server.services import benefit_grants, benefit_imports, members, third_party_redemptions, webhooks
from tests.benefits.helpers import MANAGER, csv_file, third_party, vouchers
from tests.builders import ACTOR, make_member, make_world

PATH = "/api/v1/partner/benefit-redemptions"


def _held_codes(count: int):
    """``count`` members holding a video code each (VIDEO0000000i; the first member is returned), and a
    supplier partner for that SKU."""
    make_world()
    sku, _, purchase = third_party(quantity=count)
    rows = [(f"VIDEO0000000{i}", f"PASS-{i}", "") for i in range(1, count + 1)]
    benefit_imports.import_file(MANAGER, purchase.id, csv_file(rows), "v.csv")
    holders = [make_member(with_card=False)[0] for _ in range(count)]  # one code each: every code issued
    phones = [members.reveal_phone(ACTOR, holder.id) for holder in holders]
    benefit_grants.grant_batch(MANAGER, sku.id, "vip.csv", ("\n".join(phones) + "\n").encode())
    partner, secret = benefit_grants.create_partner(MANAGER, "视频供应商", [sku.id])
    webhooks.create_subscription(ACTOR, "ERP", "https://erp.example.com/hook", ["benefit.redeemed"])
    return sku, holders[0], partner, secret


def _report(partner, secret, codes: list[str], nonce: str) -> dict:
    raw = json.dumps({"codes": codes}).encode()
    stamp = str(int(time.time()))
    headers = {
        "key_id": partner.key_id,
        "timestamp": stamp,
        "nonce": nonce,
        "signature": partner_signature(secret, "POST", PATH, stamp, nonce, raw),
    }
    return third_party_redemptions.supplier_callback(headers, "POST", PATH, raw, codes)


def _status(code_text: str) -> str:
    return db.session.scalar(select(BenefitCode.status).where(BenefitCode.last4 == code_text[-4:]))


def test_the_supplier_marks_its_issued_codes_once_and_learns_nothing_of_others(ctx):
    _, _, partner, secret = _held_codes(2)
    first = _report(partner, secret, ["VIDEO00000001", "NO-SUCH-CODE", "VIDEO00000001"], "nonce-0000001")
    assert first["results"] == [
        {"code_last4": "0001", "outcome": "redeemed"},
        {"code_last4": "CODE", "outcome": "unknown"},
        {"code_last4": "0001", "outcome": "redeemed"},  # sent twice: the same answer, marked once
    ]
    assert _status("VIDEO00000001") == "redeemed" and _status("VIDEO00000002") == "issued"
    again = _report(partner, secret, ["VIDEO00000001"], "nonce-0000002")  # the report sent again
    assert again["results"] == [{"code_last4": "0001", "outcome": "redeemed"}]
    redeemed = db.session.scalars(select(WebhookEvent).where(WebhookEvent.event_type == "benefit.redeemed")).all()
    assert len(redeemed) == 1 and redeemed[0].payload["channel"] == "supplier"
    with pytest.raises(PartnerSignatureInvalid):  # a replayed nonce
        _report(partner, secret, ["VIDEO00000002"], "nonce-0000002")
    with pytest.raises(PartnerSignatureInvalid):
        _report(partner, "wrong-secret", ["VIDEO00000002"], "nonce-0000003")
    assert _status("VIDEO00000002") == "issued"


def test_a_member_marks_only_their_own_third_party_codes(ctx):
    _, member, _, _ = _held_codes(1)
    code = db.session.scalar(select(BenefitCode).where(BenefitCode.member_id == member.id))
    other, _ = make_member(with_card=False)
    with pytest.raises(NotFound):
        third_party_redemptions.mark_used_by_member(other.id, code.id)
    third_party_redemptions.mark_used_by_member(member.id, code.id)
    third_party_redemptions.mark_used_by_member(member.id, code.id)  # twice: still used once
    assert _status("VIDEO00000001") == "redeemed"
    assert len(db.session.scalars(select(WebhookEvent).where(WebhookEvent.event_type == "benefit.redeemed")).all()) == 1
    voucher_sku = vouchers("TILL-ONLY", quantity=1)
    benefit_grants.grant_batch(MANAGER, voucher_sku.id, "v.csv", f"{members.reveal_phone(ACTOR, member.id)}\n".encode())
    voucher = db.session.scalar(select(BenefitCode).where(BenefitCode.sku_id == voucher_sku.id))
    with pytest.raises(NotFound):  # an alliance voucher is used at a till, never marked by hand
        third_party_redemptions.mark_used_by_member(member.id, voucher.id)
