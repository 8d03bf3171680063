"""The terminal's use cases: identify a member, quote, record a sale, refund it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import bindparam, func, select, update

from server.domain import payments
from server.domain.errors import (
    CardUnknown,
    Conflict,
    IdentificationExpired,
    InvalidRequest,
    MemberFrozen,
    MemberNotFound,
    NotFound,
    ReceiptNumberTaken,
    RefundAuthorisationRequired,
    RefundPinWrong,
)
from server.domain.identifiers import classify_scanned_code
from server.domain.ledger import refund_postings, sale_postings
from server.domain.levels import level_after_sale
from server.domain.money import format_yuan
from server.domain.payments import DEFAULT_PAYMENT_METHOD
from server.domain.pricing import SaleQuote, SaleTerms, quote_sale
from server.domain.refunds import SaleRefundState, split_refund
from server.domain.statuses import MemberStatus
from server.domain.till_policy import check_spend, identification_proof, spend_needs_proof
from server.extensions import db
from server.models import (
    AllianceSettings,
    Card,
    Identification,
    LedgerAccount,
    Level,
    Member,
    MerchantLevelDiscount,
    Refund,
    RejectedSale,
    Sale,
    Terminal,
)
from server.models.base import new_id, utcnow
from server.notifications.sms import queue_sms
from server.ratelimit import check_failures, count_failure
from server.security.credentials import IDENTIFICATION_TOKEN_PREFIX, new_token, token_hash, verify_password
from server.security.pii import decrypt_phone
from server.services import cards, ledger, one_time_codes, points
from server.services.alliance import get_settings
from server.services.audit import audit
from server.services.levels import level_rule
from server.services.member_codes import verify_member_code
from server.services.members import find_member_by_phone
from server.services.unit_of_work import transactional

OFFLINE_CLOCK_SKEW = timedelta(minutes=10)

# Statements of every sale, built once and run as Core statements (no per-sale construction, no ORM bulk path).
_identifications = Identification.__table__
_CONSUME_IDENTIFICATION = (  # one statement: two concurrent sales cannot both use the token
    update(_identifications)
    .where(
        _identifications.c.token_hash == bindparam("hash"),
        _identifications.c.terminal_id == bindparam("terminal"),
        _identifications.c.used_at.is_(None),
        _identifications.c.expires_at > bindparam("now"),
    )
    .values(used_at=bindparam("now"))
    .returning(
        _identifications.c.member_id,
        _identifications.c.card_id,
        _identifications.c.method,
        _identifications.c.proof,
    )
)
_terminals = Terminal.__table__
_NEXT_RECEIPT_SEQ = (
    update(_terminals)
    .where(_terminals.c.id == bindparam("terminal"))
    .values(receipt_seq=_terminals.c.receipt_seq + 1)
    .returning(_terminals.c.receipt_seq)
)
_RECEIPT_SEQ_AT_LEAST = (  # a number the terminal gave (offline) is never handed out again by the server
    update(_terminals)
    .where(_terminals.c.id == bindparam("terminal"), _terminals.c.receipt_seq < bindparam("seq"))
    .values(receipt_seq=bindparam("seq"))
)


@dataclass(frozen=True)
class MemberAtMerchant:
    """A member as one merchant sees them: level, points and the terms that apply."""

    member: Member
    level: Level
    balance: int
    discount_bp: int


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


@dataclass(frozen=True)
class SaleResult:
    """A recorded sale with the member's balance and level after it."""

    sale: Sale
    points_balance: int
    level: Level
    notice_sms_id: int | None = None  # the "points spent" SMS this sale queued, to send after commit


@dataclass(frozen=True)
class RefundResult:
    """A recorded refund with the member's balance after it."""

    refund: Refund
    points_balance: int


_MEMBER_AT_MERCHANT = (  # built once: identify and every sale run it
    select(Member, Level, LedgerAccount.balance, MerchantLevelDiscount.discount_bp)
    .join(Level, Level.id == Member.level_id)
    .join(LedgerAccount, LedgerAccount.id == Member.points_account_id)
    .outerjoin(
        MerchantLevelDiscount,
        (MerchantLevelDiscount.level_id == Member.level_id)
        & (MerchantLevelDiscount.merchant_id == bindparam("merchant_id")),
    )
    .where(Member.id == bindparam("member_id"))
)


def member_at_merchant(member_id: str, merchant_id: str) -> MemberAtMerchant:
    """Load member, level, balance and the level's discount at the merchant in one query."""
    row = db.session.execute(_MEMBER_AT_MERCHANT, {"member_id": member_id, "merchant_id": merchant_id}).one_or_none()
    if row is not None and row[0].status == MemberStatus.FROZEN:
        raise MemberFrozen()
    if row is None or row[0].status != MemberStatus.ACTIVE:
        raise MemberNotFound()
    member, level, balance, discount_bp = row
    return MemberAtMerchant(member, level, balance, level.default_discount_bp if discount_bp is None else discount_bp)


def _terms(who: MemberAtMerchant, terminal: Terminal, settings: AllianceSettings) -> SaleTerms:
    merchant = terminal.merchant
    return SaleTerms(who.discount_bp, merchant.earn_rate_bp, merchant.max_redeem_bp, settings.point_value_fen)


def _card_by_number(card_no: str) -> Card:
    card = db.session.scalar(select(Card).where(Card.card_no == card_no))
    if card is None:
        raise CardUnknown(card_no=card_no)
    return cards.check_usable(card)


def _resolve_member(
    card: dict | None,
    code: str | None,
    phone: str | None,
    settings,
    terminal_id: str | None = None,
    at: datetime | None = None,
) -> tuple[str, str, Card | None]:
    """Return (method, member_id, card) for what the terminal captured (chip counters are not checked here).

    A dynamic member code is checked against ``at`` (an offline sale's time) or now, and used up.
    """
    if card is not None:
        found = cards.verified_chip_card(card)[0]
        return "card", found.member_id, found
    if code is not None:
        kind, digits = classify_scanned_code(code, settings.member_code_prefix)
        if kind == "member_code":
            return "code", verify_member_code(digits, settings.member_code_prefix, terminal_id, at), None
        found = _card_by_number(digits)
        return "code", found.member_id, found
    return "phone", find_member_by_phone(phone).id, None


@transactional
def identify(terminal: Terminal, *, card: dict | None = None, code: str | None = None, phone: str | None = None):
    """Identify a member by card, scanned code or phone and open a single-use identification."""
    settings = get_settings()
    if card is not None:
        found_card, uid = cards.check_chip_counter(terminal, card)
        method, member_id = "card", found_card.member_id
    else:
        method, member_id, found_card = _resolve_member(None, code, phone, settings, terminal.id)
    who = member_at_merchant(member_id, terminal.merchant_id)
    # the level comes with the member: no query of its own for the chip's write-back
    card_update = cards.plan_write_back(found_card, uid, who.level.rank) if card is not None else None
    proof = identification_proof(method, by_card_number=found_card is not None)
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
    )


def _open_identification(terminal: Terminal, token: str, *, consume: bool):
    """The (member_id, card_id, method, proof) of a live identification at this terminal, used up if ``consume``."""
    now = utcnow()
    conditions = (
        Identification.token_hash == token_hash(token),
        Identification.terminal_id == terminal.id,
        Identification.used_at.is_(None),
        Identification.expires_at > now,
    )
    if consume:
        row = db.session.execute(
            _CONSUME_IDENTIFICATION, {"hash": token_hash(token), "terminal": terminal.id, "now": now}
        ).one_or_none()
    else:
        row = db.session.execute(
            select(Identification.member_id, Identification.card_id, Identification.method, Identification.proof).where(
                *conditions
            )
        ).one_or_none()
    if row is None:
        issued_to = db.session.scalar(
            select(Identification.terminal_id).where(Identification.token_hash == token_hash(token))
        )
        if issued_to is not None and issued_to != terminal.id:  # outside this terminal's scope
            raise NotFound("No such identification at this terminal.")
        raise IdentificationExpired()
    return row


def quote(terminal: Terminal, identification_token: str, amount_fen: int, redeem_points: int) -> SaleQuote:
    """Price a sale for an identified member; changes nothing."""
    found = _open_identification(terminal, identification_token, consume=False)
    settings = get_settings()
    check_spend(settings.spend_requires_proof, found.proof, redeem_points)
    who = member_at_merchant(found.member_id, terminal.merchant_id)
    return quote_sale(amount_fen, redeem_points, who.balance, _terms(who, terminal, settings))


def identification_member(terminal: Terminal, identification_token: str) -> str:
    """The member of a live identification at this terminal (for rate limits before a proof code is sent)."""
    return _open_identification(terminal, identification_token, consume=False).member_id


@transactional
def request_proof_code(terminal: Terminal, identification_token: str) -> tuple[int, str]:
    """Send the identified member a one-time code to prove at the till that they are there.

    Returns the queued SMS's id and the masked phone it goes to. Only the newest code counts.
    """
    found = _open_identification(terminal, identification_token, consume=False)
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
    found = _open_identification(terminal, identification_token, consume=False)
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


def _check_offline(settings: AllianceSettings, amount_fen: int, redeem_points: int, occurred_at: datetime) -> None:
    now = utcnow()
    if redeem_points:
        raise InvalidRequest("An offline sale may earn points but never redeem them.", field="redeem_points")
    if amount_fen > settings.offline_max_sale_fen:
        raise InvalidRequest(
            "The offline sale exceeds the per-sale cap.", field="amount_fen", max_sale_fen=settings.offline_max_sale_fen
        )
    if (
        not now - timedelta(hours=settings.offline_max_age_hours) - OFFLINE_CLOCK_SKEW
        <= occurred_at
        <= now + OFFLINE_CLOCK_SKEW
    ):
        raise InvalidRequest(
            "The offline sale is older than the terminal may keep it, or in the future.",
            field="occurred_at",
            max_age_hours=settings.offline_max_age_hours,
        )


def _receipt_prefix(terminal: Terminal) -> str:
    return terminal.receipt_prefix or terminal.code


def _next_receipt_no(terminal: Terminal) -> str:
    seq = db.session.execute(_NEXT_RECEIPT_SEQ, {"terminal": terminal.id}).scalar_one()
    return payments.receipt_no(_receipt_prefix(terminal), seq)


def _terminal_receipt_no(terminal: Terminal, number: str) -> str:
    """Accept the receipt number a terminal printed (it numbers its sales itself, offline too)."""
    seq = payments.receipt_seq_of(_receipt_prefix(terminal), number)
    if seq is None:
        raise InvalidRequest(
            "The receipt number is not one of this terminal's.", field="receipt_no", prefix=_receipt_prefix(terminal)
        )
    if db.session.scalar(select(Sale.id).where(Sale.receipt_no == number)) is not None:
        raise ReceiptNumberTaken(receipt_no=number)
    db.session.execute(_RECEIPT_SEQ_AT_LEAST, {"terminal": terminal.id, "seq": seq})
    return number


def _replayed_identification(terminal: Terminal, token: str, occurred_at: datetime):
    """An identification this terminal was issued, used by an offline replay of the sale it was opened for.

    The sale was committed at the till while the identification was live (``occurred_at`` before it
    expired) but reached the server after: it is accepted once, as an offline sale within the offline caps.
    """
    row = db.session.execute(
        select(Identification).where(
            Identification.token_hash == token_hash(token), Identification.terminal_id == terminal.id
        )
    ).scalar_one_or_none()
    if row is None:
        raise NotFound("No such identification at this terminal.")
    if row.used_at is not None or not row.created_at - OFFLINE_CLOCK_SKEW <= occurred_at <= row.expires_at:
        raise IdentificationExpired()
    used = db.session.execute(  # one statement: a concurrent replay of the same token cannot also use it
        update(Identification)
        .where(Identification.token_hash == row.token_hash, Identification.used_at.is_(None))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if used.rowcount != 1:
        raise IdentificationExpired()
    return row


_LEVELS_AND_WINDOW_SPEND = select(  # every level, lowest first, each row with the member's spend in the window
    Level,
    select(func.coalesce(func.sum(Sale.payable_fen - Sale.refunded_fen), 0))
    .where(Sale.member_id == bindparam("member_id"), Sale.occurred_at >= bindparam("since"))
    .scalar_subquery(),
).order_by(Level.rank)


def _level_after(who: MemberAtMerchant, settings: AllianceSettings, now: datetime) -> Level:
    """Upgrade the member at once if this sale lifts the window spend over a higher threshold."""
    rows = db.session.execute(  # the sale being recorded is already flushed, so it is in the spend
        _LEVELS_AND_WINDOW_SPEND,
        {"member_id": who.member.id, "since": now - timedelta(days=settings.level_window_days)},
    ).all()
    levels = [level for level, _ in rows]
    if not any(level.rank > who.level.rank for level in levels):
        return who.level
    spend = rows[0][1]
    rules = {level.id: level_rule(level) for level in levels}
    target = level_after_sale(rules[who.level.id], list(rules.values()), spend)
    if target.id == who.level.id:
        return who.level
    db.session.execute(
        update(Member)
        .where(Member.id == who.member.id)
        .values(level_id=target.id, level_since=now)
        .execution_options(synchronize_session=False)
    )
    return next(level for level in levels if level.id == target.id)


@transactional
def record_sale(
    terminal: Terminal,
    *,
    amount_fen: int,
    redeem_points: int = 0,
    identification_token: str | None = None,
    client_sale_id: str | None = None,
    occurred_at: datetime | None = None,
    offline: bool = False,
    card: dict | None = None,
    code: str | None = None,
    card_update_written: bool | None = None,
    payment_method: str = DEFAULT_PAYMENT_METHOD,
    receipt_no: str | None = None,
) -> SaleResult:
    """Record a sale: discount, redemption, earning, ledger, receipt number and level upgrade."""
    settings = get_settings()
    now = utcnow()
    if client_sale_id is not None and db.session.scalar(
        select(Sale.id).where(Sale.terminal_id == terminal.id, Sale.client_sale_id == client_sale_id)
    ):
        raise Conflict("This terminal already recorded a sale with this client_sale_id.", client_sale_id=client_sale_id)
    if offline:
        occurred_at = occurred_at or now
        _check_offline(settings, amount_fen, redeem_points, occurred_at)
        if identification_token is not None:  # an online identification whose sale reached us late
            found = _replayed_identification(terminal, identification_token, occurred_at)
            member_id, card_id, method = found.member_id, found.card_id, found.method
        else:
            method, member_id, found_card = _resolve_member(card, code, None, settings, terminal.id, occurred_at)
            card_id = found_card.id if found_card else None
    else:
        found = _open_identification(terminal, identification_token, consume=True)
        member_id, card_id, method = found.member_id, found.card_id, found.method
        check_spend(settings.spend_requires_proof, found.proof, redeem_points)
        occurred_at = now
        if card_update_written and method == "card":
            cards.confirm_write_back(card_id)
    who = member_at_merchant(member_id, terminal.merchant_id)
    priced = quote_sale(amount_fen, redeem_points, who.balance, _terms(who, terminal, settings))
    merchant = terminal.merchant
    sale_id = new_id("sal")
    sale = Sale(
        id=sale_id,
        merchant_id=merchant.id,
        terminal_id=terminal.id,
        member_id=member_id,
        card_id=card_id,
        level_id=who.level.id,
        method=method,
        receipt_no=_terminal_receipt_no(terminal, receipt_no) if receipt_no else _next_receipt_no(terminal),
        client_sale_id=client_sale_id,
        amount_fen=priced.amount_fen,
        discount_bp=who.discount_bp,
        discount_fen=priced.discount_fen,
        redeem_points=priced.redeem_points,
        redeem_value_fen=priced.redeem_value_fen,
        payable_fen=priced.payable_fen,
        points_earned=priced.points_to_earn,
        refunded_fen=0,
        points_reversed=0,
        points_restored=0,
        offline=offline,
        payment_method=payment_method,
        occurred_at=occurred_at,
        created_at=now,
    )
    db.session.add(sale)
    db.session.flush()
    postings = sale_postings(
        who.member.points_account_id,
        merchant.points_issued_account_id,
        merchant.points_accepted_account_id,
        earned=priced.points_to_earn,
        redeemed=priced.redeem_points,
    )
    balances = ledger.post("sale", postings, f"terminal:{terminal.id}", sale_id=sale_id)
    points.spend_lots(member_id, priced.redeem_points, "redeem", sale_id)  # before the lot this sale earns
    points.add_lot(member_id, priced.points_to_earn, "sale", sale_id, now)
    level = _level_after(who, settings, now)
    balance = balances.get(who.member.points_account_id, who.balance)
    notice = None
    if priced.redeem_points:
        notice = _notify_points_spent(who.member, merchant.name, priced, balance, settings)
    return SaleResult(sale=sale, points_balance=balance, level=level, notice_sms_id=notice)


def _notify_points_spent(member: Member, merchant_name: str, priced: SaleQuote, balance: int, settings) -> int:
    """Tell the member their points were spent, where and for how much (SMS outbox; shown in their history)."""
    return queue_sms(
        decrypt_phone(member.phone_ciphertext),
        "points_spent",
        alliance=settings.name,
        merchant=merchant_name,
        points=priced.redeem_points,
        value=format_yuan(priced.redeem_value_fen),
        balance=balance,
    ).id


def get_sale(sale_id: str, merchant_scope: str | None) -> Sale:
    """A sale by id, seen from ``merchant_scope`` (None: the whole alliance)."""
    sale = db.session.get(Sale, sale_id)
    if sale is None or (merchant_scope is not None and sale.merchant_id != merchant_scope):
        raise NotFound("No such sale.", sale_id=sale_id)
    return sale


@transactional
def refund_sale(
    actor: str,
    sale_id: str,
    merchant_scope: str | None,
    amount_fen: int | None = None,
    reason: str = "",
    *,
    payment_method: str = DEFAULT_PAYMENT_METHOD,
    supervisor_pin: str | None = None,
    at_terminal: bool = False,
) -> RefundResult:
    """Refund part or the rest of a sale, reversing earned and restoring redeemed points in proportion.

    If the member has already spent points this refund must take back, only what the member holds is
    taken back; the shortfall is recorded on the refund and stays with the merchant that granted it.
    At a terminal, a refund above the merchant's threshold needs the supervisor PIN (wrong PINs are
    rate-limited per merchant); staff refunding through the API are themselves the authorised person.
    """
    # populate_existing: a caller that already loaded the sale must not refund from stale totals
    sale = db.session.scalar(
        select(Sale).where(Sale.id == sale_id).with_for_update().execution_options(populate_existing=True)
    )
    if sale is None or (merchant_scope is not None and sale.merchant_id != merchant_scope):
        raise NotFound("No such sale.", sale_id=sale_id)
    split = split_refund(
        SaleRefundState(
            sale.payable_fen,
            sale.points_earned,
            sale.redeem_points,
            sale.refunded_fen,
            sale.points_reversed,
            sale.points_restored,
        ),
        amount_fen,
    )
    authorised_by = None
    if at_terminal:
        authorised_by = _check_refund_authorisation(sale.merchant, split.amount_fen, supervisor_pin)
    member = db.session.get(Member, sale.member_id)
    account = db.session.scalar(
        select(LedgerAccount).where(LedgerAccount.id == member.points_account_id).with_for_update()
    )
    now = utcnow()
    # redeemed points returning to lots that expired meanwhile expire again at once (server/services/points.py)
    restore, unplaced = points.plan_redeemed_restore(sale.id, split.points_restored, points.alliance_today(now=now))
    expiring_again = sum(part.expired for part in restore)
    recoverable = min(split.points_reversed, account.balance + split.points_restored - expiring_again)
    merchant = sale.merchant
    refund = Refund(
        id=new_id("rfd"),
        sale_id=sale.id,
        merchant_id=sale.merchant_id,
        actor=actor,
        amount_fen=split.amount_fen,
        points_reversed=recoverable,
        points_restored=split.points_restored,
        points_unrecovered=split.points_reversed - recoverable,
        reason=reason,
        payment_method=payment_method,
        authorised_by=authorised_by,
        created_at=now,
    )
    db.session.add(refund)
    db.session.flush()
    balances = ledger.post(
        "refund",
        refund_postings(
            member.points_account_id,
            merchant.points_issued_account_id,
            merchant.points_accepted_account_id,
            recoverable,
            split.points_restored,
        ),
        actor,
        sale_id=sale.id,
        refund_id=refund.id,
    )
    balance = balances.get(member.points_account_id, account.balance)
    balance -= points.apply_restore(member, restore, actor, refund.id)
    points.add_lot(member.id, unplaced, "restore", sale.id, now)
    points.spend_lots(member.id, recoverable, "reverse", sale.id, first_sale_lot=True)
    sale.refunded_fen += split.amount_fen
    sale.points_reversed += split.points_reversed
    sale.points_restored += split.points_restored
    audit(
        actor,
        "sale.refund",
        "sale",
        sale.id,
        refund_id=refund.id,
        amount_fen=split.amount_fen,
        reason=reason,
        authorised_by=authorised_by,
    )
    return RefundResult(refund=refund, points_balance=balance)


def _check_refund_authorisation(merchant, amount_fen: int, supervisor_pin: str | None) -> str | None:
    """``"supervisor_pin"`` when the merchant requires authorisation for this amount and the PIN is right."""
    threshold = merchant.refund_auth_threshold_fen
    if threshold is None or amount_fen <= threshold:
        return None
    if not supervisor_pin:
        raise RefundAuthorisationRequired(threshold_fen=threshold)
    check_failures("refund_pin:merchant", merchant.id)
    if not verify_password(merchant.refund_pin_hash, supervisor_pin):
        count_failure("refund_pin:merchant", merchant.id)
        raise RefundPinWrong()
    return "supervisor_pin"


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
