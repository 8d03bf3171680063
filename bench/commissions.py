"""Computing and posting the commissions of one business day of 1,000,000 sales on PostgreSQL, against plain SQL.

    python -m bench.commissions [--sales 1000000] [--merchants 1000] [--agents 200] [--repeat 3] [--keep]

1. recreates the database ``alliance_bench_commissions``, migrates it and seeds the alliance, merchants,
   members (bench/settlement.py's seeding) and --agents agents through the services; each merchant is
   serviced by an agent, every second member was recruited by one;
2. fills one business day with --sales sales by set-based SQL, each with its attribution snapshot
   (servicing and recruiting agent), then VACUUM ANALYZE;
3. times, --repeat times each and alternating, (a) ``server.services.commissions.earn_day`` — the day
   closing's commission step: every commission of the day computed by the rule and inserted
   (``INSERT … SELECT``), the money posted in one aggregated transaction, commit included — and (b) the
   limit: a plain ``INSERT INTO commissions … SELECT`` of the very same entries from a copy made after the
   first run (same table, same indexes and constraints); the tables are emptied between runs; prints the
   medians and the ratio (target: earn ≤ 2 × the limit);
4. checks the entries against the domain rule on a sample of sales and the money ledger against the
   entries, then drops the database (unless --keep).

Exit status 1 only when the run itself failed (figures disagree), not for a missed target.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
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
from bench.settlement import DAY, fill_day, make_app, migrate, seed  # noqa: E402

DATABASE = "alliance_bench_commissions"
TARGET_RATIO = 2.0
ACTOR = "system:bench"
COLUMNS = (
    "sale_id, merchant_id, business_day, beneficiary_kind, beneficiary_id, role, depth, policy_version, base_fen, "
    "rate_bp, amount_fen, reversed_fen, earned_fen, funded_by, status, available_on, created_at"
)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sales", type=int, default=1_000_000)
    parser.add_argument("--merchants", type=int, default=1_000)
    parser.add_argument("--members", type=int, default=1_000)
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database-url", default=DEFAULT_SERVER_URL)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--smoke", action="store_true", help="a few seconds at tiny sizes (does the benchmark run?), a unique database"
    )
    args = parser.parse_args(argv)
    args.database = DATABASE
    if args.smoke:
        args.sales, args.merchants, args.members, args.agents, args.repeat = 5_000, 10, 20, 4, 1
        args.database = f"{DATABASE}_smoke_{os.getpid()}"
    return args


def seed_agents(app, count: int) -> None:
    """Agents through the services, active at the lowest level (5 %)."""
    from server.extensions import db
    from server.services import agents
    from server.services.unit_of_work import transaction

    with app.app_context():
        with transaction():
            for index in range(count):
                agent = agents.create_agent(ACTOR, kind="person", name=f"代理 {index:04d}", phone=f"137{index:08d}")
                agent.status = "active"
        db.session.remove()


def attribute(url: str) -> None:
    """Each merchant serviced by an agent, every second member recruited by one; the day's sales snapshot it."""
    with psycopg.connect(url) as connection:
        connection.execute(
            """WITH a AS (SELECT row_number() OVER (ORDER BY id) - 1 AS n, id FROM agents),
                    m AS (SELECT row_number() OVER (ORDER BY id) - 1 AS n, id FROM merchants)
               UPDATE merchants SET agent_id = a.id FROM m, a
                WHERE merchants.id = m.id AND a.n = m.n % (SELECT count(*) FROM agents)"""
        )
        # the workers' copies of the merchants are current while this version stays (server/services/worker_copies.py)
        connection.execute("UPDATE alliance_settings SET copies_version = copies_version + 1")
        connection.execute(
            """WITH a AS (SELECT row_number() OVER (ORDER BY id) - 1 AS n, id FROM agents),
                    b AS (SELECT row_number() OVER (ORDER BY id) - 1 AS n, id FROM members)
               UPDATE members SET recruited_by_agent_id = a.id FROM b, a
                WHERE members.id = b.id AND b.n % 2 = 0 AND a.n = (b.n * 7) % (SELECT count(*) FROM agents)"""
        )
        connection.execute(
            """UPDATE sales SET servicing_agent_id = m.agent_id, recruiting_agent_id = mb.recruited_by_agent_id
                 FROM merchants m, members mb WHERE m.id = sales.merchant_id AND mb.id = sales.member_id"""
        )
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE sales")


def empty(url: str) -> None:
    with psycopg.connect(url) as connection:
        connection.execute(
            "TRUNCATE commission_adjustments, commissions, money_entries, money_transactions, money_accounts"
        )


def time_earn(app, start, end) -> float:
    """``earn_day`` in its own transaction, commit included."""
    from sqlalchemy import text

    from server.extensions import db
    from server.services.commissions import earn_day
    from server.services.unit_of_work import transaction

    with app.app_context():
        db.session.execute(text("SELECT 1"))
        db.session.commit()
        began = time.perf_counter()
        with transaction():
            created = earn_day(DAY, start, end, ACTOR)
        elapsed = time.perf_counter() - began
        assert created > 0
        db.session.remove()
    return elapsed


def keep_copy(url: str) -> int:
    with psycopg.connect(url) as connection:
        connection.execute("DROP TABLE IF EXISTS bench_entries")
        connection.execute(f"CREATE TABLE bench_entries AS SELECT {COLUMNS} FROM commissions")
        connection.execute("ANALYZE bench_entries")
        return connection.execute("SELECT count(*) FROM bench_entries").fetchone()[0]


def time_limit(url: str) -> float:
    """The plain SQL insert of the same entries (no computation, no money)."""
    with psycopg.connect(url) as connection:
        began = time.perf_counter()
        connection.execute(f"INSERT INTO commissions ({COLUMNS}) SELECT {COLUMNS} FROM bench_entries")
        connection.commit()
        return time.perf_counter() - began


def check(app, url: str, start, end) -> list[str]:
    """The entries against the domain rule (a sample of sales), the money ledger against the entries."""
    from server.domain.commissions import sale_commissions
    from server.services.commissions import current_policy, day_sale_facts

    problems = []
    with psycopg.connect(url) as connection:
        recorded = {
            (sale, kind, who, role): amount
            for sale, kind, who, role, amount in connection.execute(
                "SELECT sale_id, beneficiary_kind, beneficiary_id, role, amount_fen FROM commissions"
                " WHERE sale_id IN (SELECT id FROM sales ORDER BY id LIMIT 2000)"
            )
        }
        pending, payable, entries = connection.execute(
            "SELECT (SELECT sum(balance) FROM money_accounts WHERE kind = 'commission_pending'),"
            " (SELECT sum(balance) FROM money_accounts WHERE kind = 'merchant_commission_payable'),"
            " (SELECT sum(earned_fen) FROM commissions)"
        ).fetchone()
    with app.app_context():
        policy = current_policy()
        sample = {key[0] for key in recorded}
        expected = {
            (facts.sale_id, entry.beneficiary_kind, entry.beneficiary_id, entry.role): entry.amount_fen
            for facts in day_sale_facts(start, end, policy)
            if facts.sale_id in sample
            for entry in sale_commissions(policy, facts)
        }
    if expected != recorded:
        problems.append(f"{len(set(expected.items()) ^ set(recorded.items()))} entries differ from the domain rule")
    if not (pending == -payable == entries):
        problems.append(f"money ledger pending {pending}, payable {payable}, entries {entries} disagree")
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
        seed_agents(app, args.agents)
        from server.services.settlement import day_window

        with app.app_context():
            start, end = day_window(DAY)
        seeded = time.monotonic()
        fill_day(libpq_url, args.sales, 0, start, end)
        attribute(libpq_url)
        filled = time.monotonic()
        print(
            f"prepared {args.database}: {args.merchants} merchants, {args.agents} agents via the services in "
            f"{seeded - began:.1f} s; {args.sales:,} sales with their attribution in {filled - seeded:.1f} s",
            flush=True,
        )
        checkpoint(base)
        earns, limits, entries = [], [], 0
        for run in range(args.repeat):
            empty(libpq_url)
            earns.append(time_earn(app, start, end))
            if run == 0:
                problems = check(app, libpq_url, start, end)
                entries = keep_copy(libpq_url)
            empty(libpq_url)
            limits.append(time_limit(libpq_url))
        with app.app_context():
            from server.extensions import db

            db.engine.dispose()
    finally:
        if not args.keep:
            drop_database(base, args.database)
    earn, limit = statistics.median(earns), statistics.median(limits)
    ratio = earn / limit
    print()
    print(
        f"== commissions of one business day on PostgreSQL {settings.get('server_version', '?')} "
        f"(fsync {settings.get('fsync')}, shared_buffers {settings.get('shared_buffers')})"
    )
    print(f"sales in the day              {args.sales:>12,}   commission entries {entries:,}")
    print(f"earn_day (median of {args.repeat})        {earn:8.3f} s   runs: {', '.join(f'{t:.3f}' for t in earns)}")
    print(f"plain INSERT … SELECT (limit) {limit:8.3f} s   runs: {', '.join(f'{t:.3f}' for t in limits)}")
    print(f"ratio earn / limit            {ratio:8.2f}")
    print(f"target <= {TARGET_RATIO:.0f} x the limit: {'MET' if ratio <= TARGET_RATIO else 'NOT MET'}")
    for problem in problems:
        print(f"PROBLEM: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
