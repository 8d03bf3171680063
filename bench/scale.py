"""What a second app host buys: sales/s and CPU per sale with 1 and with 2 app instances, same PostgreSQL.

    python -m bench.scale [--duration 15] [--clients 8] [--workers 1] [--threads 4] [--smoke]

1. recreates ``alliance_scale``, migrates and seeds it as bench/checkout.py does (levels, merchants, a
   terminal per client, members with cards and points);
2. starts one gunicorn instance (``--workers`` × ``--threads``) and lets ``--clients`` client processes sell
   for ``--duration`` seconds (bench/checkout.py's clients: the one-request sale, identify + sale for the
   10 % that redeem points), metering the CPU of gunicorn and of PostgreSQL's backends (Linux /proc);
3. the same with two instances on two ports (the clients split between them: what nginx does; both start
   at once at the beginning, the second idles through the first window), the
   same database and server, in the same run;
4. checks the database (a sale per 201, the ledger balanced) and prints, for each, sales/s, app and
   database CPU per sale, and the capacity figure docs/deployment.md's table is made from: cores of app
   and of database per 100 sales/s; then the ratio of the two runs' sales/s against a target of 1.6
   (a second host should buy most of a first one when the app, not the database, is the limit);
5. grows the points ledger in SQL to each of ``--ledger-rows`` (default 1,000,000 and 50,000,000 entries in
   the monthly partitions, over 24 past months: bench/_grow.py ``grow_ledger``), VACUUMs and ANALYZEs it,
   and times the sales of ``--latency-clients`` clients through one instance at each size: p50 and p99 of
   the sale request, against a target of the largest size's p50 within 20 % of the smallest's (issue 20:
   a sale's cost flat as the ledger grows).

On a machine with fewer cores than the processes want, the second instance shares the same cores and the
ratio says so: the CPU per sale is the figure to plan hosts with. Exit 1 only when the run failed (over
1 % errors or an inconsistent database).
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._postgres import (  # noqa: E402
    DEFAULT_SERVER_URL,
    checkpoint,
    database_url,
    drop_database,
    recreate_database,
    server_url,
)
from bench.checkout import (  # noqa: E402
    MAX_ERROR_SHARE,
    check_database,
    default_rate_limit_storage,
    drive_sales,
    free_port,
    launch_gunicorn,
    make_app,
    migrate,
    percentile,
    seed,
    stop_gunicorn,
    wait_for_api,
)

TARGET_RATIO = 1.6  # sales/s with two instances over one
LIMIT_RATIO = 1.0  # below this a second instance bought nothing
TARGET_GROWTH = 1.2  # p50 sale latency at the largest ledger over the smallest
LIMIT_GROWTH = 2.0  # beyond this the sale's cost grows with the data


@dataclass
class Run:
    """One measured window: how many instances, sales and errors, and the cores each group used."""

    instances: int
    seconds: float
    sales: int
    sales_total: int
    errors: int
    attempts: int
    cores: dict[str, float]
    error_samples: list[str]
    latencies: list[float]

    @property
    def per_second(self) -> float:
        return self.sales / self.seconds if self.seconds else 0.0

    def ms_per_sale(self, group: str) -> float:
        return self.cores.get(group, 0.0) / self.per_second * 1000 if self.per_second else 0.0


def drive(ports: list[int], server_pids: set[int], seeded, args, instances: int) -> Run:
    """The clients (one process each, spread over ``ports``) sell for the warm-up and the measured window."""
    collected, cores = drive_sales(ports, server_pids, seeded, args)
    samples = [sample for result in collected for sample in result.error_samples][:5]
    return Run(
        instances,
        args.duration,
        sum(result.sales for result in collected),
        sum(result.sales_total for result in collected),
        sum(result.errors_total for result in collected),
        sum(result.attempts_total for result in collected),
        cores,
        samples,
        [value for result in collected for value in result.sale_latencies],
    )


def measure(app_url: str, secret_key: str, seeded, args) -> list[Run]:
    """Start two gunicorn instances on the database (at once: they load the program side by side), drive the
    clients against the first alone (the second idles), then against both; stop them."""
    servers, ports = [], []
    with tempfile.TemporaryDirectory(prefix="alliance-scale-") as instance_dir:
        try:
            for number in range(2):
                directory = Path(instance_dir) / f"app{number + 1}"
                directory.mkdir()
                ports.append(free_port())
                servers.append(launch_gunicorn(app_url, secret_key, str(directory), ports[-1], args))
            for server, port in zip(servers, ports, strict=True):
                wait_for_api(server, port)
            runs = []
            for instances in (1, 2):
                checkpoint(server_url(args.database_url))
                print(
                    f"{instances} instance(s): {args.clients} clients for {args.warmup} + {args.duration} s", flush=True
                )
                pids = {server.pid for server in servers[:instances]}
                runs.append(drive(ports[:instances], pids, seeded, args, instances))
            return runs
        finally:
            for server in servers:
                stop_gunicorn(server)


def latency_by_ledger_size(app_url: str, secret_key: str, seeded, args) -> list[tuple[int, Run]]:
    """Grow the ledger to each of ``--ledger-rows`` and time the sales of ``--latency-clients`` clients through
    one instance at each size (the load is kept below saturation: latency, not queueing, is measured)."""
    from sqlalchemy import create_engine, text

    from bench._grow import grow_ledger, grown_ledger_entries

    engine = create_engine(app_url)
    measured = []
    try:
        for size in args.ledger_rows:
            started = time.monotonic()
            with engine.begin() as connection:
                added = grow_ledger(connection, size, progress=lambda line: print(line, flush=True))
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.execute(text("VACUUM ANALYZE ledger_entries"))
                connection.execute(text("VACUUM ANALYZE ledger_transactions"))
                held = grown_ledger_entries(connection)
            print(f"ledger grown by {added:,} to {held:,} entries in {time.monotonic() - started:.0f} s", flush=True)
            checkpoint(server_url(args.database_url))
            with tempfile.TemporaryDirectory(prefix="alliance-scale-") as instance_dir:
                port = free_port()
                server = launch_gunicorn(app_url, secret_key, instance_dir, port, args)
                try:
                    wait_for_api(server, port)
                    clients = argparse.Namespace(**{**vars(args), "clients": args.latency_clients})
                    print(f"{held:,} ledger entries: {clients.clients} clients for {args.warmup} + {args.duration} s")
                    measured.append((held, drive([port], {server.pid}, seeded, clients, 1)))
                finally:
                    stop_gunicorn(server)
    finally:
        engine.dispose()
    return measured


def report_latency(measured: list[tuple[int, Run]]) -> bool:
    """Print the sale latency at each ledger size and the growth verdict; False when the runs failed."""
    if not measured:
        return True
    ms = 1000
    print("== sale latency as the ledger grows (one instance)")
    print("ledger entries  sales/s  p50 ms  p99 ms  db ms CPU/sale  errors")
    ok = True
    for held, run in measured:
        print(
            f"{held:>14,}  {run.per_second:7.1f}  {percentile(run.latencies, 0.5) * ms:6.1f}  "
            f"{percentile(run.latencies, 0.99) * ms:6.1f}  {run.ms_per_sale('postgres'):14.2f}  "
            f"{run.errors}/{run.attempts}"
        )
        ok = ok and not (run.attempts and run.errors / run.attempts > MAX_ERROR_SHARE)
    first, last = percentile(measured[0][1].latencies, 0.5), percentile(measured[-1][1].latencies, 0.5)
    if len(measured) > 1 and first:
        growth = last / first
        verdict = "PASS" if growth <= TARGET_GROWTH else ("MISS" if growth <= LIMIT_GROWTH else "FAIL")
        print(
            f"p50 at {measured[-1][0]:,} / at {measured[0][0]:,} entries: {growth:.2f} "
            f"(target <= {TARGET_GROWTH}, limit {LIMIT_GROWTH}) {verdict}"
        )
    return ok


def report(runs: list[Run], problems: list[str]) -> int:
    cores_note = f"(cores of this machine: {os.cpu_count()})"
    print(f"== sales through 1 and 2 app instances, the same PostgreSQL {cores_note}")
    print("instances  sales/s  app ms CPU/sale  db ms CPU/sale  app cores/100 sales/s  db cores/100 sales/s  errors")
    failed = False
    for run in runs:
        app_ms, db_ms = run.ms_per_sale("gunicorn"), run.ms_per_sale("postgres")
        print(
            f"{run.instances:>9}  {run.per_second:7.1f}  {app_ms:15.2f}  {db_ms:14.2f}  "
            f"{app_ms / 10:21.2f}  {db_ms / 10:20.2f}  {run.errors}/{run.attempts}"
        )
        others = ", ".join(f"{name} {value:.2f}" for name, value in sorted(run.cores.items()))
        print(f"           cores used: {others}")
        if run.attempts and run.errors / run.attempts > MAX_ERROR_SHARE:
            failed = True
            print("           too many errors: " + " | ".join(run.error_samples))
    if len(runs) == 2 and runs[0].per_second:
        ratio = runs[1].per_second / runs[0].per_second
        verdict = "PASS" if ratio >= TARGET_RATIO else ("MISS" if ratio >= LIMIT_RATIO else "FAIL")
        print(f"two instances / one: {ratio:.2f} (target >= {TARGET_RATIO}, limit {LIMIT_RATIO}) {verdict}")
    for problem in problems:
        print(f"DATABASE PROBLEM: {problem}")
    return 1 if failed or problems else 0


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=15, help="measured seconds per configuration")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of sales before measuring starts")
    parser.add_argument("--clients", type=int, default=8, help="concurrent client processes")
    parser.add_argument("--workers", type=int, default=1, help="gunicorn worker processes per instance")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument("--merchants", type=int, default=4)
    parser.add_argument("--members", type=int, default=500, help="members made through the services")
    parser.add_argument("--redeem-share", type=float, default=0.1, help="share of sales that redeem points")
    parser.add_argument("--rate-limit-storage", default=None, help="RATELIMIT_STORAGE_URI (default: Redis if up)")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_SERVER_URL),
        help="the PostgreSQL server (its database part is only used for CREATE/DROP DATABASE)",
    )
    parser.add_argument(
        "--ledger-rows",
        default="1000000,50000000",
        help="ledger sizes (entries, comma-separated, ascending) to time sales at; empty to skip",
    )
    parser.add_argument("--latency-clients", type=int, default=4, help="clients while timing sales per ledger size")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database afterwards")
    parser.add_argument("--smoke", action="store_true", help="a few seconds at tiny sizes (CI: does it still run?)")
    args = parser.parse_args(argv)
    args.app_database, args.worker_class = "alliance_scale", "gthread"
    if args.smoke:
        args.duration, args.warmup, args.clients, args.threads, args.members, args.merchants = 2, 0, 2, 2, 20, 2
        args.app_database += f"_smoke_{os.getpid()}"
        args.ledger_rows, args.latency_clients = "2000,8000", 2
    args.ledger_rows = [int(size) for size in args.ledger_rows.split(",") if size.strip()]
    if args.ledger_rows != sorted(args.ledger_rows):
        parser.error("--ledger-rows must be ascending")
    if args.clients < 2 or args.duration < 1 or args.workers < 1 or args.threads < 1:
        parser.error("--clients must be at least 2 (one per instance); --duration, --workers, --threads at least 1")
    if args.rate_limit_storage is None:
        args.rate_limit_storage = default_rate_limit_storage()
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    base = server_url(args.database_url)
    app_url = database_url(base, args.app_database)
    secret_key = secrets.token_urlsafe(32)
    try:
        recreate_database(base, args.app_database)
        app = make_app(app_url, secret_key)
        migrate(app)
        seeded = seed(app, args.clients, args.merchants, args.members)
        with app.app_context():
            from server.extensions import db

            db.engine.dispose()
        runs = measure(app_url, secret_key, seeded, args)
        measured = latency_by_ledger_size(app_url, secret_key, seeded, args)
        problems = check_database(app_url, sum(run.sales_total for run in runs + [run for _, run in measured]))
    finally:
        if not args.keep:
            drop_database(base, args.app_database)
    status = report(runs, problems)
    return status if report_latency(measured) else 1


if __name__ == "__main__":
    sys.exit(main())
