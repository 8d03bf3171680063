"""A dataset for the benefit analytics: a January cohort of members who received a voucher, comparable members
who did not, and their sales before and after (through the services, then moved to their dates)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from server.extensions import db
from server.models import BenefitCode, BenefitGrant, Sale
from server.services import benefit_grants, benefit_stock, checkout
from server.services.staff import terminal_for_token
from tests.benefits.helpers import MANAGER, vouchers
from tests.builders import make_member, make_world, next_phone

JANUARY = datetime(2026, 1, 1, tzinfo=UTC) - timedelta(hours=8)  # 1 January, Shanghai
GRANTED = datetime(2026, 1, 5, 2, tzinfo=UTC)  # the January cohort's benefit (10:00 local)
BEFORE = datetime(2025, 12, 10, 4, tzinfo=UTC)  # "active": a sale in the 90 days before the month
NOW = datetime(2026, 6, 30, tzinfo=UTC)  # every window of the January cohort has ended


@dataclass
class AnalyticsData:
    world: object
    sku: object
    members: dict  # name -> member


def _sell(shop, card, when: datetime) -> None:
    terminal = terminal_for_token(shop.token)
    found = checkout.identify(terminal, code=card.card_no)
    sale = checkout.record_sale(terminal, identification_token=found.token, amount_fen=5_000)
    db.session.execute(update(Sale).where(Sale.id == sale.sale.id).values(occurred_at=when))
    db.session.commit()


def build_analytics_data() -> AnalyticsData:
    """In January four active members get a voucher and come back 20, 45, 80 and 120 days later; a fifth
    gets one without having spent before and comes back after 20 days. Two active members get nothing (one
    comes back 20 days into January); one more active member gets a voucher only in February (not a
    comparison member for January). One January voucher is redeemed at shop A; the February one expires.
    """
    world = make_world()
    sku = vouchers("ANALYTICS", quantity=10)
    names = ["a20", "b45", "c80", "d120", "new20", "same20", "never", "feb"]
    phones = {name: next_phone() for name in names}
    people = {name: make_member(name=name, phone=phones[name]) for name in names}
    for name in names:
        if name != "new20":
            _sell(world.shop_a, people[name][1], BEFORE)
    listed = "".join(f"{phones[name]}\n" for name in names if name not in {"same20", "never"})
    benefit_grants.grant_batch(MANAGER, sku.id, "january.csv", f"phone\n{listed}".encode())
    for name, member_card in people.items():
        member = member_card[0]
        when = datetime(2026, 2, 10, 2, tzinfo=UTC) if name == "feb" else GRANTED
        db.session.execute(update(BenefitGrant).where(BenefitGrant.member_id == member.id).values(created_at=when))
        db.session.execute(update(BenefitCode).where(BenefitCode.member_id == member.id).values(issued_at=when))
    db.session.commit()
    for name, days in (("a20", 20), ("b45", 45), ("c80", 80), ("d120", 120), ("new20", 20)):
        _sell(world.shop_b, people[name][1], GRANTED + timedelta(days=days))
    _sell(world.shop_b, people["same20"][1], JANUARY + timedelta(days=20))
    first = db.session.scalars(select_code(people["a20"][0].id)).one()
    benefit_stock.redeem(
        benefit_stock.reveal_for_member(people["a20"][0].id, first.id)["code"], world.shop_a.merchant.id
    )
    db.session.commit()
    db.session.execute(
        update(BenefitCode).where(BenefitCode.id == first.id).values(redeemed_at=datetime(2026, 1, 20, 4, tzinfo=UTC))
    )
    feb = db.session.scalars(select_code(people["feb"][0].id)).one()
    db.session.execute(
        update(BenefitCode)
        .where(BenefitCode.id == feb.id)
        .values(status="expired", expired_at=datetime(2026, 3, 1, tzinfo=UTC))
    )
    db.session.commit()
    return AnalyticsData(world, sku, {name: member_card[0] for name, member_card in people.items()})


def select_code(member_id: str):
    return select(BenefitCode).where(BenefitCode.member_id == member_id)
