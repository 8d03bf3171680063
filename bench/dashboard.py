"""The console dashboard over a busy month: how long its figures and the whole page take.

    python -m bench.dashboard [--sales 100000] [--members 20000] [--merchants 50] [--database-url URL]

1. creates the schema in a throw-away SQLite file (or the PostgreSQL database given with
   --database-url, e.g. postgresql://postgres@127.0.0.1:5432/test, in a fresh schema that is dropped
   afterwards), the alliance, the demo levels and --merchants merchants with a terminal each through the
   services, then bulk-inserts --members members and --sales sales spread over the last 30 days;
2. times ``server.services.dashboard.build_dashboard`` for the alliance and for one merchant, and
   ``GET /console/`` signed in as an admin (figures, five SVG charts, the page). Target: the alliance
   page in <= 1 s with 100,000 sales in the window.

A missed target is reported, not an error.
"""

from __future__ import annotations

import argparse
import random
import re
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
PAGE_TARGET_SECONDS = 1.0
PASSWORD = "bench password 1"


def _timed(func, repeat: int = 3) -> float:
    """The median wall time of ``repeat`` calls, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _populate(args, app) -> list[str]:
    """Merchants through the services; members and sales in bulk. Returns the merchant ids."""
    from server.domain.ledger import MEMBER_POINTS
    from server.extensions import db
    from server.models import LedgerAccount, Member, Sale
    from server.models.base import new_id, utcnow
    from server.services import catalog, staff
    from server.services.alliance import ensure_alliance
    from server.services.demo import DEMO_LEVELS

    rng = random.Random(7)
    with app.app_context():
        ensure_alliance()
        levels = [catalog.create_level(ACTOR, **spec) for spec in DEMO_LEVELS]
        staff.create_staff_user(ACTOR, "bench-admin", "admin", PASSWORD)
        terminals = []
        for n in range(args.merchants):
            merchant = catalog.create_merchant(ACTOR, name=f"商户{n:03d}", trade="food")
            terminals.append(catalog.create_terminal(ACTOR, merchant.id, "收银台").terminal)
        now = utcnow()
        member_ids, accounts = [], []
        for _ in range(args.members):
            member_ids.append(new_id("mem"))
            accounts.append(
                {
                    "kind": MEMBER_POINTS,
                    "owner_id": member_ids[-1],
                    "balance": 0,
                    "allow_negative": False,
                    "created_at": now,
                }
            )
        db.session.execute(insert(LedgerAccount), accounts)
        account_ids = dict(db.session.execute(text("SELECT owner_id, id FROM ledger_accounts")).all())
        db.session.execute(
            insert(Member),
            [
                {
                    "id": member_id,
                    "display_name": f"会员{n}",
                    "phone_ciphertext": b"x",
                    "phone_hash": secrets.token_hex(32),
                    "phone_masked": "138****0000",
                    "level_id": rng.choice(levels).id,
                    "level_since": now,
                    "status": "active",
                    "points_account_id": account_ids[member_id],
                    "created_at": now - timedelta(days=rng.uniform(0, 60)),
                }
                for n, member_id in enumerate(member_ids)
            ],
        )
        rows = []
        for n in range(args.sales):
            terminal = rng.choice(terminals)
            amount = rng.randint(1_000, 50_000)
            redeem = rng.choice((0, 0, 0, rng.randint(1, 500)))
            rows.append(
                {
                    "id": new_id("sal"),
                    "merchant_id": terminal.merchant_id,
                    "terminal_id": terminal.id,
                    "member_id": rng.choice(member_ids),
                    "level_id": levels[0].id,
                    "method": "card",
                    "receipt_no": f"{terminal.code}-{n:07d}",
                    "amount_fen": amount,
                    "discount_bp": 10_000,
                    "discount_fen": 0,
                    "redeem_points": redeem,
                    "redeem_value_fen": redeem,
                    "payable_fen": amount - redeem,
                    "points_earned": (amount - redeem) // 100,
                    "refunded_fen": 0,
                    "points_reversed": 0,
                    "points_restored": 0,
                    "offline": False,
                    "occurred_at": now - timedelta(days=rng.uniform(0, 28)),
                    "created_at": now,
                }
            )
            if len(rows) == 10_000:
                db.session.execute(insert(Sale), rows)
                rows = []
        if rows:
            db.session.execute(insert(Sale), rows)
        db.session.commit()
        return [terminal.merchant_id for terminal in terminals]


def run(args) -> int:
    from server.services.dashboard import build_dashboard

    with scratch_app(args.database_url, "dashboard") as (app, url):
        started = time.perf_counter()
        merchants = _populate(args, app)
        print(
            f"populated {args.sales:,} sales, {args.members:,} members, {args.merchants} merchants "
            f"in {time.perf_counter() - started:.1f} s on {url.split(':')[0]}"
        )
        with app.app_context():
            alliance = _timed(lambda: build_dashboard())
            one = _timed(lambda: build_dashboard(merchants[0]))
            figures = build_dashboard()
            assert figures.total("sales_count") == args.sales, figures.total("sales_count")
        client = app.test_client()
        form = client.get("/console/sign-in").get_data(as_text=True)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1)
        credentials = {"csrf_token": token, "username": "bench-admin", "password": PASSWORD}
        response = client.post("/console/sign-in", data=credentials)
        assert response.status_code == 302, response.status_code
        page = _timed(lambda: client.get("/console/"))
        assert client.get("/console/").status_code == 200
    print(f"dashboard figures, alliance:     {alliance * 1000:8.1f} ms")
    print(f"dashboard figures, one merchant: {one * 1000:8.1f} ms")
    print(
        f"GET /console/ (figures + charts): {page * 1000:7.1f} ms   target <= {PAGE_TARGET_SECONDS:.1f} s "
        f"-> ratio {PAGE_TARGET_SECONDS / page:.2f} ({'met' if page <= PAGE_TARGET_SECONDS else 'NOT met'})"
    )
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--sales", type=int, default=100_000, help="sales in the last 30 days")
    parser.add_argument("--members", type=int, default=20_000)
    parser.add_argument("--merchants", type=int, default=50)
    parser.add_argument("--database-url", default="", help="PostgreSQL URL (default: a temporary SQLite file)")
    parser.add_argument("--smoke", action="store_true", help="a few seconds at tiny sizes: does the benchmark run?")
    args = parser.parse_args(argv)
    if args.smoke:
        args.sales, args.members, args.merchants = 2_000, 200, 5
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
