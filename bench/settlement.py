"""Closing one business day of 1,000,000 sales over 1,000 merchants on PostgreSQL, against plain SQL.

    python -m bench.settlement [--sales 1000000] [--merchants 1000] [--refunds 10000] [--repeat 3] [--keep]

1. recreates the database ``alliance_bench_settlement``, migrates it (Alembic, as in production) and
   creates the alliance, one level, the merchants (each with a service fee), a terminal each and a
   thousand members through the services;
2. fills one business day (2026-03-02, alliance time, cut-off 04:00) with --sales sales and --refunds
   refunds by set-based SQL (``INSERT ... SELECT ... FROM generate_series``), spread evenly over the
   day and the merchants, plus one sale on the day before and one after (outside the window), then
   ANALYZE and CHECKPOINT. Closing reads only sales and refunds, so no ledger rows are made;
3. times, --repeat times each and alternating, (a) ``server.services.settlement.close_day`` — the call
   behind ``alliance-server settlement close`` and ``POST /api/v1/settlements/closings``, its own
   transaction and commit included, the settlement rows deleted again between runs — and (b) the
   limit: the same two ``GROUP BY merchant_id`` aggregations in plain SQL over the same rows through
   psycopg; prints the medians and the ratio (target: close ≤ 2 × the limit);
4. checks the settlement rows against an independent SQL sum, then drops the database (unless --keep).

Exit status 1 only when the run itself failed (totals disagree), not for a missed target.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg  # noqa: E402

from bench._postgres import (  # noqa: E402
    DEFAULT_SERVER_URL,
    checkpoint,
    database_url,
    drop_database,
    recreate_database,
    server_settings,
    server_url,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATABASE = "alliance_bench_settlement"
DAY = date(2026, 3, 2)
TARGET_RATIO = 2.0
ACTOR = "system:bench"

LIMIT_SQL = (
    """SELECT merchant_id, count(*), sum(payable_fen), sum(points_earned), sum(redeem_points)
         FROM sales WHERE created_at >= %(start)s AND created_at < %(end)s GROUP BY merchant_id""",
    """SELECT merchant_id, count(*), sum(amount_fen), sum(points_reversed), sum(points_restored)
         FROM refunds WHERE created_at >= %(start)s AND created_at < %(end)s GROUP BY merchant_id""",
)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sales", type=int, default=1_000_000)
    parser.add_argument("--merchants", type=int, default=1_000)
    parser.add_argument("--members", type=int, default=1_000)
    parser.add_argument("--refunds", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database-url", default=DEFAULT_SERVER_URL)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--smoke", action="store_true", help="a few seconds at tiny sizes (does the benchmark run?), a unique database"
    )
    args = parser.parse_args(argv)
    args.database = DATABASE
    if args.smoke:
        args.sales, args.merchants, args.members, args.refunds, args.repeat = 5_000, 10, 20, 100, 1
        args.database = f"{DATABASE}_smoke_{os.getpid()}"
    return args


def make_app(url: str):
    from server import create_app

    return create_app(SQLALCHEMY_DATABASE_URI=url, SECRET_KEY="bench-settlement-not-secret")


def migrate(app) -> None:
    import logging

    from flask_migrate import upgrade

    with app.app_context():
        upgrade(directory=str(PROJECT_ROOT / "migrations"))
    logging.getLogger("alembic").setLevel(logging.WARNING)


def seed(app, merchants: int, members: int) -> None:
    """Alliance, one level, merchants with fees and a terminal each, members: through the services."""
    from server.extensions import db
    from server.services import catalog
    from server.services import members as member_service
    from server.services.alliance import ensure_alliance
    from server.services.demo import DEMO_LEVELS
    from server.services.unit_of_work import transaction

    with app.app_context():
        with transaction():
            ensure_alliance()
            catalog.create_level(ACTOR, **DEMO_LEVELS[0])
            for index in range(merchants):
                merchant = catalog.create_merchant(ACTOR, name=f"商户 {index + 1:04d}", trade="food")
                merchant.service_fee_bp, merchant.service_fee_per_sale_fen = 30 + index % 70, index % 3
                catalog.create_terminal(ACTOR, merchant.id, "收银台")
            for index in range(members):
                member_service.register_member(ACTOR, f"139{index:08d}", f"会员{index:04d}")
        db.session.remove()


def fill_day(url: str, sales: int, refunds: int, start: datetime, end: datetime) -> None:
    """One business day of sales and refunds, set-based, spread over the window and the merchants."""
    seconds = (end - start).total_seconds()
    with psycopg.connect(url) as connection:
        connection.execute(
            """CREATE TEMP TABLE numbered_merchants AS
               SELECT row_number() OVER (ORDER BY m.id) - 1 AS n, m.id AS merchant_id, t.id AS terminal_id
                 FROM merchants m JOIN terminals t ON t.merchant_id = m.id"""
        )
        connection.execute(
            "CREATE TEMP TABLE numbered_members AS SELECT row_number() OVER (ORDER BY id) - 1 AS n, id FROM members"
        )
        level = connection.execute("SELECT id FROM levels LIMIT 1").fetchone()[0]
        merchant_count = connection.execute("SELECT count(*) FROM numbered_merchants").fetchone()[0]
        member_count = connection.execute("SELECT count(*) FROM numbered_members").fetchone()[0]
        connection.execute(
            """INSERT INTO sales (id, merchant_id, terminal_id, member_id, level_id, method, receipt_no,
                                  amount_fen, discount_bp, discount_fen, redeem_points, redeem_value_fen,
                                  payable_fen, points_earned, refunded_fen, points_reversed, points_restored,
                                  offline, occurred_at, created_at)
               SELECT 'sal_b' || i, nm.merchant_id, nm.terminal_id, mb.id, %(level)s, 'card', 'B-' || i,
                      s.amount, 10000, 0, s.redeem, s.redeem, s.amount - s.redeem, (s.amount - s.redeem) / 100,
                      0, 0, 0, false, ts, ts
                 FROM generate_series(0::bigint, %(sales)s - 1) AS i
                 CROSS JOIN LATERAL (SELECT 1000 + (i * 7919) %% 50000 AS amount,
                                            CASE WHEN i %% 10 = 0 THEN 100 ELSE 0 END AS redeem,
                                            %(start)s + make_interval(secs => (i * %(spread)s)::float8) AS ts) s
                 JOIN numbered_merchants nm ON nm.n = i %% %(merchants)s
                 JOIN numbered_members mb ON mb.n = i %% %(members)s""",
            {
                "level": level,
                "sales": sales,
                "start": start,
                "spread": seconds / sales,
                "merchants": merchant_count,
                "members": member_count,
            },
        )
        # one sale just before and one at the very end of the window: they must not be counted
        connection.execute(
            """INSERT INTO sales (id, merchant_id, terminal_id, member_id, level_id, method, receipt_no, amount_fen,
                                  discount_bp, discount_fen, redeem_points, redeem_value_fen, payable_fen,
                                  points_earned, refunded_fen, points_reversed, points_restored, offline,
                                  occurred_at, created_at)
               SELECT 'sal_out' || k, merchant_id, terminal_id, (SELECT id FROM numbered_members LIMIT 1), %(level)s,
                      'card', 'OUT-' || k, 5000, 10000, 0, 0, 0, 5000, 50, 0, 0, 0, false, ts, ts
                 FROM numbered_merchants,
                      (VALUES (1, %(before)s::timestamptz), (2, %(end)s::timestamptz)) AS o(k, ts)
                WHERE n = 0""",
            {
                "level": level,
                "before": start - timedelta(seconds=1),
                "end": end,
            },
        )
        connection.execute(
            """INSERT INTO refunds (id, sale_id, merchant_id, actor, amount_fen, points_reversed, points_restored,
                                    points_unrecovered, reason, created_at)
               SELECT 'rfd_b' || j, s.id, s.merchant_id, 'bench', s.payable_fen, s.points_earned, s.redeem_points,
                      0, '', s.created_at + interval '1 second'
                 FROM generate_series(0, %(refunds)s - 1) AS j
                 JOIN sales s ON s.id = 'sal_b' || ((j * 97) %% %(sales)s)
                WHERE s.created_at + interval '1 second' < %(end)s""",
            {"refunds": refunds, "sales": sales, "end": end},
        )
        connection.execute("ANALYZE sales")
        connection.execute("ANALYZE refunds")


def time_limit(url: str, start: datetime, end: datetime) -> tuple[float, list]:
    """The plain SQL aggregation of the day's rows (two GROUP BY queries), fetched to the client."""
    with psycopg.connect(url) as connection:
        began = time.perf_counter()
        rows = [connection.execute(sql, {"start": start, "end": end}).fetchall() for sql in LIMIT_SQL]
        connection.commit()
        return time.perf_counter() - began, rows


def time_close(app) -> float:
    """``close_day`` for the day, transaction and commit included; the rows are deleted again afterwards."""
    from sqlalchemy import text

    from server.extensions import db
    from server.services.settlement import close_day

    with app.app_context():
        db.session.execute(text("SELECT 1"))  # a pooled connection is ready, as in a running server
        db.session.commit()
        began = time.perf_counter()
        result = close_day(ACTOR, DAY)
        elapsed = time.perf_counter() - began
        assert result.closed_now
        db.session.remove()
    return elapsed


def reopen(url: str) -> None:
    with psycopg.connect(url) as connection:
        connection.execute("DELETE FROM settlements")
        connection.execute("DELETE FROM settlement_days")


def check(url: str, start: datetime, end: datetime) -> list[str]:
    """The settlement rows against an independent sum of the same day."""
    problems = []
    with psycopg.connect(url) as connection:
        stated = connection.execute(
            "SELECT sum(sales_count), sum(member_sales_fen), sum(points_granted), sum(points_accepted), count(*)"
            " FROM settlements"
        ).fetchone()
        sales = connection.execute(
            "SELECT count(*), sum(payable_fen), sum(points_earned), sum(redeem_points) FROM sales"
            " WHERE created_at >= %s AND created_at < %s",
            (start, end),
        ).fetchone()
        refunds = connection.execute(
            "SELECT sum(points_reversed), sum(points_restored) FROM refunds WHERE created_at >= %s AND created_at < %s",
            (start, end),
        ).fetchone()
        merchants = connection.execute("SELECT count(*) FROM merchants").fetchone()[0]
    expected = (sales[0], sales[1], sales[2] - (refunds[0] or 0), sales[3] - (refunds[1] or 0), merchants)
    if tuple(int(value) for value in stated) != tuple(int(value) for value in expected):
        problems.append(f"settlements {stated} disagree with the sales {expected}")
    return problems


def main(argv=None) -> int:
    args = parse_args(argv)
    base = server_url(args.database_url)
    url = database_url(base, args.database)
    libpq_url = url.replace("postgresql+psycopg://", "postgresql://")
    settings = server_settings(base)
    try:
        began = time.monotonic()
        recreate_database(base, args.database)
        app = make_app(url)
        migrate(app)
        seed(app, args.merchants, args.members)
        from server.services.settlement import day_window

        with app.app_context():
            start, end = day_window(DAY)
        seeded = time.monotonic()
        fill_day(libpq_url, args.sales, args.refunds, start, end)
        filled = time.monotonic()
        with psycopg.connect(libpq_url) as connection:
            in_day = connection.execute(
                "SELECT (SELECT count(*) FROM sales WHERE created_at >= %(s)s AND created_at < %(e)s),"
                " (SELECT count(*) FROM refunds WHERE created_at >= %(s)s AND created_at < %(e)s),"
                " pg_size_pretty(pg_total_relation_size('sales'))",
                {"s": start, "e": end},
            ).fetchone()
        print(
            f"prepared {args.database}: {args.merchants} merchants via the services in {seeded - began:.1f} s; "
            f"{in_day[0]:,} sales and {in_day[1]:,} refunds in the day (sales table {in_day[2]}) "
            f"by INSERT ... SELECT generate_series in {filled - seeded:.1f} s",
            flush=True,
        )
        checkpoint(base)
        time_limit(libpq_url, start, end)  # warm the cache once for both
        limits, closes = [], []
        for run in range(args.repeat):
            limit, _ = time_limit(libpq_url, start, end)
            limits.append(limit)
            if run:
                reopen(libpq_url)
            closes.append(time_close(app))
        problems = check(libpq_url, start, end)
        with app.app_context():
            from server.extensions import db

            db.engine.dispose()
    finally:
        if not args.keep:
            drop_database(base, args.database)
    limit, close = statistics.median(limits), statistics.median(closes)
    ratio = close / limit
    print()
    print(
        f"== one business day on PostgreSQL {settings.get('server_version', '?')} "
        f"(fsync {settings.get('fsync')}, shared_buffers {settings.get('shared_buffers')})"
    )
    print(f"sales in the day            {in_day[0]:>12,}   refunds {in_day[1]:,}   merchants {args.merchants:,}")
    print(f"close_day (median of {args.repeat})     {close:8.3f} s   runs: {', '.join(f'{t:.3f}' for t in closes)}")
    print(f"plain SQL GROUP BY (limit)  {limit:8.3f} s   runs: {', '.join(f'{t:.3f}' for t in limits)}")
    print(f"ratio close / limit         {ratio:8.2f}")
    print(f"target <= {TARGET_RATIO:.0f} x the limit: {'MET' if ratio <= TARGET_RATIO else 'NOT MET'}")
    for problem in problems:
        print(f"PROBLEM: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
