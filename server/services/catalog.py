"""Levels, merchants, their level discounts and terminals (operator reference data)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, update

from alliance_shared.money import price_at_rate
from server.domain.errors import Conflict, InvalidRequest, NotFound
from server.domain.identifiers import mask_account_number
from server.domain.ledger import MERCHANT_ACCEPTED, MERCHANT_ISSUED
from server.domain.payments import terminal_receipt_prefix
from server.domain.statuses import LevelStatus, MerchantStatus, TerminalStatus
from server.extensions import db
from server.models import AllianceSettings, Level, Member, Merchant, MerchantLevelDiscount, Terminal
from server.models.base import new_id
from server.security.credentials import TERMINAL_TOKEN_PREFIX, hash_password, new_token, token_hash
from server.security.pii import decrypt_text, encrypt_text
from server.services.agents import set_merchant_agent
from server.services.audit import audit, values_before
from server.services.ledger import open_account
from server.services.regions import check_region_code
from server.services.unit_of_work import transactional

TRADES = {
    "food": ("餐饮", "Food & drink"),
    "retail": ("零售", "Retail"),
    "beauty": ("美容美发", "Beauty & hair"),
    "health": ("医药健康", "Health"),
    "education": ("教育培训", "Education"),
    "leisure": ("休闲娱乐", "Leisure"),
    "services": ("生活服务", "Services"),
    "auto": ("汽车服务", "Auto"),
    "other": ("其他", "Other"),
}

LEVEL_DEFAULTS = {
    "name_en": "",
    "upgrade_spend_fen": 0,
    "keep_spend_fen": 0,
    "protection_days": 90,
    "default_discount_bp": 10_000,
    "min_discount_bp": 5_000,
    "max_discount_bp": 10_000,
}
LEVEL_FIELDS = {"name", *LEVEL_DEFAULTS}
MERCHANT_FIELDS = {
    "name",
    "trade",
    "region",
    "region_code",
    "address",
    "contact_phone",
    "status",
    "earn_rate_bp",
    "max_redeem_bp",
    "service_fee_bp",
    "service_fee_per_sale_fen",
    "refund_auth_threshold_fen",
    "bank_account_name",
    "bank_name",
}
BANK_ACCOUNT_PURPOSE = b"bank_account"


def _check_level(level: Level) -> None:
    if not 0 < level.min_discount_bp <= level.default_discount_bp <= level.max_discount_bp <= 10_000:
        raise InvalidRequest("Discounts must satisfy 0 < min ≤ default ≤ max ≤ 10000 bp.", field="discount_bp")
    if level.keep_spend_fen > level.upgrade_spend_fen:
        raise InvalidRequest("keep_spend_fen may not exceed upgrade_spend_fen.", field="keep_spend_fen")


def levels_by_rank() -> list[Level]:
    """All levels, lowest first."""
    return list(db.session.scalars(select(Level).order_by(Level.rank)))


def get_level(level_id: str) -> Level:
    """A level by id."""
    level = db.session.get(Level, level_id)
    if level is None:
        raise NotFound("No such level.", level_id=level_id)
    return level


@transactional
def create_level(actor: str, *, code: str, rank: int, **fields) -> Level:
    """Add a level; every merchant gets the level's default discount."""
    if db.session.scalar(select(Level.id).where((Level.code == code) | (Level.rank == rank))):
        raise Conflict("A level with this code or rank exists.", code=code, rank=rank)
    values = LEVEL_DEFAULTS | {k: v for k, v in fields.items() if k in LEVEL_FIELDS}
    level = Level(id=new_id("lvl"), code=code, rank=rank, **values)
    _check_level(level)
    db.session.add(level)
    for merchant_id in db.session.scalars(select(Merchant.id)):
        db.session.add(
            MerchantLevelDiscount(merchant_id=merchant_id, level_id=level.id, discount_bp=level.default_discount_bp)
        )
    audit(actor, "level.create", "level", level.id, code=code)
    return level


@transactional
def update_level(actor: str, level_id: str, **fields) -> Level:
    """Change a level's names, rules or discount bounds; merchant discounts are clamped into the bounds."""
    level = get_level(level_id)
    before = values_before(level, fields)
    for name, value in fields.items():
        if name in LEVEL_FIELDS:
            setattr(level, name, value)
    _check_level(level)
    for bound, op in ((level.min_discount_bp, "lt"), (level.max_discount_bp, "gt")):
        column = MerchantLevelDiscount.discount_bp
        db.session.execute(
            update(MerchantLevelDiscount)
            .where(MerchantLevelDiscount.level_id == level.id, column < bound if op == "lt" else column > bound)
            .values(discount_bp=bound)
        )
    audit(actor, "level.update", "level", level.id, **fields, before=before)
    return level


def level_example_prices(levels: list[Level], amount_fen: int) -> dict[str, int]:
    """Level id → what a member of it pays for a bill of ``amount_fen`` at the level's default discount."""
    return {level.id: price_at_rate(amount_fen, level.default_discount_bp) for level in levels}


def level_member_counts() -> dict[str, int]:
    """How many members (any status) hold each level."""
    return dict(db.session.execute(select(Member.level_id, func.count()).group_by(Member.level_id)).all())


@transactional
def set_level_retired(actor: str, level_id: str, retired: bool, reason: str = "") -> Level:
    """Retire a level (its members keep it; nobody new joins, upgrades or drops into it) or bring it back.

    Levels are never deleted: members, card batches and sales refer to them. The last active level stays.
    """
    level = get_level(level_id)
    wanted = LevelStatus.RETIRED if retired else LevelStatus.ACTIVE
    if level.status == wanted:
        raise Conflict("The level is already in this state.", status=level.status)
    if retired:
        others = select(func.count()).select_from(Level).where(Level.status == LevelStatus.ACTIVE, Level.id != level.id)
        if not db.session.scalar(others):
            raise Conflict("The last active level cannot be retired: new members need a level.")
    level.status = wanted
    details = {"reason": reason.strip()[:200]} if reason.strip() else {}
    audit(actor, "level.retire" if retired else "level.reinstate", "level", level.id, **details)
    return level


@transactional
def move_level(actor: str, level_id: str, step: int) -> Level:
    """Swap a level's rank with the next level up (``step`` 1) or down (-1); the rules follow the ranks."""
    if step not in (1, -1):
        raise InvalidRequest("Move a level one place up or down.", field="step")
    level = get_level(level_id)
    order = Level.rank.asc() if step > 0 else Level.rank.desc()
    beyond = Level.rank > level.rank if step > 0 else Level.rank < level.rank
    neighbour = db.session.scalar(select(Level).where(beyond).order_by(order).limit(1).with_for_update())
    if neighbour is None:
        raise Conflict("The level is already at the end.", rank=level.rank)
    spare = (db.session.scalar(select(func.max(Level.rank))) or 0) + 1  # ranks are unique: swap through a free one
    ours, theirs = level.rank, neighbour.rank
    level.rank = spare
    db.session.flush()
    neighbour.rank = ours
    db.session.flush()
    level.rank = theirs
    db.session.flush()
    audit(actor, "level.reorder", "level", level.id, rank=theirs, before={"rank": ours})
    return level


def get_merchant(merchant_id: str) -> Merchant:
    """A merchant by id."""
    merchant = db.session.get(Merchant, merchant_id)
    if merchant is None:
        raise NotFound("No such merchant.", merchant_id=merchant_id)
    return merchant


def _check_merchant(fields: dict) -> None:
    if "trade" in fields and fields["trade"] not in TRADES:
        raise InvalidRequest("Unknown trade.", field="trade", allowed=sorted(TRADES))
    if "region_code" in fields:
        check_region_code(fields["region_code"])
    if "status" in fields and fields["status"] not in set(MerchantStatus):
        raise InvalidRequest("Unknown merchant status.", field="status")
    if fields.get("refund_auth_threshold_fen") is not None and fields["refund_auth_threshold_fen"] < 0:
        raise InvalidRequest("The refund threshold cannot be negative.", field="refund_auth_threshold_fen")
    pin = fields.get("refund_pin")
    if pin is not None and pin != "" and not (pin.isdigit() and 4 <= len(pin) <= 8):
        raise InvalidRequest("The supervisor PIN is 4 to 8 digits.", field="refund_pin")


def _set_refund_pin(merchant: Merchant, fields: dict) -> None:
    """Store a new supervisor PIN hashed (argon2); an empty PIN removes it. A threshold needs a PIN."""
    if "refund_pin" in fields:
        pin = fields["refund_pin"]
        merchant.refund_pin_hash = hash_password(pin) if pin else None
    if merchant.refund_auth_threshold_fen is not None and merchant.refund_pin_hash is None:
        raise InvalidRequest("Set the supervisor PIN that authorises refunds above the threshold.", field="refund_pin")


@transactional
def create_merchant(actor: str, *, name: str, trade: str, **fields) -> Merchant:
    """Admit a merchant: its points accounts and the default discount of every level."""
    _check_merchant({"trade": trade, **fields})
    merchant_id = new_id("mer")
    merchant = Merchant(
        id=merchant_id,
        name=name,
        trade=trade,
        points_issued_account_id=open_account(MERCHANT_ISSUED, merchant_id),
        points_accepted_account_id=open_account(MERCHANT_ACCEPTED, merchant_id),
        **{k: v for k, v in fields.items() if k in MERCHANT_FIELDS},
    )
    _set_refund_pin(merchant, fields)
    _set_bank_account(merchant, fields)
    db.session.add(merchant)
    db.session.flush()
    if fields.get("agent_id") is not None:
        set_merchant_agent(actor, merchant, fields["agent_id"], "merchant admitted")
    for level in levels_by_rank():
        db.session.add(
            MerchantLevelDiscount(merchant_id=merchant.id, level_id=level.id, discount_bp=level.default_discount_bp)
        )
    audit(actor, "merchant.create", "merchant", merchant.id, name=name)
    return merchant


@transactional
def update_merchant(actor: str, merchant_id: str, **fields) -> Merchant:
    """Change a merchant's details, earn rate or redemption cap."""
    merchant = get_merchant(merchant_id)
    _check_merchant(fields)
    before = values_before(merchant, fields)
    for name, value in fields.items():
        if name in MERCHANT_FIELDS:
            setattr(merchant, name, value)
    if "agent_id" in fields:
        set_merchant_agent(actor, merchant, fields["agent_id"], fields.get("agent_reason", ""))
    _set_refund_pin(merchant, fields)
    _set_bank_account(merchant, fields)
    logged = {name: ("***" if name == "refund_pin" else value) for name, value in fields.items()}
    if "bank_account_no" in fields:  # the audit log keeps the masked number only
        logged["bank_account_no"] = merchant.bank_account_masked
    audit(actor, "merchant.update", "merchant", merchant.id, **logged, before=before)
    return merchant


def _set_bank_account(merchant: Merchant, fields: dict) -> None:
    """Store ``fields["bank_account_no"]`` (if given) encrypted, with its masked form; empty clears it."""
    if "bank_account_no" not in fields or fields["bank_account_no"] is None:
        return
    number = "".join(str(fields["bank_account_no"]).split())
    if number and not (8 <= len(number) <= 34 and number.isalnum()):
        raise InvalidRequest("A bank account number has 8 to 34 letters and digits.", field="bank_account_no")
    merchant.bank_account_ciphertext = encrypt_text(number, BANK_ACCOUNT_PURPOSE) if number else None
    merchant.bank_account_masked = mask_account_number(number) if number else ""


def bank_account_number(merchant: Merchant) -> str:
    """The merchant's settlement account number in clear (for finance's statement; "" when none)."""
    if merchant.bank_account_ciphertext is None:
        return ""
    return decrypt_text(merchant.bank_account_ciphertext, BANK_ACCOUNT_PURPOSE)


def level_discounts(merchant_id: str) -> list[tuple[Level, int]]:
    """Each level with the discount it gets at the merchant, lowest level first."""
    rows = db.session.execute(
        select(Level, MerchantLevelDiscount.discount_bp)
        .join(MerchantLevelDiscount, MerchantLevelDiscount.level_id == Level.id)
        .where(MerchantLevelDiscount.merchant_id == merchant_id)
        .order_by(Level.rank)
    )
    return [(level, discount) for level, discount in rows]


@transactional
def set_level_discount(actor: str, merchant_id: str, level_id: str, discount_bp: int) -> MerchantLevelDiscount:
    """Set what a level pays at a merchant, within the operator's bounds for the level."""
    get_merchant(merchant_id)
    level = get_level(level_id)
    if not level.min_discount_bp <= discount_bp <= level.max_discount_bp:
        raise InvalidRequest(
            "The discount is outside the bounds the operator set for this level.",
            field="discount_bp",
            min_discount_bp=level.min_discount_bp,
            max_discount_bp=level.max_discount_bp,
        )
    row = db.session.get(MerchantLevelDiscount, (merchant_id, level_id))
    if row is None:
        row = MerchantLevelDiscount(merchant_id=merchant_id, level_id=level_id, discount_bp=discount_bp)
        db.session.add(row)
    row.discount_bp = discount_bp
    audit(actor, "merchant.set_level_discount", "merchant", merchant_id, level=level.code, discount_bp=discount_bp)
    return row


@dataclass(frozen=True)
class IssuedTerminal:
    """A terminal with its token, which exists only in this object (it is stored hashed)."""

    terminal: Terminal
    token: str


@transactional
def create_terminal(actor: str, merchant_id: str, name: str) -> IssuedTerminal:
    """Register a terminal for a merchant; the token is returned once and stored hashed."""
    merchant = get_merchant(merchant_id)
    seq = db.session.execute(  # atomic: two terminals created at once get distinct codes
        update(Merchant)
        .where(Merchant.id == merchant.id)
        .values(terminal_seq=Merchant.terminal_seq + 1)
        .returning(Merchant.terminal_seq)
        .execution_options(synchronize_session=False)
    ).scalar_one()
    number = db.session.execute(  # the alliance-wide number behind the terminal's receipt numbers
        update(AllianceSettings)
        .where(AllianceSettings.id == 1)
        .values(terminal_number_seq=AllianceSettings.terminal_number_seq + 1)
        .returning(AllianceSettings.terminal_number_seq)
        .execution_options(synchronize_session=False)
    ).scalar_one()
    token = new_token(TERMINAL_TOKEN_PREFIX)
    terminal = Terminal(
        id=new_id("trm"),
        merchant_id=merchant.id,
        code=f"T{seq:02d}",
        name=name,
        token_hash=token_hash(token),
        receipt_prefix=terminal_receipt_prefix(number),
    )
    db.session.add(terminal)
    audit(actor, "terminal.create", "terminal", terminal.id, merchant_id=merchant.id)
    return IssuedTerminal(terminal, token)


def get_terminal(terminal_id: str) -> Terminal:
    """A terminal by id."""
    terminal = db.session.get(Terminal, terminal_id)
    if terminal is None:
        raise NotFound("No such terminal.", terminal_id=terminal_id)
    return terminal


@transactional
def reset_terminal_token(actor: str, terminal_id: str, reason: str = "") -> IssuedTerminal:
    """Replace a terminal's token (the old one stops working at once); the new one is shown once."""
    terminal = get_terminal(terminal_id)
    token = new_token(TERMINAL_TOKEN_PREFIX)
    terminal.token_hash = token_hash(token)
    audit(actor, "terminal.reset_token", "terminal", terminal.id, **({"reason": reason} if reason else {}))
    return IssuedTerminal(terminal, token)


@transactional
def set_terminal_status(actor: str, terminal_id: str, status: str) -> Terminal:
    """Enable or disable a terminal."""
    if status not in set(TerminalStatus):
        raise InvalidRequest("Unknown terminal status.", field="status")
    terminal = get_terminal(terminal_id)
    terminal.status = status
    audit(actor, "terminal.set_status", "terminal", terminal.id, status=status)
    return terminal
