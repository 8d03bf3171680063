"""Benefit retention over a busy year: how long 12 cohorts take against one grouped pass over the sales.

    python -m bench.benefit_retention [--members 20000] [--sales 200000] [--every 4] [--database-url URL] [--smoke]

1. creates the schema in a throw-away SQLite file (or the PostgreSQL database given with --database-url, in
   a fresh schema dropped afterwards), the alliance, the demo levels and 10 merchants through the services,
   then bulk-inserts --members members, --sales sales spread over the last 400 days and, for every
   --every-th member, a benefit code and its grant at a moment of the last 365 days;
2. times ``benefit_analytics.retention`` for the last 12 cohort months and ``benefit_summary`` by channel,
   and, as the baseline measured in the same run, one grouped pass over every sale (``SELECT member_id,
   count(*), max(occurred_at) FROM sales GROUP BY member_id``). The retention reads the sales twice per
   cohort (the treated and the comparison query); target: 12 cohorts in at most 24 x the baseline, and
   under 3 s for the console page with the defaults.

A missed target is reported, not an error.
"""

from __future__ import annotations

import argparse
import random
import secrets
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, text  # noqa: E402

from bench._apps import scratch_app  # noqa: E402

ACTOR = "system:bench"
RATIO_TARGET = 24.0  # two passes over the sales per cohort, 12 cohorts
SECONDS_TARGET = 3.0


def _timed(func, repeat: int = 3) -> float:
    """The median wall time of ``repeat`` calls, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _populate(args, app) -> int:
    """Levels and merchants through the services; members, sales, codes and grants in bulk. Returns the grants."""
    from server.domain.ledger import MEMBER_POINTS
    from server.domain.permissions import Actor
    from server.extensions import db
    from server.models import BenefitCode, BenefitGrant, LedgerAccount, Member, Sale
    from server.models.base import new_id, utcnow
    from server.services import benefit_catalog, catalog
    from server.services.alliance import ensure_alliance
    from server.services.demo import DEMO_LEVELS

    rng = random.Random(11)
    with app.app_context():
        ensure_alliance()
        levels = [catalog.create_level(ACTOR, **spec) for spec in DEMO_LEVELS]
        terminals = []
        for n in range(10):
            merchant = catalog.create_merchant(ACTOR, name=f"商户{n:03d}", trade="food")
            terminals.append(catalog.create_terminal(ACTOR, merchant.id, "收银台").terminal)
        manager = Actor("staff:bench", "admin", None)
        sku = benefit_catalog.create_sku(
            manager,
            code="BENCH",
            name="满100减10",
            kind="voucher_cash",
            face_value_fen=1_000,
            funder="alliance",
            valid_days=90,
        )
        purchase = benefit_catalog.create_purchase(
            manager, sku_id=sku.id, quantity=1, source="generated", purchase_date=utcnow().date()
        )
        now = utcnow()
        member_ids = [new_id("mem") for _ in range(args.members)]
        db.session.execute(
            insert(LedgerAccount),
            [
                {"kind": MEMBER_POINTS, "owner_id": m, "balance": 0, "allow_negative": False, "created_at": now}
                for m in member_ids
            ],
        )
        accounts = dict(db.session.execute(text("SELECT owner_id, id FROM ledger_accounts")).all())
        member_levels = {m: rng.choice(levels).id for m in member_ids}
        db.session.execute(
            insert(Member),
            [
                {
                    "id": m,
                    "display_name": f"会员{n}",
                    "phone_ciphertext": b"x",
                    "phone_hash": secrets.token_hex(32),
                    "phone_masked": "138****0000",
                    "level_id": member_levels[m],
                    "level_since": now,
                    "status": "active",
                    "points_account_id": accounts[m],
                    "created_at": now - timedelta(days=500),
                }
                for n, m in enumerate(member_ids)
            ],
        )
        rows = []
        for n in range(args.sales):
            terminal, member = rng.choice(terminals), rng.choice(member_ids)
            rows.append(
                {
                    "id": new_id("sal"),
                    "merchant_id": terminal.merchant_id,
                    "terminal_id": terminal.id,
                    "member_id": member,
                    "level_id": member_levels[member],
                    "method": "card",
                    "receipt_no": f"{terminal.code}-{n:07d}",
                    "amount_fen": 5_000,
                    "discount_bp": 10_000,
                    "discount_fen": 0,
                    "redeem_points": 0,
                    "redeem_value_fen": 0,
                    "payable_fen": 5_000,
                    "points_earned": 50,
                    "refunded_fen": 0,
                    "points_reversed": 0,
                    "points_restored": 0,
                    "offline": False,
                    "occurred_at": now - timedelta(days=rng.uniform(0, 400)),
                    "created_at": now,
                }
            )
            if len(rows) == 10_000:
                db.session.execute(insert(Sale), rows)
                rows = []
        if rows:
            db.session.execute(insert(Sale), rows)
        codes, grants = [], []
        for member in member_ids[:: args.every]:
            at = now - timedelta(days=rng.uniform(0, 365))
            code_id = new_id("bcd")
            codes.append(
                {
                    "id": code_id,
                    "sku_id": sku.id,
                    "purchase_id": purchase.id,
                    "lookup_hash": secrets.token_hex(32),
                    "sealed": b"x",
                    "last4": "0000",
                    "status": "issued",
                    "member_id": member,
                    "void_reason": "",
                    "created_at": at,
                    "issued_at": at,
                }
            )
            grants.append(
                {
                    "id": new_id("bgr"),
                    "channel": rng.choice(("campaign", "batch", "birthday")),
                    "source_id": code_id,
                    "member_id": member,
                    "sku_id": sku.id,
                    "code_id": code_id,
                    "points_spent": 0,
                    "created_by": ACTOR,
                    "created_at": at,
                }
            )
        db.session.execute(insert(BenefitCode), codes)
        db.session.execute(insert(BenefitGrant), grants)
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            for table in ("members", "sales", "benefit_codes", "benefit_grants"):
                db.session.execute(text(f"ANALYZE {table}"))
            db.session.commit()
        return len(grants)


def run(args) -> int:
    from server.extensions import db
    from server.services import benefit_analytics

    with scratch_app(args.database_url, "retention") as (app, url):
        started = time.perf_counter()
        granted = _populate(args, app)
        print(
            f"populated {args.members:,} members, {args.sales:,} sales, {granted:,} grants "
            f"in {time.perf_counter() - started:.1f} s on {url.split(':')[0]}"
        )
        with app.app_context():
            baseline = _timed(
                lambda: db.session.execute(
                    text("SELECT member_id, count(*), max(occurred_at) FROM sales GROUP BY member_id")
                ).all()
            )
            retention = _timed(lambda: benefit_analytics.retention())
            summary = _timed(lambda: benefit_analytics.benefit_summary(group_by="channel"))
            cohorts = benefit_analytics.retention()
            assert len(cohorts) == 12, len(cohorts)
            assert sum(cohort.treated for cohort in cohorts) <= granted
            assert sum(row["issued"] for row in benefit_analytics.benefit_summary(group_by="channel")) == granted
            db.session.remove()
    ratio = retention / baseline if baseline else float("inf")
    print(f"baseline: one grouped pass over the sales: {baseline * 1000:8.1f} ms")
    print(f"benefit summary by channel:                {summary * 1000:8.1f} ms")
    print(
        f"retention, 12 cohorts: {retention * 1000:8.1f} ms   = {ratio:.1f} x baseline (target <= {RATIO_TARGET:.0f}: "
        f"{'met' if ratio <= RATIO_TARGET else 'NOT met'}); target <= {SECONDS_TARGET:.0f} s: "
        f"{'met' if retention <= SECONDS_TARGET else 'NOT met'}"
    )
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--members", type=int, default=20_000)
    parser.add_argument("--sales", type=int, default=200_000, help="sales over the last 400 days")
    parser.add_argument("--every", type=int, default=4, help="every n-th member received a benefit")
    parser.add_argument("--database-url", default="", help="PostgreSQL URL (default: a temporary SQLite file)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, a few seconds")
    args = parser.parse_args(argv)
    if args.smoke:
        args.members, args.sales = 200, 2_000
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
