"""Alliance-wide settings and member levels.

Levels are reached by the money a member paid over the alliance's rolling window
(``AllianceSettings.level_window_days``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, CheckConstraint, ForeignKey, String, false, true
from sqlalchemy.orm import Mapped, mapped_column

from server.domain.statuses import LevelStatus
from server.models.base import Base, created_column, id_column, status_column, utcnow


class AllianceSettings(Base):
    """The single row of alliance-wide settings (id is always 1)."""

    __tablename__ = "alliance_settings"
    __table_args__ = (
        CheckConstraint("id = 1", name="single_row"),
        CheckConstraint("point_value_fen > 0", name="point_value_positive"),
        CheckConstraint("business_day_cutoff_hour >= 0 AND business_day_cutoff_hour < 24", name="cutoff_hour_range"),
        CheckConstraint(
            "invite_reward_points_per_yuan >= 0 AND invite_reward_days >= 0", name="invite_reward_not_negative"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True, default=1)
    name: Mapped[str] = mapped_column(String(100))
    member_code_prefix: Mapped[str] = mapped_column(String(2))
    card_number_prefix: Mapped[str] = mapped_column(String(8))
    point_value_fen: Mapped[int] = mapped_column(default=1)
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    offline_max_sale_fen: Mapped[int] = mapped_column(default=50_000)
    offline_max_sales_per_shift: Mapped[int] = mapped_column(default=50)
    offline_max_age_hours: Mapped[int] = mapped_column(default=24)
    card_serial_seq: Mapped[int] = mapped_column(default=0)
    terminal_number_seq: Mapped[int] = mapped_column(default=0, server_default="0")  # receipt prefixes
    # bumped by every transaction that changes the settings, a terminal, a merchant, a level or a webhook
    # subscription: the workers' copies of those rows are current while it stays (server/services/worker_copies.py)
    copies_version: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    level_window_days: Mapped[int] = mapped_column(default=365)
    # Points expiry (server/domain/lots.py): "months" (N months after earning), "year_end" (end of the
    # year after next) or "never"; members are told ``expiry_notice_days`` before.
    points_expiry_policy: Mapped[str] = mapped_column(String(16), default="year_end", server_default="year_end")
    points_expiry_months: Mapped[int] = mapped_column(default=24, server_default="24")
    expiry_notice_days: Mapped[int] = mapped_column(default=30, server_default="30")
    # Settlement: a business day starts at this hour, alliance time (server/domain/settlement.py).
    business_day_cutoff_hour: Mapped[int] = mapped_column(default=4, server_default="4")
    # Till policy: spending points needs proof from the member (chip card, dynamic member code or a
    # one-time SMS code); identification by phone or typed card number then only gives the discount.
    spend_requires_proof: Mapped[bool] = mapped_column(default=True, server_default=true())
    # member invitations (裂变分享): points per yuan the invited friend pays in their first N days, to the
    # inviter; 0 (the default) grants nothing. Never paid for the sign-up (server/services/sales/attribution.py)
    invite_reward_points_per_yuan: Mapped[int] = mapped_column(default=0, server_default="0")
    invite_reward_days: Mapped[int] = mapped_column(default=30, server_default="30")
    # benefit gifts (docs/benefits.md, "Distribution channels"): the SKU given at registration, at a level-up and
    # on the birthday (none: no gift); points buy cash-like benefits (third-party codes, cash vouchers) only
    # when the alliance holds the licence for it (multi-merchant stored value is a regulated prepaid product)
    registration_gift_sku_id: Mapped[str | None] = mapped_column(ForeignKey("benefit_skus.id"))
    level_up_gift_sku_id: Mapped[str | None] = mapped_column(ForeignKey("benefit_skus.id"))
    birthday_gift_sku_id: Mapped[str | None] = mapped_column(ForeignKey("benefit_skus.id"))
    points_buy_cash_like_licensed: Mapped[bool] = mapped_column(default=False, server_default=false())
    benefit_expiry_notice_days: Mapped[int] = mapped_column(default=3, server_default="3")
    # an alliance voucher worth at least this (face value, or the cap of a percent voucher) is shown in the
    # wallet as a one-time dynamic code only (none: every voucher shows its printed code)
    dynamic_voucher_min_fen: Mapped[int | None]
    # anti-fraud (docs/benefits.md, "Anti-fraud"): budgets overriding server.domain.benefit_budgets.DEFAULT_LIMITS,
    # and the face value from which a claim on the member's page needs an SMS code (0: never)
    benefit_limits: Mapped[dict] = mapped_column(JSON, default=dict)
    benefit_second_factor_fen: Mapped[int] = mapped_column(default=10_000, server_default="10000")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Level(Base):
    """A member tier with its discount bounds and upgrade/keep rules (rules are data)."""

    __tablename__ = "levels"
    __table_args__ = (
        CheckConstraint(
            "0 < min_discount_bp AND min_discount_bp <= default_discount_bp "
            "AND default_discount_bp <= max_discount_bp AND max_discount_bp <= 10000",
            name="discount_bounds",
        ),
        CheckConstraint("keep_spend_fen <= upgrade_spend_fen", name="keep_below_upgrade"),
    )

    id: Mapped[str] = id_column("lvl")
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(50))
    name_en: Mapped[str] = mapped_column(String(50), default="")
    rank: Mapped[int] = mapped_column(unique=True)
    upgrade_spend_fen: Mapped[int] = mapped_column(default=0)
    keep_spend_fen: Mapped[int] = mapped_column(default=0)
    protection_days: Mapped[int] = mapped_column(default=90)
    default_discount_bp: Mapped[int] = mapped_column(default=10_000)
    min_discount_bp: Mapped[int] = mapped_column(default=5_000)
    max_discount_bp: Mapped[int] = mapped_column(default=10_000)
    status: Mapped[str] = status_column(LevelStatus, LevelStatus.ACTIVE)  # retired: keeps members, takes no new
    created_at: Mapped[datetime] = created_column()
