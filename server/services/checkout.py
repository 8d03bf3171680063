"""The terminal's use cases: identify a member, prove them, quote, record a sale, refund it.

Recording and refunding are the step pipelines of ``server/services/sales``; ``record_sale`` and
``refund_sale`` here take their fields as keywords for callers in code (demo data, console, tests).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, update

from alliance_shared.pricing import SaleQuote, quote_sale
from server.domain.errors import Conflict, NotFound
from server.domain.till_policy import check_picked_voucher, check_spend, spend_needs_proof
from server.extensions import db
from server.models import Identification, Member, RejectedSale, Sale, Terminal
from server.models.base import new_id, utcnow
from server.notifications.sms import queue_sms
from server.observability.metrics import counts_identification_failures
from server.security.credentials import IDENTIFICATION_TOKEN_PREFIX, new_token, token_hash
from server.security.pii import decrypt_phone
from server.services import one_time_codes, sales, till_vouchers
from server.services.alliance import current_settings, get_settings
from server.services.audit import audit
from server.services.identified import (
    MemberAtMerchant,
    card_write_back,
    identify_credential,
    member_at_merchant,
    open_identification,
    sale_terms,
)
from server.services.points import alliance_today
from server.services.sales import RefundRequest, RefundResult, SaleRequest, SaleResult
from server.services.unit_of_work import transactional


@dataclass(frozen=True)
class IdentifyResult:
    """A member identified at a terminal, with the single-use token for the sale."""

    who: MemberAtMerchant
    method: str
    token: str
    expires_at: datetime
    card_update: dict | None = None
    proof: str | None = None  # the member's proof: "card", "code", "sms", or None (discount and earning only)
    spend_needs_proof: bool = False  # this identification cannot spend points under the till policy
    vouchers: list[dict] = field(default_factory=list)  # the member's alliance vouchers usable here now


@counts_identification_failures
@transactional
def identify(terminal: Terminal, *, card: dict | None = None, code: str | None = None, phone: str | None = None):
    """Identify a member by card, scanned code or phone and open a single-use identification."""
    settings = current_settings()
    found = identify_credential(terminal, settings, card=card, code=code, phone=phone)
    who = member_at_merchant(found.member_id, terminal.merchant_id)
    # the level comes with the member: no query of its own for the chip's write-back
    card_update = card_write_back(found, who.level.rank)
    method, member_id, found_card, proof = found.method, found.member_id, found.card, found.proof
    token = new_token(IDENTIFICATION_TOKEN_PREFIX)
    expires_at = utcnow() + timedelta(seconds=current_app.config["IDENTIFICATION_TTL_SECONDS"])
    db.session.add(
        Identification(
            token_hash=token_hash(token),
            member_id=member_id,
            terminal_id=terminal.id,
            card_id=found_card.id if found_card else None,
            method=method,
            proof=proof,
            expires_at=expires_at,
        )
    )
    return IdentifyResult(
        who=who,
        method=method,
        token=token,
        expires_at=expires_at,
        card_update=card_update,
        proof=proof,
        spend_needs_proof=spend_needs_proof(settings.spend_requires_proof, proof),
        vouchers=till_vouchers.usable(member_id, terminal.merchant, alliance_today(settings)),
    )


def quote(
    terminal: Terminal,
    identification_token: str,
    amount_fen: int,
    redeem_points: int,
    voucher_code: str | None = None,
    voucher_id: str | None = None,
) -> dict:
    """Price a sale for an identified member (with the voucher named, if any); changes nothing.

    The answer is the ``SaleQuote``'s fields and ``voucher`` (``{id, name, kind, code_last4}`` or None).
    """
    found = open_identification(terminal, identification_token, consume=False)
    settings = get_settings()
    check_spend(settings.spend_requires_proof, found.proof, redeem_points)
    check_picked_voucher(settings.spend_requires_proof, found.proof, voucher_id)
    who = member_at_merchant(found.member_id, terminal.merchant_id)
    voucher = None
    if voucher_code is not None or voucher_id is not None:
        voucher = till_vouchers.find(
            terminal.merchant,
            found.member_id,
            alliance_today(settings),
            voucher_code=voucher_code,
            voucher_id=voucher_id,
            consume=False,  # a quote changes nothing: a dynamic code stays unused for the sale
            terminal_id=terminal.id,
        )
    priced: SaleQuote = quote_sale(
        amount_fen, redeem_points, who.balance, sale_terms(who, terminal, settings), voucher.terms if voucher else None
    )
    return {**asdict(priced), "voucher": voucher.ref() if voucher else None}


def identification_member(terminal: Terminal, identification_token: str) -> str:
    """The member of a live identification at this terminal (for rate limits before a proof code is sent)."""
    return open_identification(terminal, identification_token, consume=False).member_id


@transactional
def request_proof_code(terminal: Terminal, identification_token: str) -> tuple[int, str]:
    """Send the identified member a one-time code to prove at the till that they are there.

    Returns the queued SMS's id and the masked phone it goes to. Only the newest code counts.
    """
    found = open_identification(terminal, identification_token, consume=False)
    member = db.session.get(Member, found.member_id)
    code, expires_at = one_time_codes.issue_code("till_proof", token_hash(identification_token))
    message = queue_sms(
        decrypt_phone(member.phone_ciphertext),
        "till_proof_code",
        secret=code,
        secret_expires_at=expires_at,
        alliance=get_settings().name,
        merchant=terminal.merchant.name,
        minutes=one_time_codes.ttl_minutes(),
    )
    return message.id, member.phone_masked


@transactional
def confirm_proof(terminal: Terminal, identification_token: str, code: str) -> str:
    """Upgrade a live identification with the code the member received; return its proof.

    A wrong code is counted and burns the code after too many tries, as for login codes.
    """
    found = open_identification(terminal, identification_token, consume=False)
    if found.proof is not None:
        return found.proof
    one_time_codes.check_code("till_proof", token_hash(identification_token), code)
    db.session.execute(
        update(Identification)
        .where(Identification.token_hash == token_hash(identification_token))
        .values(proof="sms")
        .execution_options(synchronize_session=False)
    )
    audit(f"terminal:{terminal.id}", "identification.proof", "member", found.member_id, proof="sms")
    return "sms"


def record_sale(terminal: Terminal, **fields) -> SaleResult:
    """Record a sale given as the fields of ``sales.SaleRequest`` (the pipeline in server/services/sales)."""
    return sales.record_sale(SaleRequest(terminal=terminal, **fields))


def refund_sale(
    actor: str, sale_id: str, merchant_scope: str | None, amount_fen: int | None = None, reason: str = "", **fields
) -> RefundResult:
    """Refund part or the rest of a sale given as the fields of ``sales.RefundRequest`` (server/services/sales)."""
    return sales.refund_sale(RefundRequest(actor, sale_id, merchant_scope, amount_fen, reason, **fields))


def get_sale(sale_id: str, merchant_scope: str | None) -> Sale:
    """A sale by id, seen from ``merchant_scope`` (None: the whole alliance)."""
    sale = db.session.get(Sale, sale_id)
    if sale is None or (merchant_scope is not None and sale.merchant_id != merchant_scope):
        raise NotFound("No such sale.", sale_id=sale_id)
    return sale


def refundable_fen(sale: Sale) -> int:
    """The most that can still be refunded of a sale."""
    return sale.payable_fen - sale.refunded_fen


@transactional
def report_rejected_sale(terminal: Terminal, **fields) -> RejectedSale:
    """Keep a sale the terminal committed but the server refused, for an operator to resolve (once per sale)."""
    found = db.session.scalar(
        select(RejectedSale).where(
            RejectedSale.terminal_id == terminal.id, RejectedSale.client_sale_id == fields["client_sale_id"]
        )
    )
    if found is not None:
        return found
    rejected = RejectedSale(id=new_id("rej"), merchant_id=terminal.merchant_id, terminal_id=terminal.id, **fields)
    db.session.add(rejected)
    audit(f"terminal:{terminal.id}", "sale.rejected_reported", "terminal", terminal.id, rejected_id=rejected.id)
    return rejected


@transactional
def resolve_rejected_sale(actor: str, rejected_id: str, merchant_scope: str | None, resolution: str) -> RejectedSale:
    """An operator settled a rejected sale (recorded again by hand, refunded to the customer...)."""
    rejected = db.session.get(RejectedSale, rejected_id)
    if rejected is None or (merchant_scope is not None and rejected.merchant_id != merchant_scope):
        raise NotFound("No such rejected sale.", rejected_id=rejected_id)
    if rejected.status == "resolved":
        raise Conflict("This rejected sale is already resolved.", rejected_id=rejected_id)
    rejected.status, rejected.resolution, rejected.resolved_by, rejected.resolved_at = (
        "resolved",
        resolution,
        actor,
        utcnow(),
    )
    audit(actor, "sale.rejected_resolved", "rejected_sale", rejected.id, resolution=resolution)
    return rejected
