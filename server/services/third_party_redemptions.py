"""Third-party 卡密 used outside the alliance's tills: marked redeemed by the member who holds the code (the
wallet's "I have used it") or by the supplier's signed callback (``POST /api/v1/partner/benefit-redemptions``).

A supplier calls with a partner key (``alliance-server benefits partner-create``) whose SKUs are the ones it
supplies: the request is signed and replay-protected like a partner grant (``benefit_grants.verified_partner``).
Each code gets one of two answers, ``redeemed`` (now or already: a callback sent again changes nothing) or
``unknown`` for every code this supplier cannot mark — not in stock, of another SKU, not issued, void — so the
answer says nothing about the alliance's other codes. Either way the transition is one guarded update of an
issued code, and the ``benefit.redeemed`` webhook is written in its transaction.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from server.domain.errors import Conflict, NotFound
from server.domain.statuses import VOUCHER_KINDS
from server.domain.statuses import BenefitCodeStatus as S
from server.extensions import db
from server.models import BenefitCode, BenefitSku
from server.models.base import utcnow
from server.services import benefit_grants, benefit_stock, webhooks
from server.services.audit import audit
from server.services.unit_of_work import transactional

MAX_CODES_PER_CALLBACK = 500


def _mark_redeemed(code: BenefitCode, via: str, now: datetime) -> bool:
    """issued → redeemed, guarded; False when another request moved the code first."""
    moved = db.session.execute(
        update(BenefitCode)
        .where(BenefitCode.id == code.id, BenefitCode.status == S.ISSUED)
        .values(status=S.REDEEMED, redeemed_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if moved != 1:
        return False
    db.session.refresh(code)
    webhooks.emit(
        db.session,
        "benefit.redeemed",
        {
            "benefit_id": code.id,
            "sku_id": code.sku_id,
            "member_id": code.member_id,
            "channel": via,
            "merchant_id": None,
            "sale_id": None,
            "value_fen": None,
            "occurred_at": now.isoformat(),
        },
    )
    return True


@transactional
def mark_used_by_member(member_id: str, code_id: str, now: datetime | None = None) -> None:
    """The member says they used a third-party code of theirs with its supplier (an alliance voucher is used
    at a till, never marked by hand)."""
    now = now or utcnow()
    row = db.session.execute(
        select(BenefitCode, BenefitSku.kind)
        .join(BenefitSku, BenefitSku.id == BenefitCode.sku_id)
        .where(BenefitCode.id == code_id, BenefitCode.member_id == member_id)
    ).first()
    if row is None or row.kind in VOUCHER_KINDS:
        raise NotFound("No such benefit in your wallet.")
    code = row.BenefitCode
    if code.status == S.REDEEMED:
        return
    if code.status != S.ISSUED or not _mark_redeemed(code, "member", now):
        raise Conflict("This benefit can no longer be marked as used.")
    audit(f"member:{member_id}", "benefit_code.member_used", "benefit_code", code.id)


@transactional
def supplier_callback(headers: dict, method: str, path: str, body: bytes, codes: list[str], now=None) -> dict:
    """A supplier's signed report of codes its customers redeemed: ``{"results": [{"code_last4", "outcome"}]}``
    in the order sent."""
    now = now or utcnow()
    partner = benefit_grants.verified_partner(headers, method, path, body, now)
    results, marked = [], []
    for text in codes[:MAX_CODES_PER_CALLBACK]:
        code = benefit_stock.find_code(text)
        ours = code is not None and code.sku_id in partner.sku_ids
        redeemed = ours and (
            code.status == S.REDEEMED or (code.status == S.ISSUED and _mark_redeemed(code, "supplier", now))
        )
        if redeemed:
            marked.append(code.id)
        results.append({"code_last4": text.strip()[-4:], "outcome": "redeemed" if redeemed else "unknown"})
    if marked:
        audit(
            f"partner:{partner.key_id}",
            "benefit_code.supplier_redeemed",
            "benefit_partner",
            partner.id,
            count=len(set(marked)),
        )
    return {"results": results}
