"""Evaluating 10,000 agents over a month of 1,000,000 sales on PostgreSQL, against plain SQL.

    python -m bench.agents [--agents 10000] [--sales 1000000] [--members 20000] [--repeat 3] [--keep] [--smoke]

1. recreates the database ``alliance_bench_agents``, migrates it (Alembic, as in production: the regions
   are loaded too) and creates the alliance, one member level, the five agent levels and one merchant
   through the services;
2. fills, by set-based SQL (``INSERT ... SELECT ... FROM generate_series``), the agents (a tenth of them
   city agents, the others county agents under them), one merchant per agent serviced by it (sharing the
   first merchant's points accounts) with a terminal each, the members (four in five recruited by an
   agent) with a card each, and --sales sales spread over November 2026 (alliance time), one in a hundred
   partly refunded, each with its attribution snapshot (servicing and recruiting agent) as the pipeline
   writes it; then ANALYZE and CHECKPOINT;
3. times, --repeat times each and alternating, (a) ``server.services.agent_evaluation.evaluate_agents`` for
   2026-11 — the call behind ``alliance-server agents evaluate`` and ``POST /api/v1/agent-evaluations``,
   its transaction and commit included, its records deleted again between runs — and (b) the limit: the
   same aggregations (serviced figures, recruited members, first card uses, active days, the two-week
   trend) in plain SQL through psycopg; prints the medians and the ratio (targets: evaluation ≤ 2 × the
   limit and ≤ 30 s);
4. checks one record per agent and the serviced total against an independent sum, then drops the database
   (unless --keep).

Exit status 1 only when the run itself failed (records or totals wrong), not for a missed target.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, datetime
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
DATABASE = "alliance_bench_agents"
PERIOD = "2026-11"
NOW = datetime(2026, 12, 2, tzinfo=UTC)
TARGET_RATIO = 2.0
TARGET_SECONDS = 30.0
ACTOR = "system:bench"

CONSUMPTION = "s.payable_fen + s.redeem_value_fen - s.refunded_fen"
DAY = "floor((extract(epoch FROM s.occurred_at) + %(offset)s) / 86400)"
LIMIT_SQL = (
    f"""SELECT s.servicing_agent_id, sum({CONSUMPTION}), sum(s.payable_fen + s.redeem_value_fen),
               sum(s.refunded_fen), count(*), count(DISTINCT s.merchant_id)
          FROM sales s
         WHERE s.servicing_agent_id IS NOT NULL AND s.occurred_at >= %(start)s AND s.occurred_at < %(end)s
         GROUP BY s.servicing_agent_id""",
    """SELECT s.recruiting_agent_id, count(DISTINCT s.member_id)
         FROM sales s
        WHERE s.recruiting_agent_id IS NOT NULL AND s.occurred_at >= %(start)s AND s.occurred_at < %(end)s
        GROUP BY s.recruiting_agent_id""",
    """SELECT agent_id, count(*) FROM (
           SELECT s.recruiting_agent_id AS agent_id, s.card_id, min(s.occurred_at) AS first
             FROM sales s
            WHERE s.recruiting_agent_id IS NOT NULL AND s.card_id IS NOT NULL AND s.occurred_at < %(end)s
            GROUP BY s.recruiting_agent_id, s.card_id) f
        WHERE first >= %(start)s GROUP BY agent_id""",
    f"""SELECT agent_id, count(DISTINCT day) FROM (
           SELECT s.servicing_agent_id AS agent_id, {DAY} AS day FROM sales s
            WHERE s.servicing_agent_id IS NOT NULL AND s.occurred_at >= %(start)s AND s.occurred_at < %(end)s
           UNION ALL
           SELECT s.recruiting_agent_id, {DAY} FROM sales s
            WHERE s.recruiting_agent_id IS NOT NULL AND s.occurred_at >= %(start)s AND s.occurred_at < %(end)s
        ) d GROUP BY agent_id""",
    f"""SELECT s.servicing_agent_id, sum({CONSUMPTION}) FILTER (WHERE s.occurred_at < %(middle)s),
               sum({CONSUMPTION}) FILTER (WHERE s.occurred_at >= %(middle)s)
          FROM sales s
         WHERE s.servicing_agent_id IS NOT NULL AND s.occurred_at >= %(trend_start)s AND s.occurred_at < %(end)s
         GROUP BY s.servicing_agent_id""",
)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--sales", type=int, default=1_000_000)
    parser.add_argument("--members", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database-url", default=DEFAULT_SERVER_URL)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--smoke", action="store_true", help="a few seconds at tiny sizes (does the benchmark run?), a unique database"
    )
    args = parser.parse_args(argv)
    args.database = DATABASE
    if args.smoke:
        args.agents, args.sales, args.members, args.repeat = 50, 2_000, 100, 1
        args.database = f"{DATABASE}_smoke_{os.getpid()}"
    return args


def make_app(url: str):
    from server import create_app

    return create_app(SQLALCHEMY_DATABASE_URI=url, SECRET_KEY="bench-agents-not-secret")


def migrate(app) -> None:
    import logging

    from flask_migrate import upgrade

    with app.app_context():
        upgrade(directory=str(PROJECT_ROOT / "migrations"))
    logging.getLogger("alembic").setLevel(logging.WARNING)


def seed(app) -> None:
    """Alliance, a member level, the agent levels and one merchant (for its points accounts): the services."""
    from server.extensions import db
    from server.services import agents, catalog
    from server.services.alliance import ensure_alliance
    from server.services.demo import DEMO_LEVELS
    from server.services.unit_of_work import transaction

    with app.app_context():
        with transaction():
            ensure_alliance()
            catalog.create_level(ACTOR, **DEMO_LEVELS[0])
            agents.ensure_default_levels()
            catalog.create_merchant(ACTOR, name="样板商户", trade="food")
        db.session.remove()


def fill(url: str, agents: int, members: int, sales: int, start: datetime, end: datetime) -> None:
    """Agents, their merchants and terminals, members with cards, and the month's sales, set-based."""
    cities = max(1, agents // 10)
    with psycopg.connect(url) as connection:
        level = connection.execute("SELECT id FROM agent_levels ORDER BY rank LIMIT 1").fetchone()[0]
        member_level = connection.execute("SELECT id FROM levels LIMIT 1").fetchone()[0]
        issued, accepted = connection.execute(
            "SELECT points_issued_account_id, points_accepted_account_id FROM merchants LIMIT 1"
        ).fetchone()
        connection.execute(
            """INSERT INTO agents (id, kind, name, contact_name, phone_ciphertext, phone_hash, phone_masked, status,
                                   status_reason, level_id, level_since, upper_agent_id, created_at)
               SELECT 'agt_b' || i, 'person', '代理 ' || i, '', '\\x00'::bytea, 'bench-' || i, '136****0000',
                      'active', 'bench', %(level)s, now(),
                      CASE WHEN i < %(cities)s THEN NULL ELSE 'agt_b' || (i %% %(cities)s) END, now()
                 FROM generate_series(0, %(agents)s - 1) AS i ORDER BY i""",
            {"level": level, "cities": cities, "agents": agents},
        )
        connection.execute(
            """INSERT INTO merchants (id, name, trade, region, address, contact_phone, status, earn_rate_bp,
                                      max_redeem_bp, terminal_seq, service_fee_bp, service_fee_per_sale_fen,
                                      bank_account_name, bank_name, bank_account_masked, points_issued_account_id,
                                      points_accepted_account_id, agent_id, created_at)
               SELECT 'mer_b' || i, '商户 ' || i, 'food', '', '', '', 'active', 100, 5000, 1, 0, 0, '', '', '',
                      %(issued)s, %(accepted)s, 'agt_b' || i, now()
                 FROM generate_series(0, %(agents)s - 1) AS i""",
            {"issued": issued, "accepted": accepted, "agents": agents},
        )
        connection.execute(
            """INSERT INTO terminals (id, merchant_id, code, name, token_hash, status, receipt_seq, created_at)
               SELECT 'trm_b' || i, 'mer_b' || i, 'T1', '收银台', 'bench-token-' || i, 'active', 0, now()
                 FROM generate_series(0, %(agents)s - 1) AS i""",
            {"agents": agents},
        )
        connection.execute(
            """INSERT INTO ledger_accounts (kind, owner_id, balance, allow_negative, created_at)
               SELECT 'member_points', 'mem_b' || i, 0, false, now() FROM generate_series(0, %(members)s - 1) AS i""",
            {"members": members},
        )
        connection.execute(
            """INSERT INTO members (id, display_name, phone_ciphertext, phone_hash, phone_masked, level_id,
                                    level_since, status, recruited_by_agent_id, points_account_id, created_at)
               SELECT 'mem_b' || i, '会员 ' || i, '\\x00'::bytea, 'bench-' || i, '139****0000', %(level)s, now(),
                      'active', CASE WHEN i %% 5 = 0 THEN NULL ELSE 'agt_b' || (i %% %(agents)s) END, a.id, now()
                 FROM generate_series(0, %(members)s - 1) AS i
                 JOIN ledger_accounts a ON a.kind = 'member_points' AND a.owner_id = 'mem_b' || i""",
            {"level": member_level, "members": members, "agents": agents},
        )
        connection.execute(
            """INSERT INTO cards (id, card_no, kind, status, member_id, key_version, counter, counter_unconfirmed,
                                  level_rank, created_at)
               SELECT 'crd_b' || i, '8' || lpad(i::text, 15, '0'), 'physical', 'active', 'mem_b' || i,
                      1, 0, false, 0, now()
                 FROM generate_series(0, %(members)s - 1) AS i""",
            {"members": members},
        )
        connection.execute(
            """INSERT INTO sales (id, merchant_id, terminal_id, member_id, card_id, level_id, method, receipt_no,
                                  amount_fen, discount_bp, discount_fen, redeem_points, redeem_value_fen,
                                  payable_fen, points_earned, refunded_fen, points_reversed, points_restored,
                                  offline, payment_method, occurred_at, created_at, servicing_agent_id,
                                  recruiting_agent_id)
               SELECT 'sal_b' || i, 'mer_b' || (i %% %(agents)s), 'trm_b' || (i %% %(agents)s),
                      'mem_b' || x.member, 'crd_b' || x.member, %(level)s,
                      'card', 'B-' || i, x.amount, 10000, 0, 0, 0, x.amount, x.amount / 100,
                      CASE WHEN i %% 100 = 0 THEN x.amount / 2 ELSE 0 END, 0, 0, false, 'cash', x.ts, x.ts,
                      'agt_b' || (i %% %(agents)s),
                      CASE WHEN x.member %% 5 = 0 THEN NULL ELSE 'agt_b' || (x.member %% %(agents)s) END
                 FROM generate_series(0::bigint, %(sales)s - 1) AS i
                 CROSS JOIN LATERAL (SELECT 1000 + (i * 7919) %% 50000 AS amount, (i * 7) %% %(members)s AS member,
                                            %(start)s + make_interval(secs => (i * %(spread)s)::float8) AS ts) x""",
            {
                "agents": agents,
                "members": members,
                "level": member_level,
                "sales": sales,
                "start": start,
                "spread": (end - start).total_seconds() / sales,
            },
        )
        for table in ("agents", "merchants", "members", "cards", "sales"):
            connection.execute(f"ANALYZE {table}")


def time_limit(url: str, parameters: dict) -> tuple[float, list]:
    """The plain SQL aggregations of the same figures, fetched to the client."""
    with psycopg.connect(url) as connection:
        began = time.perf_counter()
        rows = [connection.execute(sql, parameters).fetchall() for sql in LIMIT_SQL]
        connection.commit()
        return time.perf_counter() - began, rows


def time_evaluation(app) -> tuple[float, dict]:
    """``evaluate_agents`` for the month, its transaction and commit included."""
    from sqlalchemy import text

    from server.extensions import db
    from server.services.agent_evaluation import evaluate_agents

    with app.app_context():
        db.session.execute(text("SELECT 1"))  # a pooled connection is ready, as in a running server
        db.session.commit()
        began = time.perf_counter()
        summary = evaluate_agents(ACTOR, PERIOD, now=NOW)
        elapsed = time.perf_counter() - began
        db.session.remove()
    return elapsed, summary


def reset(url: str) -> None:
    with psycopg.connect(url) as connection:
        connection.execute("DELETE FROM agent_evaluations")
        connection.execute("DELETE FROM agent_alerts")
        connection.execute("UPDATE agents SET level_id = (SELECT id FROM agent_levels ORDER BY rank LIMIT 1)")


def check(url: str, agents: int, parameters: dict) -> list[str]:
    """One record per agent; the recorded serviced consumption against an independent sum."""
    problems = []
    with psycopg.connect(url) as connection:
        records, recorded = connection.execute(
            "SELECT count(DISTINCT agent_id), sum((figures->>'serviced_gmv_fen')::bigint) FROM agent_evaluations"
            " WHERE period = %s",
            (PERIOD,),
        ).fetchone()
        total = connection.execute(
            "SELECT sum(payable_fen + redeem_value_fen - refunded_fen) FROM sales"
            " WHERE occurred_at >= %(start)s AND occurred_at < %(end)s",
            parameters,
        ).fetchone()[0]
    if records != agents:
        problems.append(f"{records} agents have a record, not {agents}")
    if int(recorded or 0) != int(total or 0):
        problems.append(f"recorded serviced consumption {recorded} differs from the sales' {total}")
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
        seed(app)
        from datetime import timedelta

        from server.services.agent_evaluation import TREND_DAYS, period_of

        period = period_of(PERIOD, "Asia/Shanghai")
        middle = period.end - timedelta(days=TREND_DAYS)
        parameters = {
            "start": period.start,
            "end": period.end,
            "offset": period.utc_offset_seconds,
            "middle": middle,
            "trend_start": middle - timedelta(days=TREND_DAYS),
        }
        seeded = time.monotonic()
        fill(libpq_url, args.agents, args.members, args.sales, period.start, period.end)
        filled = time.monotonic()
        print(
            f"prepared {args.database} in {seeded - began:.1f} s (migrations, regions, services); "
            f"{args.agents:,} agents, {args.members:,} members and {args.sales:,} sales "
            f"by INSERT ... SELECT in {filled - seeded:.1f} s",
            flush=True,
        )
        checkpoint(base)
        time_limit(libpq_url, parameters)  # warm the cache once for both
        limits, evaluations, summary = [], [], {}
        for run in range(args.repeat):
            limit, _ = time_limit(libpq_url, parameters)
            limits.append(limit)
            if run:
                reset(libpq_url)
            elapsed, summary = time_evaluation(app)
            evaluations.append(elapsed)
        problems = check(libpq_url, args.agents, parameters)
        with app.app_context():
            from server.extensions import db

            db.engine.dispose()
    finally:
        if not args.keep:
            drop_database(base, args.database)
    limit, evaluation = statistics.median(limits), statistics.median(evaluations)
    ratio = evaluation / limit
    print()
    print(
        f"== agent evaluation on PostgreSQL {settings.get('server_version', '?')} "
        f"(fsync {settings.get('fsync')}, shared_buffers {settings.get('shared_buffers')})"
    )
    print(f"agents {args.agents:,}   members {args.members:,}   sales in {PERIOD} {args.sales:,}")
    print(f"last run: {summary}")
    runs = ", ".join(f"{t:.3f}" for t in evaluations)
    print(f"evaluate_agents (median of {args.repeat})  {evaluation:8.3f} s   runs: {runs}")
    print(f"plain SQL aggregation (limit)    {limit:8.3f} s   runs: {', '.join(f'{t:.3f}' for t in limits)}")
    print(f"ratio evaluation / limit         {ratio:8.2f}")
    print(f"target <= {TARGET_RATIO:.0f} x the limit: {'MET' if ratio <= TARGET_RATIO else 'NOT MET'}")
    print(f"target <= {TARGET_SECONDS:.0f} s: {'MET' if evaluation <= TARGET_SECONDS else 'NOT MET'}")
    for problem in problems:
        print(f"PROBLEM: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
