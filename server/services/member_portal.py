"""What a member sees and does on their phone: card, history, merchants, physical cards, privacy."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, or_, select

from server.domain.errors import CardCheckFailed, Conflict, NotFound
from server.domain.identifiers import is_valid_card_number
from server.domain.ledger import ALLIANCE_FORFEITED, Posting, balanced
from server.domain.levels import UpgradeProgress
from server.domain.lots import NEVER_EXPIRES
from server.extensions import db
from server.models import (
    ALLIANCE_OWNER,
    AuditLog,
    Card,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    Level,
    Member,
    MemberDevice,
    Merchant,
    MerchantLevelDiscount,
    Refund,
    Sale,
    SmsMessage,
    WechatBinding,
)
from server.models.base import utcnow
from server.models.card import ELECTRONIC
from server.models.points import PointsLot
from server.notifications.sms import queue_sms
from server.security.pii import decrypt_phone
from server.services import cards, ledger, levels, member_codes, points
from server.services.alliance import get_settings
from server.services.audit import audit
from server.services.catalog import TRADES
from server.services.members import bind_card
from server.services.unit_of_work import transactional

HISTORY_LIMIT = 50
NOTICE_TEMPLATES = ("points_spent", "points_expiring")  # SMS a member sees again in their history


@dataclass(frozen=True)
class CardView:
    """The member's card page: level, balance and cards (the e-card first, then physical cards)."""

    member: Member
    level: Level
    balance: int
    cards: list[Card]

    @property
    def electronic_card(self) -> Card | None:
        """The member's e-card in use (the one shown with the dynamic code), if they have one."""
        return next((card for card in self.cards if self.is_electronic(card) and card.status == "active"), None)

    @staticmethod
    def is_electronic(card: Card) -> bool:
        """The card's own kind, never guessed: a printed card has no batch or chip either."""
        return card.kind == ELECTRONIC


def card_view(member_id: str) -> CardView:
    """The member with level, points balance and cards."""
    member, level, balance = db.session.execute(
        select(Member, Level, LedgerAccount.balance)
        .join(Level, Level.id == Member.level_id)
        .join(LedgerAccount, LedgerAccount.id == Member.points_account_id)
        .where(Member.id == member_id)
    ).one()
    owned = db.session.scalars(
        select(Card)
        .where(Card.member_id == member_id)
        .order_by((Card.kind == ELECTRONIC).desc(), Card.created_at, Card.card_no)
    ).all()
    return CardView(member, level, balance, list(owned))


@dataclass(frozen=True)
class LevelProgressView:
    """What the member reads about the next level: its name, what is left to spend and by when."""

    level: Level
    progress: UpgradeProgress
    window_days: int


def level_progress(view: CardView) -> LevelProgressView | None:
    """The member's progress to the next level (None at the top level)."""
    found = levels.upgrade_progress_of(view.member.id, view.level)
    return None if found is None else LevelProgressView(found[0], found[1], get_settings().level_window_days)


def points_expiry(member_id: str) -> dict:
    """When the member's points expire, from the open lots.

    ``{"dates": [{"expires_on", "points", "soon"}], "never": points}``: one row per last valid day, closest
    first (``soon``: within the alliance's expiry notice days, as the SMS notice), and points that never expire.
    """
    settings = get_settings()
    today = points.alliance_today(settings)
    query = (
        select(PointsLot.expires_on, func.sum(PointsLot.remaining))
        .where(PointsLot.member_id == member_id, PointsLot.remaining > 0)
        .group_by(PointsLot.expires_on)
        .order_by(PointsLot.expires_on)
    )
    dates, never = [], 0
    for day, total in db.session.execute(query):
        if day == NEVER_EXPIRES:
            never += int(total)
        else:
            soon = day <= today + timedelta(days=settings.expiry_notice_days)
            dates.append({"expires_on": day, "points": int(total), "soon": soon})
    return {"dates": dates, "never": never}


def sale_receipt(member_id: str, sale_id: str) -> dict:
    """The e-receipt of one of the member's sales (the QR on the paper receipt opens it), with its refunds."""
    row = db.session.execute(
        select(Sale, Merchant.name)
        .join(Merchant, Merchant.id == Sale.merchant_id)
        .where(Sale.id == sale_id, Sale.member_id == member_id)
    ).first()
    if row is None:
        raise NotFound("No such purchase of yours.")
    refunds = db.session.scalars(select(Refund).where(Refund.sale_id == sale_id).order_by(Refund.created_at)).all()
    return {"sale": row[0], "merchant_name": row[1], "refunds": list(refunds)}


def sale_id_by_receipt(member_id: str, receipt_no: str) -> str:
    """The id of the member's sale with this (alliance-wide) receipt number: an offline receipt's QR names it."""
    sale_id = db.session.scalar(select(Sale.id).where(Sale.receipt_no == receipt_no, Sale.member_id == member_id))
    if sale_id is None:
        raise NotFound("No such purchase of yours.")
    return sale_id


def history(member_id: str) -> dict:
    """The member's latest sales, refunds and points movements, and when their points expire."""
    sales = db.session.execute(
        select(Sale, Merchant.name)
        .join(Merchant, Merchant.id == Sale.merchant_id)
        .where(Sale.member_id == member_id)
        .order_by(Sale.occurred_at.desc())
        .limit(HISTORY_LIMIT)
    ).all()
    refunds = db.session.execute(
        select(Refund, Sale.receipt_no, Merchant.name)
        .join(Sale, Sale.id == Refund.sale_id)
        .join(Merchant, Merchant.id == Refund.merchant_id)
        .where(Sale.member_id == member_id)
        .order_by(Refund.created_at.desc())
        .limit(HISTORY_LIMIT)
    ).all()
    account_id = db.session.scalar(select(Member.points_account_id).where(Member.id == member_id))
    movements = db.session.execute(
        select(LedgerTransaction.kind, LedgerTransaction.created_at, LedgerTransaction.memo, LedgerEntry.amount)
        .join(LedgerEntry, LedgerEntry.transaction_id == LedgerTransaction.id)
        .where(LedgerEntry.account_id == account_id)
        .order_by(LedgerTransaction.id.desc(), LedgerEntry.id.desc())
        .limit(HISTORY_LIMIT)
    ).all()
    return {
        "sales": [{"sale": sale, "merchant_name": name} for sale, name in sales],
        "refunds": [{"refund": refund, "receipt_no": no, "merchant_name": name} for refund, no, name in refunds],
        "movements": [
            {"kind": kind, "created_at": created_at, "memo": memo, "points": amount}
            for kind, created_at, memo, amount in movements
        ],
        "expiry": points_expiry(member_id),
        "notices": notices(member_id),
    }


def notices(member_id: str) -> list[SmsMessage]:
    """The notifications texted to the member (points spent, points expiring), newest first."""
    phone_hash = db.session.scalar(select(Member.phone_hash).where(Member.id == member_id))
    return list(
        db.session.scalars(
            select(SmsMessage)
            .where(SmsMessage.phone_hash == phone_hash, SmsMessage.template.in_(NOTICE_TEMPLATES))
            .order_by(SmsMessage.id.desc())
            .limit(HISTORY_LIMIT)
        )
    )


def merchants_for_member(level: Level, trade: str = "", region: str = "", text: str = "") -> list[dict]:
    """Active merchants with what a member of ``level`` pays at each, filtered by trade, region and name."""
    query = (
        select(Merchant, MerchantLevelDiscount.discount_bp)
        .outerjoin(
            MerchantLevelDiscount,
            (MerchantLevelDiscount.merchant_id == Merchant.id) & (MerchantLevelDiscount.level_id == level.id),
        )
        .where(Merchant.status == "active")
        .order_by(Merchant.region, Merchant.name)
    )
    if trade:
        query = query.where(Merchant.trade == trade)
    if region:
        query = query.where(Merchant.region == region)
    if text:
        pattern = f"%{text.strip()}%"
        query = query.where(or_(Merchant.name.like(pattern), Merchant.address.like(pattern)))
    return [
        {
            "merchant": merchant,
            "trade_name": TRADES.get(merchant.trade, (merchant.trade, merchant.trade)),
            "discount_bp": level.default_discount_bp if bp is None else bp,
        }
        for merchant, bp in db.session.execute(query).all()
    ]


def merchant_regions() -> list[str]:
    """The regions where active merchants are, for the search form."""
    return [r for r in db.session.scalars(select(Merchant.region).where(Merchant.status == "active").distinct()) if r]


@transactional
def bind_physical_card(member_id: str, card_no: str, check_code: str) -> Card:
    """Bind a physical card the member holds, proven by its printed check code."""
    card_no = card_no.replace(" ", "")
    if not is_valid_card_number(card_no) or not hmac.compare_digest(cards.card_check_code(card_no), check_code.strip()):
        raise CardCheckFailed()
    return bind_card(f"member:{member_id}", member_id, card_no)


@transactional
def report_my_card_lost(member_id: str, card_no: str) -> Card:
    """挂失 one of the member's own physical cards (exactly that card; an e-card has nothing to lose)."""
    card = db.session.scalar(select(Card).where(Card.card_no == card_no))
    if card is None or card.member_id != member_id:
        raise NotFound("No such card of yours.")
    if card.kind == ELECTRONIC:
        raise Conflict("An e-card cannot be reported lost; log out the lost phone instead.", field="card_kind")
    return cards.report_lost(f"member:{member_id}", card_no, "reported by the member")


def _dt(value):
    return value.isoformat() if value else None


@transactional
def export_my_data(member_id: str) -> dict:
    """Everything stored about the member, as JSON-ready data (the access is audit-logged)."""
    view = card_view(member_id)
    member = view.member
    audit(f"member:{member_id}", "member.export", "member", member_id)
    found = history(member_id)
    devices = db.session.scalars(select(MemberDevice).where(MemberDevice.member_id == member_id)).all()
    return {
        "member": {
            "id": member.id,
            "display_name": member.display_name,
            "phone": decrypt_phone(member.phone_ciphertext),
            "level": {"code": view.level.code, "name": view.level.name},
            "level_since": _dt(member.level_since),
            "status": member.status,
            "recruited_by_merchant_id": member.recruited_by_merchant_id,
            "created_at": _dt(member.created_at),
        },
        "points_balance": view.balance,
        "cards": [
            {"card_no": c.card_no, "kind": c.kind, "status": c.status, "created_at": _dt(c.created_at)}
            for c in view.cards
        ],
        "devices": [
            {"id": d.id, "label": d.label, "status": d.status, "created_at": _dt(d.created_at)} for d in devices
        ],
        "wechat_bound": db.session.scalar(select(WechatBinding.openid_hash).where(WechatBinding.member_id == member_id))
        is not None,
        "sales": [
            {
                "id": row["sale"].id,
                "merchant": row["merchant_name"],
                "receipt_no": row["sale"].receipt_no,
                "amount_fen": row["sale"].amount_fen,
                "payable_fen": row["sale"].payable_fen,
                "points_earned": row["sale"].points_earned,
                "redeem_points": row["sale"].redeem_points,
                "occurred_at": _dt(row["sale"].occurred_at),
            }
            for row in found["sales"]
        ],
        "refunds": [
            {"id": row["refund"].id, "receipt_no": row["receipt_no"], "amount_fen": row["refund"].amount_fen}
            for row in found["refunds"]
        ],
        "points_movements": [
            {"kind": m["kind"], "points": m["points"], "at": _dt(m["created_at"])} for m in found["movements"]
        ],
        "audit_log": [
            {"action": a.action, "at": _dt(a.created_at)}
            for a in db.session.scalars(select(AuditLog).where(AuditLog.object_id == member_id).order_by(AuditLog.id))
        ],
    }


def _forfeit_account() -> int:
    account = db.session.scalar(
        select(LedgerAccount.id).where(
            LedgerAccount.kind == ALLIANCE_FORFEITED, LedgerAccount.owner_id == ALLIANCE_OWNER
        )
    )
    return account if account is not None else ledger.open_account(ALLIANCE_FORFEITED, ALLIANCE_OWNER)


@transactional
def close_account(member_id: str) -> int:
    """注销: forfeit the points, block the cards, log out every device and erase the phone; return the points."""
    view = card_view(member_id)
    member = view.member
    phone = decrypt_phone(member.phone_ciphertext)
    forfeited = view.balance
    if forfeited:
        postings = balanced([Posting(member.points_account_id, -forfeited), Posting(_forfeit_account(), forfeited)])
        ledger.post("forfeit", postings, f"member:{member_id}", memo="account closed by the member")
        points.spend_lots(member_id, forfeited, "forfeit")
    for card in view.cards:
        if card.status not in {"cancelled", "replaced"}:
            cards.cancel(f"member:{member_id}", card.card_no, "account closed")
    for device in db.session.scalars(select(MemberDevice).where(MemberDevice.member_id == member_id)):
        if device.status == "active":
            member_codes.revoke_device(device)
    db.session.execute(WechatBinding.__table__.delete().where(WechatBinding.member_id == member_id))
    queue_sms(phone, "account_closed", alliance=get_settings().name)
    member.status = "closed"
    member.display_name = "已注销"
    member.phone_ciphertext = b""
    member.phone_hash = hashlib.sha256(f"closed:{member.id}".encode()).hexdigest()  # the number may register again
    member.phone_masked = "***"
    audit(f"member:{member_id}", "member.close", "member", member_id, points_forfeited=forfeited, at=_dt(utcnow()))
    return forfeited


def active_devices(member_id: str) -> list[MemberDevice]:
    """The phones the member is logged in on."""
    return list(
        db.session.scalars(
            select(MemberDevice)
            .where(MemberDevice.member_id == member_id, MemberDevice.status == "active")
            .order_by(MemberDevice.created_at)
        )
    )
