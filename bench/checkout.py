"""Checkout throughput: sales through the HTTP API under gunicorn on PostgreSQL, against pgbench.

    python -m bench.checkout [--duration 20] [--clients 8] [--members 1000] [--show-sql] [--smoke]

1. recreates ``alliance_bench``, migrates it (Alembic, as in production) and seeds an alliance through
   the services: the demo levels, a few merchants, one terminal per client, members with cards and points;
   with ``--members`` above ``--seed-members``, grows it in SQL to that many members (bench/_grow.py);
2. counts the SQL statements and database round trips of one identify and one sale, in-process, and
   times the stages of in-process sales (auth, decode, price, write, encode; bench/_stages.py);
3. starts ``gunicorn 'server:create_app()'`` (its workers count their statements and round trips per
   request path: bench/_gunicorn_counters.py; the identify rate limit raised through RATE_LIMITS) and
   lets each client process (one keep-alive connection, its own terminal token) loop for --duration:
   ``POST /sales`` with the card number and a fresh Idempotency-Key (one request), or, for the 10 % that
   redeem points, ``POST /identify`` then ``POST /sales`` with its token (``--two-requests``: every sale);
   meanwhile it meters the CPU of gunicorn, the PostgreSQL backends, the clients and the rest of the
   machine (Linux /proc); then, on the same workers, it meters what a request costs gunicorn before any
   sale work (``GET /healthz``, and a sale refused at validation: authenticated and parsed);
4. checks the database afterwards (one sale per 201, ledger balanced, no negative member balance), then
   runs pgbench's built-in TPC-B-like script on the same server with as many clients, and prints every
   figure against issue 14's targets (PASS/MISS): sales/s / pgbench tps >= 0.15, gunicorn CPU <= 2 ms
   and PostgreSQL CPU <= 1.3 ms per sale (its identify included, where there is one).

Exit status 1 only when the run itself failed (more than 1 % errors, or an inconsistent database).
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import random
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._grow import grow  # noqa: E402
from bench._gunicorn_counters import PROBE_HEADER  # noqa: E402
from bench._postgres import (  # noqa: E402
    DEFAULT_SERVER_URL,
    checkpoint,
    database_url,
    drop_database,
    pgbench_init,
    pgbench_run,
    recreate_database,
    server_settings,
    server_url,
)
from bench._stages import ORDER as STAGE_ORDER  # noqa: E402
from bench._stages import StageProfile  # noqa: E402

PROJECT_ROOT = Path(__file__).resolve().parent.parent
APP_DATABASE = "alliance_bench"
PGBENCH_DATABASE = "alliance_pgbench"
# issue 14's targets: sales/s against pgbench's tps on the same server, CPU per sale (identify + sale)
TARGET_RATIO = 0.15
TARGET_APP_CPU_MS = 2.0
TARGET_POSTGRES_CPU_MS = 1.3
SEED_MEMBERS = 1000  # members made through the services; --members beyond this are grown in SQL
MAX_ERROR_SHARE = 0.01
SEED_ACTOR = "system:bench"
OPENING_POINTS = 1_000_000
MIN_AMOUNT_FEN, MAX_AMOUNT_FEN = 1_000, 50_000
MAX_REDEEM_POINTS = 100  # below every seeded merchant's cap on the smallest bill


# --------------------------------------------------------------------------------------------- set-up


@dataclass
class Seeded:
    """What the clients need: one terminal token per client and the members' card numbers."""

    terminal_tokens: list[str]
    card_numbers: list[str]


def make_app(url: str, secret_key: str):
    """The application on the benchmark database, configured as gunicorn's will be."""
    from server import create_app

    return create_app(SQLALCHEMY_DATABASE_URI=url, SECRET_KEY=secret_key)


def migrate(app) -> None:
    """Bring the empty database to the newest schema with the project's Alembic migrations."""
    import logging

    from flask_migrate import upgrade

    with app.app_context():
        upgrade(directory=str(PROJECT_ROOT / "migrations"))
    logging.getLogger("alembic").setLevel(logging.WARNING)


def seed(app, clients: int, merchant_count: int, member_count: int) -> Seeded:
    """Levels, merchants, a terminal per client and members with bound cards and points, via the services."""
    from server.extensions import db
    from server.services import catalog, members
    from server.services.alliance import ensure_alliance
    from server.services.demo import DEMO_LEVELS, DEMO_MERCHANTS
    from server.services.unit_of_work import transaction

    with app.app_context():
        with transaction():  # one commit for the whole set-up: the services' transactions join it
            # spending points needs the member's proof by default (a chip card or a dynamic member code); the
            # clients identify by card number, so the benchmark's alliance lets any identification spend
            ensure_alliance().spend_requires_proof = False
            levels = {spec["code"]: catalog.create_level(SEED_ACTOR, **spec) for spec in DEMO_LEVELS}
            merchants = []
            for index in range(merchant_count):
                spec = dict(DEMO_MERCHANTS[index % len(DEMO_MERCHANTS)])
                discounts = spec.pop("discounts")
                spec["name"] = f"{spec['name']} {index + 1}"
                merchant = catalog.create_merchant(SEED_ACTOR, **spec)
                for code, discount_bp in discounts.items():
                    catalog.set_level_discount(SEED_ACTOR, merchant.id, levels[code].id, discount_bp)
                merchants.append(merchant)
            tokens = [
                catalog.create_terminal(SEED_ACTOR, merchants[index % merchant_count].id, f"收银台 {index + 1}").token
                for index in range(clients)
            ]
            cards = members.create_cards(SEED_ACTOR, member_count)
            for index, card in enumerate(cards):
                member = members.register_member(SEED_ACTOR, f"139{index:08d}", f"会员{index:05d}")
                members.bind_card(SEED_ACTOR, member.id, card.card_no)
                members.adjust_points(SEED_ACTOR, member.id, OPENING_POINTS, "benchmark opening balance")
            card_numbers = [card.card_no for card in cards]
        db.session.remove()
    return Seeded(tokens, card_numbers)


# ------------------------------------------------------------------------------ statements per sale


TRANSACTION_COMMANDS = ("BEGIN", "COMMIT", "ROLLBACK")


@dataclass
class Trace:
    """What psycopg sent while active, in order: SQL statements and protocol commands (BEGIN/COMMIT), and
    how many round trips they took (a statement or command queued in a pipeline waits for its sync)."""

    sent: list[str] = field(default_factory=list)
    statements: int = 0
    round_trips: int = 0
    active: bool = False

    def reset(self) -> None:
        """Forget what was seen and start tracing."""
        self.sent.clear()
        self.statements = self.round_trips = 0
        self.active = True

    def statement(self, text: str, pipelined: bool) -> None:
        if text.strip().upper() in TRANSACTION_COMMANDS:  # a COMMIT sent as a query (server/hot_sql.py)
            self.command(text.strip(), pipelined)
        elif self.active:
            self.sent.append(f"{text}  -- pipelined" if pipelined else text)
            self.statements += 1
            self.round_trips += not pipelined

    def command(self, text: str, pipelined: bool) -> None:
        if self.active:
            self.sent.append(f"[{text}]  -- pipelined" if pipelined else f"[{text}]")
            self.round_trips += not pipelined

    def sync(self) -> None:
        if self.active:
            self.sent.append("[pipeline sync: one round trip for the statements above marked pipelined]")
            self.round_trips += 1


def _install_trace(trace: Trace) -> None:
    """Record every statement psycopg sends (pool pre-pings too), its BEGIN/COMMIT/ROLLBACK commands and its
    pipeline syncs (what was queued in pipeline mode goes in the sync's one round trip)."""
    import psycopg

    execute, executemany = psycopg.Cursor.execute, psycopg.Cursor.executemany
    command = psycopg.Connection._exec_command
    pipeline_exit, pipeline_sync = psycopg.Pipeline.__exit__, psycopg.Pipeline.sync

    def traced_execute(self, query, *args, **kwargs):
        try:
            return execute(self, query, *args, **kwargs)
        finally:  # recorded after any BEGIN psycopg sent first
            trace.statement(query if isinstance(query, str) else str(query), self._conn._pipeline is not None)

    def traced_executemany(self, query, params_seq, *args, **kwargs):
        try:
            return executemany(self, query, params_seq, *args, **kwargs)
        finally:
            trace.statement(f"{query}  -- executemany", True)  # psycopg pipelines it: the sync is its round trip

    def traced_command(self, cmd, *args, **kwargs):
        trace.command(cmd.decode() if isinstance(cmd, bytes) else str(cmd), self._pipeline is not None)
        return command(self, cmd, *args, **kwargs)

    def traced_exit(self, *args):
        trace.sync()
        return pipeline_exit(self, *args)

    def traced_sync(self):
        trace.sync()
        return pipeline_sync(self)

    psycopg.Cursor.execute = traced_execute
    psycopg.Cursor.executemany = traced_executemany
    psycopg.Connection._exec_command = traced_command
    psycopg.Pipeline.__exit__ = traced_exit
    psycopg.Pipeline.sync = traced_sync


@dataclass(frozen=True)
class StatementCount:
    """SQL statements and database round trips (statements + BEGIN/COMMIT) of one request of each kind."""

    identify: tuple[int, int]
    sale: tuple[int, int]
    redeeming_sale: tuple[int, int]
    sale_sql: list[str]
    one_request_sale: tuple[int, int] = (0, 0)  # the card number sent with the sale, no identify


def count_statements(app, token: str, card_numbers: list[str]) -> StatementCount:
    """Run identify + sale in-process (earning only, then redeeming) and count what each sends to PostgreSQL."""
    trace = Trace()
    _install_trace(trace)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    seen: dict[str, tuple[int, int]] = {}
    sale_sql: list[str] = []
    for index, redeem in enumerate((0, 0, 10)):  # the first pair warms caches and is not counted
        trace.reset()
        found = client.post("/api/v1/identify", json={"code": card_numbers[index]}, headers=headers)
        trace.active = False
        seen["identify"] = (trace.statements, trace.round_trips)
        if found.status_code != 200:
            raise RuntimeError(f"identify failed in-process: {found.status_code} {found.get_data(as_text=True)}")
        trace.reset()
        sold = client.post(
            "/api/v1/sales",
            json={
                "identification_token": found.json["identification"]["token"],
                "amount_fen": 12_345,
                "redeem_points": redeem,
            },
            headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
        )
        trace.active = False
        if sold.status_code != 201:
            raise RuntimeError(f"sale failed in-process: {sold.status_code} {sold.get_data(as_text=True)}")
        seen["redeeming_sale" if redeem else "sale"] = (trace.statements, trace.round_trips)
        if index == 1:
            sale_sql = list(trace.sent)
    for index in (3, 4):  # the one-request sale: the card number goes with it; the first warms up
        trace.reset()
        sold = client.post(
            "/api/v1/sales",
            json={"code": card_numbers[index % len(card_numbers)], "amount_fen": 12_345, "redeem_points": 0},
            headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
        )
        trace.active = False
        if sold.status_code != 201:
            raise RuntimeError(f"sale failed in-process: {sold.status_code} {sold.get_data(as_text=True)}")
        seen["one_request_sale"] = (trace.statements, trace.round_trips)
    return StatementCount(seen["identify"], seen["sale"], seen["redeeming_sale"], sale_sql, seen["one_request_sale"])


def profile_stages(app, token: str, card_numbers: list[str], sales: int, two_requests: bool = False) -> StageProfile:
    """Run ``sales`` earning sales in-process with the request stages timed: one request each (the card
    number sent with the sale), or with ``two_requests`` an identify then a sale with its token."""
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    with StageProfile(app) as profile:
        for index in range(sales):
            card_no = card_numbers[(3 + index) % len(card_numbers)]
            if two_requests:
                found = client.post("/api/v1/identify", json={"code": card_no}, headers=headers)
                sale = {"identification_token": found.json["identification"]["token"], "amount_fen": 12_345}
            else:
                sale = {"code": card_no, "amount_fen": 12_345}
            sold = client.post("/api/v1/sales", json=sale, headers={**headers, "Idempotency-Key": uuid.uuid4().hex})
            if sold.status_code != 201:
                raise RuntimeError(f"sale failed in-process: {sold.status_code} {sold.get_data(as_text=True)}")
    return profile


# ---------------------------------------------------------------------------------------- server


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_gunicorn(url: str, secret_key: str, instance_dir: str, port: int, args) -> subprocess.Popen:
    """``gunicorn 'server:create_app()'`` on the benchmark database; returns once the API answers."""
    return wait_for_api(launch_gunicorn(url, secret_key, instance_dir, port, args), port)


def launch_gunicorn(url: str, secret_key: str, instance_dir: str, port: int, args) -> subprocess.Popen:
    """Start ``gunicorn 'server:create_app()'`` on the benchmark database (``wait_for_api`` waits for it)."""
    executable = shutil.which("gunicorn")
    command = [executable] if executable else [sys.executable, "-m", "gunicorn"]
    command += [
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(args.workers),
        "--worker-class",
        args.worker_class,
        "--threads",
        str(args.threads),
        "--keep-alive",
        "75",
        "--timeout",
        "120",
        "--log-level",
        "warning",
        "--config",
        str(PROJECT_ROOT / "bench" / "_gunicorn_counters.py"),  # SQL statements per request, per worker
        "server:create_app()",
    ]
    counts_dir = Path(instance_dir) / "sql-counts"
    counts_dir.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SECRET_KEY": secret_key,
        "ALLIANCE_INSTANCE_DIR": instance_dir,
        "ALLIANCE_ENV": "development",
        # the per-terminal identify limit (120/minute) is far below what one benchmark client asks for; the
        # limiter still counts every identify, against a limit the run cannot reach
        "RATE_LIMITS": f"identify:terminal={IDENTIFY_LIMIT}",
        "RATELIMIT_STORAGE_URI": args.rate_limit_storage,
        "BENCH_SQL_COUNTS_DIR": str(counts_dir),
    }
    log = open(Path(instance_dir) / "gunicorn.log", "w+")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    process.log = log
    return process


def wait_for_api(process: subprocess.Popen, port: int) -> subprocess.Popen:
    """``process`` once its API answers on ``port`` (stopped, and an error, after 60 s or if it exits)."""
    log = process.log
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"gunicorn exited with {process.returncode}:\n{log.read()}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/api/v1/openapi.json")
            if connection.getresponse().status == 200:
                connection.close()
                return process
        except OSError:
            pass
        time.sleep(0.2)
    stop_gunicorn(process)
    raise RuntimeError("gunicorn did not answer GET /api/v1/openapi.json within 60 s")


def stop_gunicorn(process: subprocess.Popen) -> str:
    """Stop gunicorn gracefully (TERM, then KILL) and return what it logged."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    process.log.seek(0)
    text = process.log.read()
    process.log.close()
    return text


IDENTIFY_LIMIT = "100000/minute"


@dataclass(frozen=True)
class ServerCounts:
    """What the gunicorn workers counted (bench/_gunicorn_counters.py): requests, statements, round trips."""

    counts: Counter

    @classmethod
    def read(cls, instance_dir: str) -> ServerCounts:
        counts: Counter = Counter()
        for path in (Path(instance_dir) / "sql-counts").glob("*.json"):
            counts.update(json.loads(path.read_text()))
        return cls(counts)

    def per_request(self, path: str, kind: str) -> float | None:
        requests = self.counts.get(f"{path}|requests", 0)
        return self.counts.get(f"{path}|{kind}", 0) / requests if requests else None

    def requests(self, path: str) -> int:
        return self.counts.get(f"{path}|requests", 0)


def default_rate_limit_storage() -> str:
    """Redis when one answers on 127.0.0.1:6379 (shared by the workers), else the app's default memory storage."""
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5) as probe:
            probe.sendall(b"PING\r\n")
            if probe.recv(16).startswith(b"+PONG"):
                return "redis://127.0.0.1:6379/0"
    except OSError:
        pass
    return "memory-swept://"


# ------------------------------------------------------------------------------------- CPU meter

PG_BACKGROUND = ("checkpointer", "walwriter", "background writer", "autovacuum", "logical replication", "walsender")


@dataclass(frozen=True)
class CpuSnapshot:
    """The machine's busy and total CPU ticks and every process's (parent, ticks, command line), from /proc."""

    at: float
    busy: int
    processes: dict[int, tuple[int, int, str]]


def cpu_snapshot() -> CpuSnapshot | None:
    """Now, or None where there is no Linux /proc."""
    try:
        ticks = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    except (OSError, ValueError):
        return None
    processes = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
            command = Path(entry.path, "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        processes[int(entry.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]), command)
    idle = ticks[3] + ticks[4]  # idle + iowait
    return CpuSnapshot(time.monotonic(), sum(ticks) - idle, processes)


def cpu_cores(before: CpuSnapshot | None, after: CpuSnapshot | None, classify) -> dict[str, float]:
    """CPU used between two snapshots, in cores, per group ``classify(pid, ppid, command)`` names;
    ``others`` is what the rest of the machine used."""
    if before is None or after is None or after.at <= before.at:
        return {}
    scale = 1 / os.sysconf("SC_CLK_TCK") / (after.at - before.at)
    cores: Counter = Counter()
    for pid, (ppid, ticks, command) in after.processes.items():
        group = classify(pid, ppid, command)
        if group:
            cores[group] += (ticks - before.processes.get(pid, (0, 0, ""))[1]) * scale
    cores["others"] = max(0.0, (after.busy - before.busy) * scale - sum(cores.values()))
    return dict(cores)


def postgres_group(command: str, database: str) -> str | None:
    """``postgres`` for a backend serving ``database``, ``postgres background`` for the shared processes."""
    if not command.startswith("postgres:"):
        return None
    if f" {database} " in command:
        return "postgres"
    return "postgres background" if any(name in command for name in PG_BACKGROUND) else None


# --------------------------------------------------------------------------------------- clients


@dataclass
class ClientResult:
    """One client's counts and latencies (seconds) inside the measured window."""

    sales: int = 0
    sales_total: int = 0
    attempts_total: int = 0
    errors_total: int = 0
    sale_latencies: list[float] = field(default_factory=list)
    pair_latencies: list[float] = field(default_factory=list)
    error_samples: list[str] = field(default_factory=list)


def _post(connection: http.client.HTTPConnection, path: str, body: dict, headers: dict) -> tuple[int, bytes]:
    connection.request("POST", path, body=json.dumps(body), headers=headers)
    response = connection.getresponse()
    return response.status, response.read()


def run_client(
    index: int,
    port: int,
    token: str,
    card_numbers: list[str],
    redeem_share: float,
    start_at: float,
    measure_from: float,
    end_at: float,
    two_requests: bool,
    results,
) -> None:
    """Sell until ``end_at`` (time.monotonic); count and time what completes in [measure_from, end_at)."""
    rng = random.Random(1000 + index)
    result = ClientResult()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def error(text: str) -> None:
        result.errors_total += 1
        if len(result.error_samples) < 5:
            result.error_samples.append(text[:300])

    time.sleep(max(0.0, start_at - time.monotonic()))
    while time.monotonic() < end_at:
        result.attempts_total += 1
        amount = rng.randint(MIN_AMOUNT_FEN, MAX_AMOUNT_FEN)
        redeem = rng.randint(1, MAX_REDEEM_POINTS) if rng.random() < redeem_share else 0
        try:
            started = time.perf_counter()
            if redeem or two_requests:  # the cashier sees the member first to choose the points: identify, then sell
                status, body = _post(connection, "/api/v1/identify", {"code": rng.choice(card_numbers)}, headers)
                if status != 200:
                    error(f"identify {status}: {body.decode(errors='replace')}")
                    continue
                sale = {
                    "identification_token": json.loads(body)["identification"]["token"],
                    "amount_fen": amount,
                    "redeem_points": redeem,
                }
            else:  # the common sale: the scanned card number goes with the sale (one request)
                sale = {"code": rng.choice(card_numbers), "amount_fen": amount, "redeem_points": 0}
            sale_started = time.perf_counter()
            status, body = _post(connection, "/api/v1/sales", sale, {**headers, "Idempotency-Key": uuid.uuid4().hex})
            finished = time.perf_counter()
        except (OSError, http.client.HTTPException, ValueError, KeyError) as exc:
            error(f"{exc.__class__.__name__}: {exc}")
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            continue
        if status != 201:
            error(f"sale {status}: {body.decode(errors='replace')}")
            continue
        result.sales_total += 1
        if measure_from <= time.monotonic() < end_at:
            result.sales += 1
            result.sale_latencies.append(finished - sale_started)
            result.pair_latencies.append(finished - started)
    connection.close()
    results.put(result)


def run_metered(target, client_args: list[tuple], measure_from: float, end_at: float, classify):
    """Fork a client process per ``client_args`` running ``target(*args, results)``; meter the CPU from
    ``measure_from`` to about ``end_at`` by ``classify(pid, ppid, command, client_pids)``. Returns what the
    clients put in ``results`` and the cores used per group."""
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    processes = [context.Process(target=target, args=(*args, results), daemon=True) for args in client_args]
    for process in processes:
        process.start()
    clients = {process.pid for process in processes}
    time.sleep(max(0.0, measure_from - time.monotonic()))
    before = cpu_snapshot()
    time.sleep(max(0.0, end_at - time.monotonic() - 0.05))
    cores = cpu_cores(before, cpu_snapshot(), lambda pid, ppid, command: classify(pid, ppid, command, clients))
    collected = [results.get(timeout=max(0.0, end_at - time.monotonic()) + 120) for _ in processes]
    for process in processes:
        process.join(timeout=10)
    return collected, cores


def drive_sales(
    ports: list[int], server_pids: set[int], seeded: Seeded, args, two_requests: bool = False
) -> tuple[list[ClientResult], dict[str, float]]:
    """Run the client processes (fork; spread over the servers' ``ports``) for the warm-up plus the measured
    duration; return their results and the CPU (cores) gunicorn, PostgreSQL, the clients and the rest used
    in the measured window."""
    start_at = time.monotonic() + 1.0
    measure_from = start_at + args.warmup
    end_at = measure_from + args.duration
    client_args = [
        (
            index,
            ports[index % len(ports)],
            seeded.terminal_tokens[index],
            seeded.card_numbers,
            args.redeem_share,
            start_at,
            measure_from,
            end_at,
            two_requests,
        )
        for index in range(args.clients)
    ]

    def classify(pid: int, ppid: int, command: str, clients: set[int]) -> str | None:
        if pid in server_pids or ppid in server_pids:
            return "gunicorn"
        return "clients" if pid in clients else postgres_group(command, args.app_database)

    return run_metered(run_client, client_args, measure_from, end_at, classify)


# What a request costs the workers before any sale work: the same gunicorn, the same clients, each probe for
# PROBE_SECONDS after PROBE_WARMUP. (label, method, path, body, the status it must answer)
REQUEST_LAYER_PROBES = (
    ("GET /healthz", "GET", "/healthz", None, 200),
    # authenticated (the settings' version read), parsed and refused before the view: the error answer
    ("a sale refused at validation", "POST", "/api/v1/sales", {"code": "0", "amount_fen": -1}, 422),
)
PROBE_WARMUP, PROBE_SECONDS = 0.5, 3.0


def run_probe(port: int, token: str, probe: tuple, measure_from: float, end_at: float, results) -> None:
    """Send one probe's request in a loop until ``end_at``; count those answered in [measure_from, end_at) and
    those answered otherwise than it must be (a lost connection included)."""
    _, method, path, body, status = probe
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json", PROBE_HEADER: "1"}
    payload = None if body is None else json.dumps(body)
    answered = unexpected = 0
    while time.monotonic() < end_at:
        try:
            connection.request(method, path, body=payload, headers={**headers, "Idempotency-Key": uuid.uuid4().hex})
            response = connection.getresponse()
            response.read()
            answer = response.status
        except (OSError, http.client.HTTPException):
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            answer = None
        if measure_from <= time.monotonic() < end_at:
            answered += 1
            unexpected += answer != status
    connection.close()
    results.put((answered, unexpected))


def probe_request_layer(port: int, server_pid: int, seeded: Seeded, args) -> dict[str, tuple[float, int]]:
    """Per probe: gunicorn's CPU per request (ms) and how many answers were not the expected status."""

    def classify(pid: int, ppid: int, command: str, clients: set[int]) -> str | None:
        return "gunicorn" if server_pid in (pid, ppid) else None

    measured = {}
    for probe in REQUEST_LAYER_PROBES:
        measure_from = time.monotonic() + PROBE_WARMUP
        end_at = measure_from + args.probe_seconds
        client_args = [
            (port, seeded.terminal_tokens[index], probe, measure_from, end_at) for index in range(args.clients)
        ]
        counted, cores = run_metered(run_probe, client_args, measure_from, end_at, classify)
        answered, unexpected = (sum(values) for values in zip(*counted, strict=True))
        if cores and answered:  # cores / requests per second, as the sales' CPU per sale
            measured[probe[0]] = (cores["gunicorn"] / (answered / args.probe_seconds) * 1000.0, unexpected)
    return measured


def measure_pgbench_cpu(duration: int, database: str):
    """A ``during`` hook for pgbench_run: the CPU used while pgbench is past its connection set-up."""

    def during(process: subprocess.Popen) -> dict[str, float]:
        def classify(pid: int, ppid: int, command: str) -> str | None:
            return "pgbench" if pid == process.pid else postgres_group(command, database)

        settle = min(1.0, duration / 4)
        time.sleep(settle)
        before = cpu_snapshot()
        time.sleep(max(0.1, duration - 2 * settle))
        return cpu_cores(before, cpu_snapshot(), classify)

    return during


# ---------------------------------------------------------------------------------------- report


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile of ``values`` (0 when empty)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered) + 0.5) - 1))]


def check_database(url: str, expected_sales: int) -> list[str]:
    """Problems found in the database after the run: lost or doubled sales, an unbalanced ledger."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as connection:
        sales = connection.execute(text("SELECT count(*) FROM sales")).scalar_one()
        grown = connection.execute(text("SELECT count(*) FROM sales WHERE id LIKE 'sal\\_.%'")).scalar_one()
        keys = connection.execute(text("SELECT count(*) FROM idempotency_records")).scalar_one()
        entries = connection.execute(text("SELECT coalesce(sum(amount), 0) FROM ledger_entries")).scalar_one()
        balances = connection.execute(text("SELECT coalesce(sum(balance), 0) FROM ledger_accounts")).scalar_one()
        negative = connection.execute(
            text("SELECT count(*) FROM ledger_accounts WHERE NOT allow_negative AND balance < 0")
        ).scalar_one()
        drift = connection.execute(
            text(
                "SELECT count(*) FROM ledger_accounts a LEFT JOIN (SELECT account_id, sum(amount) AS total "
                "FROM ledger_entries GROUP BY account_id) e ON e.account_id = a.id "
                "WHERE a.balance <> coalesce(e.total, 0)"
            )
        ).scalar_one()
    engine.dispose()
    problems = []
    if sales != expected_sales:
        problems.append(f"{sales} sales in the database, {expected_sales} answered 201")
    if keys != sales - grown:
        problems.append(f"{keys} idempotency records for {sales - grown} sales (and {grown} grown in SQL)")
    if entries != 0 or balances != 0:
        problems.append(f"ledger unbalanced: entries sum {entries}, balances sum {balances}")
    if negative or drift:
        problems.append(f"{negative} member accounts negative, {drift} cached balances differ from entries")
    return problems


def cpu_line(cores: dict[str, float], per_second: float, unit: str) -> str:
    """``gunicorn 1.40 cores (10.2 ms per sale)  postgres 0.40 (2.9 ms) ...`` for the report."""
    parts = []
    for group in ("gunicorn", "postgres", "pgbench", "clients", "postgres background", "others"):
        if group in cores:
            per = (
                f" = {cores[group] / per_second * 1000:.2f} ms per {unit}"
                if per_second and group in ("gunicorn", "postgres")
                else ""
            )
            parts.append(f"{group} {cores[group]:.2f}{per}")
    return "; ".join(parts) + f"  (cores of {os.cpu_count()})"


def verdict(met: bool) -> str:
    return "PASS" if met else "MISS"


@dataclass
class Measured:
    """Everything one run measured, for the report."""

    settings: dict
    statements: StatementCount
    stages: StageProfile
    server_counts: ServerCounts
    results: list[ClientResult]
    problems: list[str]
    sales_cpu: dict[str, float]
    request_layer: dict[str, tuple[float, int]]
    pgbench: object = None
    pgbench_cpu: dict[str, float] = field(default_factory=dict)


def _stage_lines(stages: StageProfile) -> list[str]:
    lines = [f"{'':24}" + "".join(f"{stage:>8}" for stage in (*STAGE_ORDER, "total"))]
    for path, label in (("/api/v1/identify", "identify"), ("/api/v1/sales", "sale")):
        if not stages.requests[path]:
            continue
        for wall in (False, True):
            figures = stages.per_request_ms(path, wall=wall)
            kind = "wall" if wall else "CPU"
            lines.append(
                f"  {label:9} {kind:4} ms    "
                + "".join(f"{figures[stage]:8.2f}" for stage in STAGE_ORDER)
                + f"{sum(figures.values()):8.2f}"
            )
    if stages.missing:
        lines.append(f"  (not timed, its functions are no longer in the code: {'; '.join(stages.missing)})")
    return lines


def _per_sale(counts, kind: str) -> float:
    """What reached PostgreSQL per sale, identifies included (only the redeeming sales identify first)."""
    paths = ("/api/v1/identify", "/api/v1/sales")
    total = sum((counts.per_request(path, kind) or 0.0) * counts.requests(path) for path in paths)
    return total / max(1, counts.requests("/api/v1/sales"))


def report(args, measured: Measured) -> int:
    """Print the figures; return the exit status."""
    results, statements, pgbench = measured.results, measured.statements, measured.pgbench
    sales_cpu, pgbench_cpu, problems = measured.sales_cpu, measured.pgbench_cpu, measured.problems
    settings, counts = measured.settings, measured.server_counts
    sale_latencies = [value for result in results for value in result.sale_latencies]
    pair_latencies = [value for result in results for value in result.pair_latencies]
    sales = sum(result.sales for result in results)
    attempts = sum(result.attempts_total for result in results)
    errors = sum(result.errors_total for result in results)
    sales_per_s = sales / args.duration
    ratio = sales_per_s / pgbench.tps if pgbench and pgbench.tps else 0.0
    ms = 1000.0

    print()
    print("== checkout benchmark ==")
    print(
        f"machine        {os.cpu_count()} CPUs; PostgreSQL {settings.get('server_version')} fsync="
        f"{settings.get('fsync')} synchronous_commit={settings.get('synchronous_commit')}"
    )
    print(
        f"server         gunicorn {args.workers} workers x {args.threads} threads ({args.worker_class}); "
        f"rate-limit storage {args.rate_limit_storage}, identify limit {IDENTIFY_LIMIT} per terminal"
    )
    print(
        f"load           {args.clients} clients, {args.duration} s measured after {args.warmup} s warm-up, "
        f"{args.members} members ({min(args.members, args.seed_members)} with cards the clients use), "
        f"{args.merchants} merchants, {args.redeem_share:.0%} of sales redeem points"
    )
    print(
        f"SQL in-process identify {statements.identify[0]} statements / {statements.identify[1]} round trips; "
        f"sale {statements.sale[0]} / {statements.sale[1]} (redeeming points {statements.redeeming_sale[0]} / "
        f"{statements.redeeming_sale[1]}); one-request sale {statements.one_request_sale[0]} / "
        f"{statements.one_request_sale[1]}; round trips count BEGIN/COMMIT and pool pre-pings"
    )
    if args.show_sql:
        for line in statements.sale_sql:
            print("    " + " ".join(line.split())[:160])
    per = {
        (label, kind): counts.per_request(path, kind)
        for path, label in (("/api/v1/identify", "identify"), ("/api/v1/sales", "sale"))
        for kind in ("statements", "round_trips")
    }
    if all(value is not None for value in per.values()):
        print(
            f"SQL in gunicorn identify {per['identify', 'statements']:.2f} / {per['identify', 'round_trips']:.2f}; "
            f"sale {per['sale', 'statements']:.2f} / {per['sale', 'round_trips']:.2f}; per sale (its identify "
            f"included, if any) {_per_sale(counts, 'statements'):.2f} statements / "
            f"{_per_sale(counts, 'round_trips'):.2f} round trips  (mean over "
            f"{counts.requests('/api/v1/identify')} + {counts.requests('/api/v1/sales')} requests, warm-up included)"
        )
    else:
        print("SQL in gunicorn not counted (no worker wrote its counts)")
    kind = "identify + sale pairs" if args.two_requests else "one-request sales (no identify)"
    print(f"stages of one sale, in-process over {args.profile_sales} {kind} (ms per request):")
    for line in _stage_lines(measured.stages):
        print(line)
    print(f"sales/s        {sales_per_s:8.1f}   ({sales} sales answered 201 in the measured {args.duration} s)")
    print(
        f"sale latency   p50 {percentile(sale_latencies, 0.50) * ms:6.1f} ms   "
        f"p99 {percentile(sale_latencies, 0.99) * ms:6.1f} ms   (POST /sales round trip)"
    )
    print(
        f"whole sale     p50 {percentile(pair_latencies, 0.50) * ms:6.1f} ms   "
        f"p99 {percentile(pair_latencies, 0.99) * ms:6.1f} ms"
    )
    if sales_cpu:
        print(f"CPU, sales     {cpu_line(sales_cpu, sales_per_s, 'sale')}")
    if measured.request_layer:
        figures = ", ".join(
            f"{label} {cpu_ms:.2f} ms" + (f" ({unexpected} other answers)" if unexpected else "")
            for label, (cpu_ms, unexpected) in measured.request_layer.items()
        )
        print(
            f"request layer  gunicorn CPU per request before any sale work: {figures}  "
            f"({args.clients} clients, {args.probe_seconds:g} s each, after the sales)"
        )
    print(f"errors         {errors} of {attempts} attempts ({errors / attempts if attempts else 0:.2%})")
    for sample in sorted({sample for result in results for sample in result.error_samples})[:10]:
        print(f"    {sample}")
    if pgbench:
        latency = f", latency {pgbench.latency_ms:.2f} ms" if pgbench.latency_ms is not None else ""
        print(
            f"pgbench tps    {pgbench.tps:8.1f}   (TPC-B-like, scale {args.pgbench_scale}, {args.clients} clients"
            f"{latency})"
        )
        if pgbench_cpu:
            print(f"CPU, pgbench   {cpu_line(pgbench_cpu, pgbench.tps, 'transaction')}")
    else:
        print("pgbench        skipped (--skip-pgbench)")

    print("== against issue 14's targets (a sale = its requests: identify + sale, or the one-request sale)")
    if pgbench:
        print(
            f"ratio          {ratio:8.3f}   sales/s / pgbench tps      target >= {TARGET_RATIO}   "
            f"{verdict(ratio >= TARGET_RATIO)}"
        )
    else:
        print(f"ratio               n/a   (--skip-pgbench)          target >= {TARGET_RATIO}")
    if sales_cpu and sales_per_s:
        app_ms = sales_cpu.get("gunicorn", 0.0) / sales_per_s * ms
        pg_ms = sales_cpu.get("postgres", 0.0) / sales_per_s * ms
        print(
            f"app CPU        {app_ms:8.2f} ms per sale (gunicorn)   target <= {TARGET_APP_CPU_MS} ms  "
            f"{verdict(app_ms <= TARGET_APP_CPU_MS)}"
        )
        print(
            f"PostgreSQL CPU {pg_ms:8.2f} ms per sale (backends)   target <= {TARGET_POSTGRES_CPU_MS} ms  "
            f"{verdict(pg_ms <= TARGET_POSTGRES_CPU_MS)}"
        )
    else:
        print("CPU per sale        n/a   (no /proc, or no sale in the measured window)")
    print(f"database check {'OK' if not problems else 'FAILED'}")
    for problem in problems:
        print(f"    {problem}")
    if problems or not attempts or errors > MAX_ERROR_SHARE * attempts:
        print(f"run FAILED: {'database inconsistent' if problems else f'errors above {MAX_ERROR_SHARE:.0%}'}")
        return 1
    return 0


# ------------------------------------------------------------------------------------------ main


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=20, help="measured seconds, for the sales and for pgbench")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of sales before measuring starts")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (also pgbench -c)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=2, help="threads per gunicorn worker")
    parser.add_argument("--worker-class", default="gthread", help="gunicorn worker class")
    parser.add_argument("--merchants", type=int, default=4, help="merchants; terminals are spread over them")
    parser.add_argument(
        "--members",
        type=int,
        default=SEED_MEMBERS,
        help="members in the database: up to --seed-members through the services (with cards and points, the "
        "ones the clients sell to), the rest grown in SQL (generate_series) with a past of sales, spent lots and "
        "expired identifications each",
    )
    parser.add_argument("--seed-members", type=int, default=SEED_MEMBERS, help="members made through the services")
    parser.add_argument("--grown-sales", type=int, default=4, help="past sales of each member grown in SQL")
    parser.add_argument("--redeem-share", type=float, default=0.1, help="share of sales that redeem points")
    parser.add_argument(
        "--two-requests",
        action="store_true",
        help="identify before every sale (as before the one-request sale); by default only redeeming sales do",
    )
    parser.add_argument("--pgbench-scale", type=int, default=10, help="pgbench -i -s")
    parser.add_argument("--pgbench-threads", type=int, default=2, help="pgbench -j")
    parser.add_argument("--profile-sales", type=int, default=50, help="in-process sales timed stage by stage")
    parser.add_argument(
        "--probe-seconds",
        type=float,
        default=PROBE_SECONDS,
        help="measured seconds of each request-layer probe (GET /healthz; a sale refused at validation)",
    )
    parser.add_argument(
        "--rate-limit-storage",
        default=None,
        help="RATELIMIT_STORAGE_URI for gunicorn (default: redis://127.0.0.1:6379/0 if Redis answers, else "
        "memory-swept://)",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_SERVER_URL),
        help="the PostgreSQL server (its database part is only used for CREATE/DROP DATABASE)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the benchmark databases afterwards")
    parser.add_argument("--skip-pgbench", action="store_true", help="measure the sales only")
    parser.add_argument("--show-sql", action="store_true", help="print the statements of one sale")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="a few seconds at tiny sizes (CI: does the benchmark still run?), databases with a unique name",
    )
    args = parser.parse_args(argv)
    args.app_database, args.pgbench_database = "alliance_bench", "alliance_pgbench"
    if args.smoke:
        args.duration, args.warmup, args.clients, args.workers, args.threads = 2, 0, 2, 1, 2
        args.members, args.seed_members, args.merchants, args.grown_sales = 60, 20, 2, 2
        args.pgbench_scale, args.profile_sales, args.probe_seconds = 1, 3, 0.5
        suffix = f"_smoke_{os.getpid()}"
        args.app_database, args.pgbench_database = args.app_database + suffix, args.pgbench_database + suffix
    if args.clients < 1 or args.duration < 1 or args.workers < 1 or args.threads < 1:
        parser.error("--clients, --duration, --workers and --threads must be at least 1")
    if args.members < 1 or args.merchants < 1 or args.seed_members < 1:
        parser.error("--members, --seed-members and --merchants must be at least 1")
    if args.rate_limit_storage is None:
        args.rate_limit_storage = default_rate_limit_storage()
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    base = server_url(args.database_url)
    app_url = database_url(base, args.app_database)
    secret_key = secrets.token_urlsafe(32)
    settings = server_settings(base)
    pgbench, pgbench_cpu = None, {}
    with tempfile.TemporaryDirectory(prefix="alliance-bench-") as instance_dir:
        try:
            started = time.monotonic()
            recreate_database(base, args.app_database)
            app = make_app(app_url, secret_key)
            migrate(app)
            seeded = seed(app, args.clients, args.merchants, min(args.members, args.seed_members))
            if args.members > args.seed_members:
                grow_started = time.monotonic()
                with app.app_context():
                    from server.extensions import db

                    with db.engine.begin() as connection:
                        added = grow(connection, args.members, sales_each=args.grown_sales)
                    db.engine.dispose()
                print(
                    f"grew {args.app_database} by {added} members in SQL in {time.monotonic() - grow_started:.1f} s",
                    flush=True,
                )
            statements = count_statements(app, seeded.terminal_tokens[0], seeded.card_numbers)
            stages = profile_stages(
                app, seeded.terminal_tokens[0], seeded.card_numbers, args.profile_sales, args.two_requests
            )
            with app.app_context():
                from sqlalchemy import text

                from server.extensions import db

                in_process_sales = db.session.execute(text("SELECT count(*) FROM sales")).scalar_one()
                db.session.remove()
                db.engine.dispose()
            print(f"prepared {args.app_database} in {time.monotonic() - started:.1f} s; starting gunicorn", flush=True)

            checkpoint(base)
            port = free_port()
            server = start_gunicorn(app_url, secret_key, instance_dir, port, args)
            try:
                print(f"driving sales: {args.clients} clients for {args.warmup} + {args.duration} s", flush=True)
                results, sales_cpu = drive_sales([port], {server.pid}, seeded, args, args.two_requests)
                request_layer = probe_request_layer(port, server.pid, seeded, args)
            finally:
                log = stop_gunicorn(server)
            said = [line for line in log.strip().splitlines() if not line.startswith("SMS to ")]  # the log sender
            if said:
                print("gunicorn said:\n" + "\n".join(said[-20:]))
            server_counts = ServerCounts.read(instance_dir)
            problems = check_database(app_url, in_process_sales + sum(r.sales_total for r in results))

            if not args.skip_pgbench:
                print(
                    f"pgbench: loading scale {args.pgbench_scale}, then {args.clients} clients for {args.duration} s",
                    flush=True,
                )
                recreate_database(base, args.pgbench_database)
                pgbench_init(base, args.pgbench_database, args.pgbench_scale)
                checkpoint(base)
                pgbench, pgbench_cpu = pgbench_run(
                    base,
                    args.pgbench_database,
                    args.clients,
                    args.pgbench_threads,
                    args.duration,
                    during=measure_pgbench_cpu(args.duration, args.pgbench_database),
                )
        finally:
            if not args.keep:
                drop_database(base, args.app_database)
                drop_database(base, args.pgbench_database)
    measured = Measured(
        settings, statements, stages, server_counts, results, problems, sales_cpu, request_layer, pgbench, pgbench_cpu
    )
    return report(args, measured)


if __name__ == "__main__":
    sys.exit(main())
