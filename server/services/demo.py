"""The demo alliance: levels, three merchants of different trades, terminals, members, cards, sales."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from sqlalchemy import select

from server.extensions import db
from server.models import StaffUser
from server.services import catalog, checkout, members, staff
from server.services.alliance import ensure_alliance
from server.services.demo_agents import seed_agent_network

SEED_ACTOR = "system:seed-demo"

DEMO_LEVELS = [
    dict(
        code="normal",
        name="普通会员",
        name_en="Member",
        rank=0,
        default_discount_bp=10_000,
        min_discount_bp=9_000,
        max_discount_bp=10_000,
    ),
    dict(
        code="silver",
        name="银卡会员",
        name_en="Silver",
        rank=1,
        upgrade_spend_fen=100_000,
        keep_spend_fen=80_000,
        default_discount_bp=9_500,
        min_discount_bp=8_500,
        max_discount_bp=10_000,
    ),
    dict(
        code="gold",
        name="金卡会员",
        name_en="Gold",
        rank=2,
        upgrade_spend_fen=500_000,
        keep_spend_fen=400_000,
        default_discount_bp=9_000,
        min_discount_bp=8_000,
        max_discount_bp=9_800,
    ),
    dict(
        code="diamond",
        name="钻石会员",
        name_en="Diamond",
        rank=3,
        upgrade_spend_fen=2_000_000,
        keep_spend_fen=1_600_000,
        default_discount_bp=8_500,
        min_discount_bp=7_000,
        max_discount_bp=9_500,
    ),
]

DEMO_MERCHANTS = [
    dict(
        name="老王川菜馆",
        trade="food",
        region="幸福街",
        address="幸福街 12 号",
        earn_rate_bp=200,
        max_redeem_bp=3_000,
        discounts={"silver": 9_500, "gold": 9_000, "diamond": 8_800},
    ),
    dict(
        name="鲜果超市",
        trade="retail",
        region="幸福街",
        address="幸福街 25 号",
        earn_rate_bp=100,
        max_redeem_bp=5_000,
        discounts={"silver": 9_800, "gold": 9_500, "diamond": 9_000},
    ),
    dict(
        name="丽人美发",
        trade="beauty",
        region="光明路",
        address="光明路 8 号",
        earn_rate_bp=300,
        max_redeem_bp=2_000,
        discounts={"normal": 9_500, "silver": 9_000, "gold": 8_500, "diamond": 8_000},
    ),
]

DEMO_MEMBERS = [
    ("13800138001", "张伟"),
    ("13800138002", "王芳"),
    ("13900139003", "李娜"),
    ("13700137004", "刘洋"),
    ("15000150005", "陈静"),
    ("18600186006", "杨磊"),
]


@dataclass
class DemoCredentials:
    """What seeding created that a person needs to try the demo (secrets exist only here)."""

    admin_username: str = "admin"
    admin_password: str = ""
    admin_token: str = ""
    merchants: list[dict] = field(default_factory=list)
    members: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        """JSON-friendly form."""
        return {
            "admin": {"username": self.admin_username, "password": self.admin_password, "token": self.admin_token},
            "merchants": self.merchants,
            "members": self.members,
        }


def is_seeded() -> bool:
    """True when the database already holds an alliance with an admin."""
    return db.session.scalar(select(StaffUser.id).where(StaffUser.role == "admin").limit(1)) is not None


def seed_demo() -> DemoCredentials | None:
    """Create the demo alliance if the database is empty; return its credentials (None if it existed)."""
    if is_seeded():
        return None
    ensure_alliance()
    creds = DemoCredentials(admin_password=secrets.token_urlsafe(12))
    admin = staff.create_staff_user(
        SEED_ACTOR, creds.admin_username, "admin", creds.admin_password, display_name="联盟管理员"
    )
    creds.admin_token = staff.create_personal_token(SEED_ACTOR, admin.id, "demo").token
    levels = {spec["code"]: catalog.create_level(SEED_ACTOR, **spec) for spec in DEMO_LEVELS}
    terminals = []
    for spec in DEMO_MERCHANTS:
        spec = dict(spec)
        discounts = spec.pop("discounts")
        merchant = catalog.create_merchant(SEED_ACTOR, **spec)
        for code, discount_bp in discounts.items():
            catalog.set_level_discount(SEED_ACTOR, merchant.id, levels[code].id, discount_bp)
        issued = catalog.create_terminal(SEED_ACTOR, merchant.id, "前台收银 1 号")
        terminals.append(issued.terminal)
        creds.merchants.append(
            {
                "id": merchant.id,
                "name": merchant.name,
                "terminal_id": issued.terminal.id,
                "terminal_token": issued.token,
            }
        )
    cards = members.create_cards(SEED_ACTOR, len(DEMO_MEMBERS) + 4)
    for (phone, name), card in zip(DEMO_MEMBERS, cards, strict=False):
        member = members.register_member(SEED_ACTOR, phone, name, recruited_by=creds.merchants[0]["id"])
        members.bind_card(SEED_ACTOR, member.id, card.card_no)
        creds.members.append({"id": member.id, "name": name, "phone": phone, "card_no": card.card_no})
    _demo_sales(terminals, creds.members)
    seed_agent_network(SEED_ACTOR, [m["id"] for m in creds.merchants], [m["id"] for m in creds.members])
    return creds


def _demo_sales(terminals, demo_members) -> None:
    """A few sales so that balances, levels and history are not empty."""
    plan = [(0, 0, 128_00), (1, 0, 56_80), (0, 1, 1_288_00), (2, 2, 268_00), (1, 3, 35_50), (0, 0, 99_00)]
    for terminal_index, member_index, amount in plan:
        terminal = terminals[terminal_index]
        found = checkout.identify(terminal, code=demo_members[member_index]["card_no"])
        checkout.record_sale(terminal, identification_token=found.token, amount_fen=amount)
